import { readFileSync } from 'node:fs';
import { connect, enqueueJobs } from '../cluster/connect.js';
import { DynworkError } from '../errors.js';
import { print, printJson } from './ui.js';

export async function enqueueCommand(data: string[], o: { iterations: number; file?: string; cluster: string; json: boolean }): Promise<void> {
  const items = [...data];
  if (o.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.file === '-' ? 0 : o.file, 'utf8');
    } catch (err) {
      throw new DynworkError('usage', `cannot read ${o.file === '-' ? 'standard input' : o.file}: ${(err as Error).message}`);
    }
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    items.push(...lines.map((l) => l.replace(/\r$/, '')));
  }
  if (items.length === 0) {
    throw new DynworkError('usage', 'nothing to enqueue: give DATA arguments or --file', { hint: 'dynwork enqueue --iterations 10 Hello' });
  }
  const c = connect(o.cluster);
  try {
    const ids = await enqueueJobs(c, items.map((d) => ({ data: d, iterations: o.iterations })));
    if (o.json) printJson({ ids });
    else for (const id of ids) print(String(id));
  } finally {
    await c.close();
  }
}

import { createReadStream } from 'node:fs';
import { connect } from '../cluster/connect.js';
import { enqueueParts } from '../cluster/enqueue-parts.js';
import { toParts } from '../cluster/job-parts.js';
import { readLines } from '../cluster/line-source.js';
import { DynworkError } from '../errors.js';
import { limitsSchema } from '../runtime/config.js';
import type { NewJob } from '../runtime/protocol.js';
import { print, printJson } from './ui.js';

/** What the managers accept (deploy gives them the default limits). */
const LIMITS = limitsSchema.parse({});

export async function enqueueCommand(data: string[], o: { iterations: number; file?: string; cluster: string; json: boolean }): Promise<void> {
  if (data.length === 0 && o.file === undefined) throw nothingToEnqueue();
  // The file is streamed: parts are read as they are sent, so its size does not matter.
  const parts = toParts(jobs(data, o.file, o.iterations), LIMITS.maxBatch, Math.floor(LIMITS.maxBodyBytes / 2));
  const label = (i: number): string => (i < data.length ? `argument ${i + 1}` : `line ${i - data.length + 1}${o.file === '-' ? ' of standard input' : ` of ${o.file}`}`);
  const c = connect(o.cluster);
  try {
    const ids = await enqueueParts(c, parts, label);
    if (ids.length === 0) throw nothingToEnqueue();
    if (o.json) printJson({ ids });
    else print(ids.join('\n'));
  } finally {
    await c.close();
  }
}

function nothingToEnqueue(): DynworkError {
  return new DynworkError('usage', 'nothing to enqueue: give DATA arguments or --file', { hint: 'dynwork enqueue --iterations 10 Hello' });
}

async function* jobs(data: string[], file: string | undefined, iterations: number): AsyncGenerator<NewJob> {
  for (const d of data) yield { data: d, iterations };
  if (file === undefined) return;
  const stream = file === '-' ? process.stdin : createReadStream(file);
  for await (const line of readLines(stream, LIMITS.maxDataBytes, file === '-' ? 'standard input' : file)) yield { data: line, iterations };
}

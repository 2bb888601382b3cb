import { connect, pullResults } from '../cluster/connect.js';
import { DynworkError } from '../errors.js';
import type { PulledJob } from '../runtime/protocol.js';
import { cliProgress, print, printJson } from './ui.js';

export async function pullCommand(o: { top: number; wait: boolean; timeout?: number; cluster: string; json: boolean }): Promise<void> {
  const c = connect(o.cluster);
  const got: PulledJob[] = [];
  const emit = (jobs: PulledJob[]): void => {
    got.push(...jobs);
    // Results are handed out once: print them as they arrive, so an interrupted wait loses none.
    if (!o.json) for (const j of jobs) print(`${j.id} ${j.result}`);
  };
  try {
    emit(await pullResults(c, o.top));
    if (o.wait && got.length < o.top) {
      const deadline = Date.now() + (o.timeout ?? 300) * 1000;
      const step = cliProgress(o.json).step(`Waiting for results (${got.length}/${o.top})`);
      while (got.length < o.top) {
        if (Date.now() >= deadline) {
          step.fail(`Timed out with ${got.length}/${o.top} results`);
          if (o.json) printJson(got);
          throw new DynworkError('timeout', `only ${got.length} of ${o.top} results arrived within ${o.timeout ?? 300} s`, {
            hint: `see progress with: dynwork status${o.cluster === 'default' ? '' : ` --cluster ${o.cluster}`}`,
          });
        }
        // A long-poll: answered as soon as results arrive at the manager, else
        // after 2 s (when results held by its peers are looked for again).
        const waitMs = Math.max(1, Math.min(2000, deadline - Date.now()));
        emit(await pullResults(c, o.top - got.length, waitMs));
        step.update(`Waiting for results (${got.length}/${o.top})`);
      }
      step.succeed(`Pulled ${got.length} results`);
    }
    if (o.json) printJson(got);
  } finally {
    await c.close();
  }
}

import { createReadStream, ReadStream, statSync } from 'node:fs';
import { connect } from '../cluster/connect.js';
import { enqueueParts } from '../cluster/enqueue-parts.js';
import { toParts } from '../cluster/job-parts.js';
import { readLines } from '../cluster/line-source.js';
import { DynworkError } from '../errors.js';
import { limitsSchema } from '../settings/limits.js';
import type { NewJob } from '../protocol/index.js';
import type { Step } from '../cluster/progress.js';
import { cliProgress, print, printJson, progressBar, RateMeter } from './ui.js';

/** What the managers accept (deploy gives them the default limits). */
const LIMITS = limitsSchema.parse({});

export async function enqueueCommand(data: string[], o: { iterations: number; file?: string; cluster: string; json: boolean }): Promise<void> {
  if (data.length === 0 && o.file === undefined) throw nothingToEnqueue();
  // The file is streamed: parts are read as they are sent, so its size does not matter.
  const input = o.file === undefined ? undefined : o.file === '-' ? process.stdin : createReadStream(o.file);
  const parts = toParts(jobs(data, input, o.file, o.iterations), LIMITS.maxBatch, Math.floor(LIMITS.maxBodyBytes / 2));
  const label = (i: number): string => (i < data.length ? `argument ${i + 1}` : `line ${i - data.length + 1}${o.file === '-' ? ' of standard input' : ` of ${o.file}`}`);
  const c = connect(o.cluster);
  try {
    const progress = o.json || input === undefined ? undefined : fileProgress(input);
    let ids: number[];
    try {
      ids = await enqueueParts(c, parts, label, progress?.sent);
    } catch (err) {
      progress?.step.fail('Nothing was enqueued');
      throw err;
    }
    progress?.step.succeed(`Enqueued ${ids.length} jobs`);
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

async function* jobs(data: string[], stream: NodeJS.ReadableStream | undefined, file: string | undefined, iterations: number): AsyncGenerator<NewJob> {
  for (const d of data) yield { data: d, iterations };
  if (stream === undefined || file === undefined) return;
  for await (const line of readLines(stream, LIMITS.maxDataBytes, file === '-' ? 'standard input' : file)) yield { data: line, iterations };
}

/**
 * On a terminal, a file's upload shows a bar (by bytes read, when the file's
 * size is known), the count, the rate and the time left; elsewhere nothing
 * until the ids.
 */
function fileProgress(input: NodeJS.ReadableStream): { step: Step; sent: (jobs: number) => void } | undefined {
  if (!process.stderr.isTTY || !process.stderr.columns) return undefined;
  const step = cliProgress(false).step('Sending jobs');
  const size = input instanceof ReadStream ? fileSize(input.path) : null;
  const started = Date.now();
  const rate = new RateMeter(0);
  return {
    step,
    sent: (n) => {
      rate.add(n);
      const f = size && input instanceof ReadStream ? Math.min(1, input.bytesRead / size) : null;
      const elapsed = (Date.now() - started) / 1000;
      const left = f && f > 0 ? (elapsed * (1 - f)) / f : null;
      const speed = rate.perSecond();
      step.update(
        `Sending jobs ${f === null ? '' : `${progressBar(Math.round(f * 1000), 1000)} `}${n.toLocaleString('en')} sent` +
          `${speed > 0 ? `, ${Math.round(speed).toLocaleString('en')}/s` : ''}${left === null ? '' : `, about ${Math.ceil(left)} s left`} (enqueued all at once at the end)`,
      );
    },
  };
}

function fileSize(path: string | Buffer): number | null {
  try {
    const st = statSync(path);
    return st.isFile() && st.size > 0 ? st.size : null;
  } catch {
    return null;
  }
}

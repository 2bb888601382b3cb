import ora from 'ora';
import type { Progress } from '../cluster/progress.js';
import { silentProgress } from '../cluster/progress.js';

/** Spinners on stderr (so stdout stays clean for ids, results and --json); none in --json mode. */
export function cliProgress(json: boolean): Progress {
  if (json) return silentProgress;
  return {
    step(text) {
      const s = ora({ text, stream: process.stderr }).start();
      return {
        update: (t) => void (s.text = t),
        succeed: (t) => void s.succeed(t),
        fail: (t) => void s.fail(t),
      };
    },
    info: (text) => void process.stderr.write(`${text}\n`),
  };
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function print(line = ''): void {
  process.stdout.write(line + '\n');
}

/** Writes to stdout and resolves once the OS has it; rejects on a closed pipe (EPIPE) instead of crashing. */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
  });
}

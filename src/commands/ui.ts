import ora from 'ora';
import { DynworkError } from '../errors.js';
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

/** Parses a whole-number option, with a one-line error naming it. */
export function intOption(name: string, min: number, max: number) {
  return (raw: string): number => {
    if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new DynworkError('usage', `${name} must be an integer from ${min} to ${max}, got "${raw}"`, { hint: `see dynwork --help` });
    }
    return Number(raw);
  };
}

/** Parses a seconds option (fractions allowed). */
export function secondsOption(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(raw) || !(n > 0)) {
      throw new DynworkError('usage', `${name} must be a positive number of seconds, got "${raw}"`, { hint: 'see dynwork --help' });
    }
    return n;
  };
}

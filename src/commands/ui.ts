import type { Progress } from '../cluster/progress.js';
import { silentProgress } from '../cluster/progress.js';

/**
 * Colour on a stream: forced by FORCE_COLOR (not "0"), refused by NO_COLOR
 * (any non-empty value, per no-color.org), else only on a terminal.
 */
export function useColor(stream: NodeJS.WriteStream = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  if (env.NO_COLOR) return false;
  return stream.isTTY === true;
}

const paint = (on: boolean, code: number, text: string): string => (on ? `\x1b[${code}m${text}\x1b[39m` : text);

/**
 * Long steps on stderr (stdout stays clean for ids, results and --json): a
 * spinner on a terminal; elsewhere (a pipe, a file, CI) one plain line per
 * step when it ends, with no frames, cursor or colour codes. None with --json.
 */
export function cliProgress(json: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (json) return silentProgress;
  const color = useColor(stream);
  const ok = paint(color, 32, '✔');
  const bad = paint(color, 31, '✖');
  // A terminal that reports no width (some ptys) cannot be redrawn: ora would clear lines without end.
  if (!stream.isTTY || !stream.columns) {
    return {
      step(text) {
        let last = text;
        return {
          update: (t) => void (last = t),
          succeed: (t) => void stream.write(`${ok} ${t ?? last}\n`),
          fail: (t) => void stream.write(`${bad} ${t ?? last}\n`),
        };
      },
      info: (text) => void stream.write(`${text}\n`),
    };
  }
  return {
    step(text) {
      // Loaded only on a terminal: scripts and pipes never pay for it.
      const s = spinner(stream, text, color);
      return {
        update: (t) => s.then((x) => void (x.text = t)),
        succeed: (t) => s.then((x) => void x.stopAndPersist({ symbol: ok, ...(t === undefined ? {} : { text: t }) })),
        fail: (t) => s.then((x) => void x.stopAndPersist({ symbol: bad, ...(t === undefined ? {} : { text: t }) })),
      };
    },
    info: (text) => void stream.write(`${text}\n`),
  };
}

type Spinner = { text: string; stopAndPersist(o: { symbol: string; text?: string }): unknown };

function spinner(stream: NodeJS.WriteStream, text: string, color: boolean): Promise<Spinner> {
  return import('ora').then(({ default: ora }) => ora({ text, stream, color: color ? 'cyan' : false, isEnabled: true }).start());
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

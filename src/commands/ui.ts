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
        update: (t) => void s.then((x) => void (x.text = t)),
        succeed: (t) => void s.then((x) => void x.stopAndPersist({ symbol: ok, ...(t === undefined ? {} : { text: t }) })),
        fail: (t) => void s.then((x) => void x.stopAndPersist({ symbol: bad, ...(t === undefined ? {} : { text: t }) })),
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

/** A text bar for a terminal line. */
export function progressBar(done: number, total: number, width = 20): string {
  const full = total > 0 ? Math.min(width, Math.floor((done / total) * width)) : 0;
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

/** Results per second over the last half minute, and the time left at that rate. */
export class RateMeter {
  private readonly points: { at: number; n: number }[] = [];

  constructor(
    n: number,
    private readonly now = Date.now,
  ) {
    this.points.push({ at: this.now(), n });
  }

  add(n: number): void {
    const at = this.now();
    this.points.push({ at, n });
    while (this.points.length > 2 && at - this.points[0]!.at > 30_000) this.points.shift();
  }

  perSecond(): number {
    const first = this.points[0]!;
    const last = this.points[this.points.length - 1]!;
    const s = (last.at - first.at) / 1000;
    return s > 0 ? (last.n - first.n) / s : 0;
  }

  describe(left: number): string {
    const r = this.perSecond();
    if (r <= 0) return 'waiting';
    const eta = left / r;
    return `${r.toFixed(1)}/s, about ${eta < 90 ? `${Math.ceil(eta)} s` : `${Math.ceil(eta / 60)} min`} left`;
  }
}

import { closeSync, openSync, readSync, fstatSync } from 'node:fs';

/** Most of a log read to find why a process stopped: its last lines are what matter. */
const TAIL_BYTES = 64 * 1024;

/**
 * Why a process that wrote `file` from `offset` on stopped, in its own words:
 * the CLI's fatal "dynwork: …" line (and its hint), else its last error log
 * record, else its last line. Null when it wrote nothing.
 */
export function whyItStopped(file: string, offset: number): { message: string; hint?: string } | null {
  let text: string;
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const from = Math.max(offset, size - TAIL_BYTES);
      const buf = Buffer.alloc(Math.max(0, size - from));
      readSync(fd, buf, 0, buf.length, from);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const fatal = lines.findLastIndex((l) => l.startsWith('dynwork: '));
  if (fatal >= 0) {
    const hint = lines[fatal + 1]?.startsWith('hint: ') ? lines[fatal + 1]!.slice('hint: '.length) : undefined;
    return { message: lines[fatal]!.slice('dynwork: '.length), ...(hint ? { hint } : {}) };
  }
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const rec = JSON.parse(lines[i]!) as { level?: string; msg?: string; err?: { message?: string } };
      if (rec.level === 'error') return { message: [rec.msg, rec.err?.message].filter(Boolean).join(': ') };
    } catch {
      // not a log record
    }
  }
  const last = lines.at(-1);
  return last ? { message: last.slice(0, 500) } : null;
}

import { openSync, readdirSync, readSync, closeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';

/** One log line of a cluster process, parsed. */
export interface LogRecord {
  time: number;
  /** Who wrote it: manager-N or the worker's id. */
  source: string;
  role: 'manager' | 'worker' | 'unknown';
  level: string;
  msg: string;
  fields: Record<string, unknown>;
  /** The line as written. */
  raw: string;
}

export interface LogFilter {
  sinceMs?: number;
  role?: 'manager' | 'worker';
  jobId?: number;
}

const OWN = new Set(['time', 'level', 'msg', 'cluster', 'role', 'manager', 'workerId']);

/** Parses one line; a line that is not one of our JSON records (a crash trace) keeps `fallback`'s time and source. */
export function parseLine(raw: string, fallback: { time: number; source: string; role: LogRecord['role'] }): LogRecord {
  let rec: Record<string, unknown> | null = null;
  try {
    const v = JSON.parse(raw) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) rec = v as Record<string, unknown>;
  } catch {
    rec = null;
  }
  const time = rec && typeof rec.time === 'string' ? Date.parse(rec.time) : NaN;
  if (!rec || Number.isNaN(time)) return { time: fallback.time, source: fallback.source, role: fallback.role, level: 'text', msg: raw, fields: {}, raw };
  const role = rec.role === 'manager' || rec.role === 'worker' ? rec.role : fallback.role;
  const source = role === 'manager' && rec.manager !== undefined ? `manager-${text(rec.manager)}` : typeof rec.workerId === 'string' ? rec.workerId : fallback.source;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) if (!OWN.has(k)) fields[k] = v;
  return { time, source, role, level: text(rec.level ?? 'info'), msg: text(rec.msg ?? ''), fields, raw };
}

/** A log field as text: strings as they are, anything else as JSON (never "[object Object]"). */
function text(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}

export function matches(r: LogRecord, f: LogFilter): boolean {
  if (f.sinceMs !== undefined && r.time < f.sinceMs) return false;
  if (f.role && r.role !== f.role) return false;
  if (f.jobId !== undefined) {
    const ids = r.fields.jobIds;
    if (r.fields.jobId !== f.jobId && !(Array.isArray(ids) && ids.includes(f.jobId))) return false;
  }
  return true;
}

/** One line for a person: time, who, level, message, then the other fields as key=value. */
export function formatRecord(r: LogRecord): string {
  const t = new Date(r.time).toISOString().slice(11, 23);
  const kv = Object.entries(r.fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ');
  return `${t}  ${r.source.padEnd(18)} ${r.level.toUpperCase().padEnd(5)} ${r.msg}${kv ? `  ${kv}` : ''}`;
}

/** Time order, stable within one source (lines of one process stay in the order written). */
export function byTime(records: LogRecord[]): LogRecord[] {
  return records
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.time - b.r.time || a.i - b.i)
    .map((x) => x.r);
}

/**
 * The log files of a local cluster (its processes' stderr), read from where
 * `offsets` says each was read up to; offsets move on, so a follower reads
 * only what is new. Only whole lines are taken.
 */
export function readLogDir(dir: string, offsets: Map<string, number>): LogRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.log'));
  } catch {
    return [];
  }
  const out: LogRecord[] = [];
  for (const name of names) {
    const file = join(dir, name);
    const fd = openSync(file, 'r');
    try {
      const from = offsets.get(file) ?? 0;
      const size = fstatSync(fd).size;
      if (size <= from) continue;
      const buf = Buffer.alloc(size - from);
      readSync(fd, buf, 0, buf.length, from);
      const end = buf.lastIndexOf(0x0a);
      if (end < 0) continue;
      offsets.set(file, from + end + 1);
      const role: LogRecord['role'] = name.startsWith('manager-') ? 'manager' : name.startsWith('worker-') ? 'worker' : 'unknown';
      const fallback = { time: 0, source: name.replace(/\.log$/, '').replace(/^(manager-\d+)-.*/, '$1'), role };
      for (const raw of buf.subarray(0, end).toString('utf8').split('\n')) {
        if (raw.trim() === '') continue;
        const rec = parseLine(raw, fallback);
        fallback.time = rec.time;
        out.push(rec);
      }
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

/** `10m`, `90s`, `2h`, `1d`, or an ISO time → epoch ms; null when it is neither. */
export function parseSince(raw: string, now: number): number | null {
  const m = /^([0-9]{1,9})(s|m|h|d)$/.exec(raw);
  if (m) return now - Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(raw);
  return /^\d{4}-\d\d-\d\d/.test(raw) && !Number.isNaN(t) ? t : null;
}

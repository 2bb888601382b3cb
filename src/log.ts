/**
 * Structured logs: one JSON object a line on stderr. Never pass job data,
 * results or tokens in `fields`: the callers log ids and counts only.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(base: Record<string, unknown> = {}, opts: { level?: LogLevel; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] < min) return;
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level, ...base, msg, ...fields };
    if (fields?.err instanceof Error) rec.err = { message: fields.err.message, name: fields.err.name };
    write(JSON.stringify(rec) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (f) => createLogger({ ...base, ...f }, opts),
  };
}

/** A writer for createLogger: stderr, and a copy of each line into `ring`. */
export function teeTo(ring: { push(line: string): void }): (line: string) => void {
  return (line) => {
    process.stderr.write(line);
    ring.push(line);
  };
}

/** A logger that drops everything (library callers that do not want logs). */
export const silentLogger: Logger = createLogger({}, { level: 'error', write: () => undefined });

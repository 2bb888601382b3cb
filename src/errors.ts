/**
 * One error type for the whole tool. `code` is stable (scripts and tests match
 * on it); `hint` tells the user what to do next. The CLI maps these to output
 * and exit codes in one place (bin/dynwork.ts).
 */
export type ErrorCode = 'usage' | 'not_deployed' | 'config_invalid' | 'unreachable' | 'http_error' | 'timeout' | 'provider_error' | 'store_error' | 'conflict' | 'internal';

export class DynworkError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; hint?: string } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DynworkError';
    this.code = code;
    this.hint = opts.hint;
  }
}

/** Exit codes: 0 ok, 1 failure, 2 usage error. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof DynworkError && err.code === 'usage') return EXIT.usage;
  return EXIT.failure;
}

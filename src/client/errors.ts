import { DynworkError } from '../errors.js';

/**
 * The manager answered with a non-2xx status. `message` is the manager's own
 * message from its `{"error": {"code", "message"}}` body; `apiCode` its code.
 */
export class ApiError extends DynworkError {
  readonly status: number;
  readonly apiCode: string;

  constructor(status: number, apiCode: string, message: string, opts: { cause?: unknown; hint?: string } = {}) {
    super('http_error', message, opts);
    this.name = 'ApiError';
    this.status = status;
    this.apiCode = apiCode;
  }
}

/**
 * No answer: code `unreachable` (the connection failed or broke) or `timeout`.
 * `requestMayHaveArrived` is false only when no connection was made at all
 * (refused, unknown host…): then the manager cannot have acted on the call, and
 * a non-idempotent call (enqueue) is safe to send to another manager.
 */
export class TransportError extends DynworkError {
  readonly requestMayHaveArrived: boolean;

  constructor(code: 'unreachable' | 'timeout', message: string, requestMayHaveArrived: boolean, opts: { cause?: unknown; hint?: string } = {}) {
    super(code, message, opts);
    this.name = 'TransportError';
    this.requestMayHaveArrived = requestMayHaveArrived;
  }
}

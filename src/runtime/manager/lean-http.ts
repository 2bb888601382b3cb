import type { IncomingMessage, ServerResponse } from 'node:http';
import { toHttpError } from './app.js';
import type { ManagerContext } from './context.js';
import { HttpError } from './http-error.js';

/**
 * What the routes served beside Express (fast-enqueue.ts, lean-routes.ts)
 * share: answering in the API's JSON shape with the request's metric, and
 * reading a body no larger than a limit.
 */
export interface Answer {
  send: (status: number, body: unknown, headers?: Record<string, string>) => void;
  /** The error's status, code and message; a 5xx is logged. */
  fail: (err: unknown) => void;
}

export function answer(ctx: ManagerContext, res: ServerResponse, method: string, route: string): Answer {
  const start = process.hrtime.bigint();
  const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...(ctx.closing.aborted ? { connection: 'close' } : {}),
    });
    res.end(text);
    ctx.metrics.httpDuration.observe({ method, route, status: String(status) }, Number(process.hrtime.bigint() - start) / 1e9);
  };
  const fail = (err: unknown): void => {
    const e = toHttpError(err);
    if (e.status >= 500) ctx.logger.error('request failed', { method, path: route, code: e.code, err: err as Error });
    send(e.status, { error: { code: e.code, message: e.message } }, e.headers);
  };
  return { send, fail };
}

/**
 * The body, once all of it is in; a body over `limit` bytes is refused with
 * 413 without keeping it: at once when its Content-Length says so (and the
 * connection then closes, since the client may still be sending), else once
 * it has all arrived.
 */
export function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer> {
  const tooBig = () => new HttpError(413, 'body_too_large', `request body is over ${limit} bytes`);
  if (Number(req.headers['content-length'] ?? NaN) > limit) {
    res.setHeader('connection', 'close');
    req.resume();
    return Promise.reject(tooBig());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (size > limit) reject(tooBig());
      else resolve(Buffer.concat(chunks));
    });
  });
}

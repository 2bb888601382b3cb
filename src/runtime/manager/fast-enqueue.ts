import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { parseCountParam } from '../../job/validate.js';
import { toHttpError } from './app.js';
import { createAuth } from './auth.js';
import type { ManagerContext } from './context.js';
import { parseEnqueueBody } from './enqueue-body.js';
import { HttpError } from './http-error.js';

/** The paths Express would route to /enqueue (case-insensitive, an optional trailing slash): all of them come here. */
const ENQUEUE_PATH = /^\/enqueue\/?$/i;

/**
 * `PUT /enqueue`, the one call every job makes, served without Express: its
 * only implementation. Returns false for any other request, which then goes
 * to the Express app.
 */
export function fastEnqueue(ctx: ManagerContext): (req: IncomingMessage, res: ServerResponse) => boolean {
  const auth = createAuth({ client: ctx.config.clientToken, worker: ctx.config.workerToken });
  const { limits } = ctx.config;
  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (req.method !== 'PUT' || !ENQUEUE_PATH.test(q === -1 ? url : url.slice(0, q))) return false;
    const start = process.hrtime.bigint();
    const fail = (err: unknown): void => {
      const e = toHttpError(err);
      if (e.status >= 500) ctx.logger.error('request failed', { method: 'PUT', path: '/enqueue', code: e.code, err: err as Error });
      send(e.status, { error: { code: e.code, message: e.message } }, e.headers);
    };
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      if (res.headersSent) return;
      const text = JSON.stringify(body);
      res.writeHead(status, {
        ...headers,
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        ...(ctx.closing.aborted ? { connection: 'close' } : {}),
      });
      res.end(text);
      ctx.metrics.httpDuration.observe({ method: 'PUT', route: '/enqueue', status: String(status) }, Number(process.hrtime.bigint() - start) / 1e9);
    };
    const denied = auth.check(req.headers.authorization, ['client']);
    if (denied) {
      // Answer without reading a body we will not use, then close: the client may still be sending it.
      res.setHeader('connection', 'close');
      fail(denied);
      req.resume();
      return true;
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limits.maxBodyBytes) {
      res.setHeader('connection', 'close');
      fail(new HttpError(413, 'body_too_large', `request body is over ${limits.maxBodyBytes} bytes`));
      req.resume();
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limits.maxBodyBytes) tooBig = true;
      else chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      void (async () => {
        try {
          if (tooBig) throw new HttpError(413, 'body_too_large', `request body is over ${limits.maxBodyBytes} bytes`);
          const query = parseQuery(q === -1 ? '' : url.slice(q + 1));
          const iterations = query.iterations === undefined ? undefined : parseCountParam('iterations', query.iterations, limits.maxIterations);
          const { jobs, batch } = parseEnqueueBody(req.headers['content-type'], Buffer.concat(chunks), iterations, limits);
          const ids = await ctx.batcher.enqueue(jobs);
          if (batch) ctx.logger.debug('enqueued batch', { count: ids.length, firstJobId: ids[0] });
          else ctx.logger.debug('enqueued', { jobId: ids[0] });
          send(200, batch ? { ids } : { id: ids[0] });
        } catch (err) {
          fail(err);
        }
      })();
    });
    return true;
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { parseCountParam } from '../../job/validate.js';
import { createAuth } from './auth.js';
import type { ManagerContext } from './context.js';
import { parseEnqueueBody } from './enqueue-body.js';
import { answer, readBody } from './lean-http.js';

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
    const { send, fail } = answer(ctx, res, 'PUT', '/enqueue');
    const denied = auth.check(req.headers.authorization, ['client']);
    if (denied) {
      // Answer without reading a body we will not use, then close: the client may still be sending it.
      res.setHeader('connection', 'close');
      fail(denied);
      req.resume();
      return true;
    }
    void (async () => {
      try {
        const body = await readBody(req, res, limits.maxBodyBytes);
        const query = parseQuery(q === -1 ? '' : url.slice(q + 1));
        const iterations = query.iterations === undefined ? undefined : parseCountParam('iterations', query.iterations, limits.maxIterations);
        const { jobs, batch } = parseEnqueueBody(req.headers['content-type'], body, iterations, limits);
        const ids = await ctx.batcher.enqueue(jobs);
        if (batch) ctx.logger.debug('enqueued batch', { count: ids.length, firstJobId: ids[0] });
        else ctx.logger.debug('enqueued', { jobId: ids[0] });
        send(200, batch ? { ids } : { id: ids[0] });
      } catch (err) {
        fail(err);
      }
    })();
    return true;
  };
}

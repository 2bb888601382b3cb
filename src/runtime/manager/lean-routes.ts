import type { IncomingMessage, ServerResponse } from 'node:http';
import { createAuth } from './auth.js';
import type { ManagerContext } from './context.js';
import { HttpError } from './http-error.js';
import { answer, readBody } from './lean-http.js';
import { completeCall, heartbeatCall, leaseCall } from './routes-internal.js';

/** The workers' calls made for every job, by exact path. */
const CALLS: Record<string, (ctx: ManagerContext, body: unknown, res: ServerResponse) => Promise<unknown>> = {
  '/internal/lease': leaseCall,
  '/internal/complete': completeCall,
  '/internal/heartbeat': heartbeatCall,
};

/** A charset parameter other than UTF-8's. */
const OTHER_CHARSET = /;\s*charset\s*=\s*(?!"?utf-?8"?\s*(;|$))/i;

/**
 * The workers' lease, completion and heartbeat calls served without Express,
 * as PUT /enqueue is (fast-enqueue.ts): on a busy manager Express's routing
 * and body parsing took about a tenth of its main thread. The answers are
 * Express's own, from the same functions (routes-internal.ts); only the exact
 * path with a plain UTF-8 body comes here, and what Express also takes (a
 * trailing slash, another case, a compressed body, another charset) goes to
 * it as before. Returns false for every request it leaves to Express.
 */
export function leanRoutes(ctx: ManagerContext): (req: IncomingMessage, res: ServerResponse) => boolean {
  const auth = createAuth({ client: ctx.config.clientToken, worker: ctx.config.workerToken });
  const limit = ctx.config.limits.maxBodyBytes;
  return (req, res) => {
    const path = req.url ?? '';
    const call = req.method === 'POST' ? CALLS[path] : undefined;
    if (!call) return false;
    const encoding = req.headers['content-encoding'];
    if ((encoding && encoding !== 'identity') || OTHER_CHARSET.test(req.headers['content-type'] ?? '')) return false;
    const { send, fail } = answer(ctx, res, 'POST', path);
    const denied = auth.check(req.headers.authorization, ['worker']);
    if (denied) {
      fail(denied);
      req.resume();
      return true;
    }
    void (async () => {
      try {
        const body = parseJson((await readBody(req, res, limit)).toString('utf8'));
        const out = await call(ctx, body, res);
        if (out !== undefined) send(200, out);
      } catch (err) {
        fail(err);
      }
    })();
    return true;
  };
}

/** JSON as express.json() reads it: an empty body is {}, and only an object or an array is taken. */
function parseJson(text: string): unknown {
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (s.length === 0) return {};
  // Built only when thrown: an Error captures its stack, 1 % of a busy manager's time if made for every body.
  const invalid = (): HttpError => new HttpError(400, 'invalid_json', 'body is not valid JSON');
  if (!/^[ \t\n\r]*[{[]/.test(s)) throw invalid();
  try {
    return JSON.parse(s) as unknown;
  } catch {
    throw invalid();
  }
}

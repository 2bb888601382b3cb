import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { createAuth } from './auth.js';
import type { ManagerContext } from './context.js';
import { HttpError } from './http-error.js';
import { answer, readBody } from './lean-http.js';
import { pullCall } from './pull.js';
import { completeCall, heartbeatCall, leaseCall } from './routes-internal.js';

/** The client's call for every result: this exact path, with any query. */
const PULL_PATH = '/pullCompleted';

/** The workers' calls made for every job, by exact path. */
const CALLS: Record<string, (ctx: ManagerContext, body: unknown, res: ServerResponse) => Promise<unknown>> = {
  '/internal/lease': leaseCall,
  '/internal/complete': completeCall,
  '/internal/heartbeat': heartbeatCall,
};

/** A charset parameter other than UTF-8's. */
const OTHER_CHARSET = /;\s*charset\s*=\s*(?!"?utf-?8"?\s*(;|$))/i;

/**
 * The workers' lease, completion and heartbeat calls and the client's
 * POST /pullCompleted, served without Express, as PUT /enqueue is
 * (fast-enqueue.ts): on a busy manager Express's routing and body parsing
 * took about a tenth of its main thread. The answers are Express's own, from
 * the same functions (routes-internal.ts, pull.ts); only the exact path (and
 * for the workers' calls, with a plain UTF-8 body and no query) comes here,
 * and what Express also takes (a trailing slash, another case, a compressed
 * body, another charset) goes to it as before. Returns false for every
 * request it leaves to Express.
 */
export function leanRoutes(ctx: ManagerContext): (req: IncomingMessage, res: ServerResponse) => boolean {
  const auth = createAuth({ client: ctx.config.clientToken, worker: ctx.config.workerToken });
  const limit = ctx.config.limits.maxBodyBytes;
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const path = req.url ?? '';
    if (path.startsWith(PULL_PATH) && (path.length === PULL_PATH.length || path[PULL_PATH.length] === '?')) {
      pull(req, res, path.slice(PULL_PATH.length + 1));
      return true;
    }
    const call = CALLS[path];
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

  /** The client's pull, as the Express route answers it (routes-public.ts), from the same function. */
  function pull(req: IncomingMessage, res: ServerResponse, query: string): void {
    const { send, fail } = answer(ctx, res, 'POST', PULL_PATH);
    // Its body, if any, means nothing (the Express route reads none).
    req.resume();
    const denied = auth.check(req.headers.authorization, ['client']);
    if (denied) return fail(denied);
    pullCall(ctx, parseQuery(query), res, undefined, (body) => send(200, body)).catch(fail);
  }
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

import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { DynworkError } from '../../errors.js';
import { createAuth } from './auth.js';
import { dashboardRoutes } from './dashboard.js';
import type { ManagerContext } from './context.js';
import { JobInputError } from '../../job/input-error.js';
import { HttpError } from './http-error.js';
import { internalRoutes } from './routes-internal.js';
import { batchRoutes } from './routes-batches.js';
import { publicRoutes } from './routes-public.js';

/** Method and path of every route, for 405 answers and metric labels. */
const ROUTES: Record<string, string[]> = {
  '/enqueue': ['PUT'],
  '/pullCompleted': ['POST'],
  '/pullCompleted/lease': ['POST'],
  '/pullCompleted/ack': ['POST'],
  '/pullCompleted/release': ['POST'],
  '/': ['GET', 'HEAD'],
  '/dashboard/data': ['GET', 'HEAD'],
  '/jobs': ['GET', 'HEAD'],
  '/logs': ['GET', 'HEAD'],
  '/internal/logs': ['POST'],
  '/jobs/retry': ['POST'],
  '/status': ['GET', 'HEAD'],
  '/metrics': ['GET', 'HEAD'],
  '/healthz': ['GET', 'HEAD'],
  '/internal/lease': ['POST'],
  '/internal/complete': ['POST'],
  '/internal/heartbeat': ['POST'],
  '/internal/reserve': ['POST'],
  '/internal/ack': ['POST'],
  '/internal/release': ['POST'],
  '/enqueue/batches': ['POST'],
};

/** Routes with a parameter: the pattern, the metric label and the methods. */
const PARAM_ROUTES: [RegExp, string, string[]][] = [
  [/^\/jobs\/[^/]+$/, '/jobs/:id', ['GET', 'HEAD']],
  [/^\/jobs\/[^/]+\/(cancel|retry)$/, '/jobs/:id/action', ['POST']],
  [/^\/enqueue\/batches\/[^/]+\/commit$/, '/enqueue/batches/:batch/commit', ['POST']],
  [/^\/enqueue\/batches\/[^/]+\/[^/]+$/, '/enqueue/batches/:batch/:part', ['PUT']],
];

function paramRoute(path: string): { label: string; methods: string[] } | undefined {
  const hit = PARAM_ROUTES.find(([re]) => re.test(path));
  return hit ? { label: hit[1], methods: hit[2] } : undefined;
}

export function createApp(ctx: ManagerContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  const auth = createAuth({ client: ctx.config.clientToken, worker: ctx.config.workerToken });

  app.use(timing(ctx));
  // While shutting down, close each connection after its answer so keep-alive clients move on.
  app.use((_req, res, next) => {
    if (ctx.closing.aborted) res.setHeader('Connection', 'close');
    next();
  });
  app.use(publicRoutes(ctx, auth));
  app.use(dashboardRoutes(ctx, auth));
  app.use(batchRoutes(ctx, auth));
  app.use(internalRoutes(ctx, auth));
  app.use((req, _res, next) => {
    const allowed = ROUTES[req.path] ?? paramRoute(req.path)?.methods;
    if (allowed) {
      next(new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}; use ${allowed.join(' or ')}`, { Allow: allowed.join(', ') }));
    } else {
      next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path.slice(0, 200)}`));
    }
  });
  app.use(errorHandler(ctx));
  return app;
}

function timing(ctx: ManagerContext): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = ROUTES[req.path] ? req.path : (paramRoute(req.path)?.label ?? 'other');
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      ctx.metrics.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
    });
    next();
  };
}

/** The one place errors become responses: {"error": {"code", "message"}}. */
function errorHandler(ctx: ManagerContext): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const e = toHttpError(err);
    if (e.status >= 500) ctx.logger.error('request failed', { method: req.method, path: req.path, code: e.code, err: err as Error });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res
      .set(e.headers)
      .status(e.status)
      .json({ error: { code: e.code, message: e.message } });
  };
}

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof JobInputError) return new HttpError(err.status, err.code, err.message);
  if (err instanceof DynworkError && err.code === 'conflict') return new HttpError(409, 'conflict', err.message);
  if (err instanceof DynworkError && err.code === 'store_error') {
    return new HttpError(503, 'store_unavailable', `${err.message}; nothing was written`);
  }
  // body-parser errors carry a `type` and an HTTP status.
  const b = err as { type?: string; status?: number; message?: string; limit?: number };
  switch (b.type) {
    case 'entity.too.large':
      return new HttpError(413, 'body_too_large', `request body is over ${b.limit ?? ''} bytes`);
    case 'entity.parse.failed':
      return new HttpError(400, 'invalid_json', 'body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError(415, 'unsupported_charset', b.message ?? 'unsupported body encoding: send UTF-8');
    case 'request.aborted':
      return new HttpError(400, 'request_aborted', 'the request was aborted before its body arrived');
    case 'request.size.invalid':
      return new HttpError(400, 'invalid_body', 'request body length does not match Content-Length');
    default:
      break;
  }
  if (typeof b.status === 'number' && b.status >= 400 && b.status < 500) {
    return new HttpError(b.status, 'bad_request', b.message ?? 'bad request');
  }
  return new HttpError(500, 'internal', 'internal error; see the manager log');
}

import express, { type Request, type Response, type Router } from 'express';
import { parseCountParam } from '../../job/validate.js';
import type { CompleteResponse, HeartbeatResponse, LeaseResponse, PulledJob } from '../protocol.js';
import { isReceiptToken, newReceiptToken } from '../receipt.js';
import type { ManagerContext } from './context.js';
import { HttpError } from './http-error.js';
import type { createAuth } from './auth.js';

const RESULT = /^[0-9a-f]{128}$/;
const MAX_IDS = 100_000;

/** What workers and peer managers call, with the worker token only. */
export function internalRoutes(ctx: ManagerContext, auth: ReturnType<typeof createAuth>): Router {
  const r = express.Router();
  r.use('/internal', auth('worker'), express.json({ limit: ctx.config.limits.maxBodyBytes, type: () => true }));

  r.post('/internal/lease', async (req: Request, res: Response) => {
    const body = objectBody(req);
    const workerId = str(body.workerId, 'workerId');
    const max = int(body.max, 'max', 1, 10_000);
    const maxIterations = body.maxIterations === undefined ? Infinity : int(body.maxIterations, 'maxIterations', 1, Number.MAX_SAFE_INTEGER);
    const waitMs = body.waitMs === undefined ? 0 : int(body.waitMs, 'waitMs', 0, 3_600_000);
    const leaseMs = ctx.config.leaseMs;
    const deadline = ctx.now() + Math.min(waitMs, ctx.config.longPollMaxMs);
    // Stop waiting when the worker hangs up or the manager shuts down, so no
    // job is leased to a connection that is already gone.
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const stop = AbortSignal.any([gone.signal, ctx.closing]);
    ctx.workers.touch(workerId, ctx.now());
    for (;;) {
      if (stop.aborted) {
        if (!gone.signal.aborted) res.json({ jobs: [], leaseMs } satisfies LeaseResponse);
        return;
      }
      const jobs = ctx.store.lease(workerId, max, maxIterations, leaseMs, ctx.now());
      if (jobs.length > 0 || ctx.now() >= deadline) {
        // One line a batch (not a job): `dynwork logs --job ID` finds it by its jobIds.
        ctx.logger.info('leased', { workerId, count: jobs.length, jobIds: jobs.map((j) => j.id) });
        res.json({ jobs, leaseMs } satisfies LeaseResponse);
        return;
      }
      await ctx.waiters.wait(deadline - ctx.now(), stop);
    }
  });

  r.post('/internal/complete', (req: Request, res: Response) => {
    const body = objectBody(req);
    const workerId = str(body.workerId, 'workerId');
    if (!Array.isArray(body.results) || body.results.length > MAX_IDS) throw bad(`results must be an array of at most ${MAX_IDS}`);
    const results: PulledJob[] = body.results.map((x: unknown, i: number) => {
      const o = (x ?? {}) as Record<string, unknown>;
      if (!Number.isSafeInteger(o.id) || typeof o.result !== 'string' || !RESULT.test(o.result)) {
        throw bad(`results[${i}] must be {"id": integer, "result": 128 lowercase hex characters}`);
      }
      return { id: o.id as number, result: o.result };
    });
    const now = ctx.now();
    const out = ctx.store.complete(workerId, results, now);
    ctx.workers.touch(workerId, now);
    ctx.workers.done(workerId, out.accepted.length);
    ctx.metrics.count('completed', out.accepted.length);
    ctx.metrics.count('rejectedResults', out.rejected.length);
    ctx.throughput.add(out.accepted.length, now);
    if (out.accepted.length > 0) ctx.resultWaiters.wakeAll();
    if (out.accepted.length > 0) ctx.logger.info('completed', { workerId, count: out.accepted.length, jobIds: out.accepted });
    for (const id of out.rejected) ctx.logger.info('late or foreign result dropped', { jobId: id, workerId });
    res.json(out satisfies CompleteResponse);
  });

  r.post('/internal/heartbeat', (req: Request, res: Response) => {
    const body = objectBody(req);
    const workerId = str(body.workerId, 'workerId');
    if (!Array.isArray(body.ids) || body.ids.length > MAX_IDS || !body.ids.every((x: unknown) => Number.isSafeInteger(x))) {
      throw bad(`ids must be an array of at most ${MAX_IDS} integers`);
    }
    const threads = int(body.threads, 'threads', 1, 4096);
    const busy = int(body.busy, 'busy', 0, 10_000_000);
    const hashRate = body.hashRate === undefined || body.hashRate === null ? undefined : num(body.hashRate, 'hashRate');
    const instanceId = body.instanceId === undefined ? undefined : str(body.instanceId, 'instanceId');
    const now = ctx.now();
    ctx.workers.record({ workerId, ids: [], threads, busy, ...(hashRate === undefined ? {} : { hashRate }), ...(instanceId === undefined ? {} : { instanceId }) }, now);
    const { extended, lost } = ctx.store.extend(workerId, body.ids as number[], ctx.config.leaseMs, now);
    res.json({ extended, lost, leaseMs: ctx.config.leaseMs } satisfies HeartbeatResponse);
  });

  r.post('/internal/logs', (req: Request, res: Response) => {
    const body = objectBody(req);
    str(body.workerId, 'workerId');
    if (!Array.isArray(body.lines) || body.lines.length > 1_000 || !body.lines.every((l: unknown) => typeof l === 'string')) {
      throw bad('lines must be an array of at most 1000 strings');
    }
    for (const line of body.lines) ctx.workerLogs.push(line);
    res.json({ kept: body.lines.length });
  });

  // Peer fill: a peer takes results under a receipt token and settles it once
  // its own reader has them, so an answer that never arrived loses nothing.
  r.post('/internal/reserve', (req: Request, res: Response) => {
    const q = req.query as Record<string, unknown>;
    const top = parseCountParam('top', q.top, ctx.config.limits.maxTop);
    const leaseMs = parseCountParam('leaseMs', q.leaseMs, ctx.config.maxPullLeaseMs);
    const token = newReceiptToken();
    const results = ctx.store.reserve(top, token, leaseMs, ctx.now());
    if (results.length > 0) ctx.logger.debug('results taken by a peer', { count: results.length, jobIds: results.map((j) => j.id) });
    if (res.destroyed || req.socket.destroyed) {
      ctx.store.release(token);
      return;
    }
    // The peer that asked may have given up already: then nobody has the token.
    res.on('close', () => {
      if (!res.writableFinished && ctx.store.release(token) > 0) ctx.resultWaiters.wakeAll();
    });
    res.json({ token, results });
  });

  for (const how of ['ack', 'release'] as const) {
    r.post(`/internal/${how}`, (req: Request, res: Response) => {
      const token = objectBody(req).token;
      if (!isReceiptToken(token)) throw bad('token must be a receipt token');
      let count: number;
      if (how === 'ack') {
        count = ctx.store.ack(token, ctx.now());
        ctx.metrics.count('pulled', count);
      } else {
        count = ctx.store.release(token);
        if (count > 0) ctx.resultWaiters.wakeAll();
      }
      res.json({ count });
    });
  }

  return r;
}

function bad(message: string): HttpError {
  return new HttpError(400, 'invalid_request', message);
}

function objectBody(req: Request): Record<string, unknown> {
  const b: unknown = req.body;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw bad('body must be a JSON object');
  return b as Record<string, unknown>;
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 200) throw bad(`${name} must be a non-empty string`);
  return v;
}

function int(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${name} must be an integer from ${min} to ${max}`);
  return v;
}

function num(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(`${name} must be a non-negative number`);
  return v;
}

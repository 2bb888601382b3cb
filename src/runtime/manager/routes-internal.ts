import type { ServerResponse } from 'node:http';
import express, { type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import { parseCountParam } from '../../job/validate.js';
import {
  completeRequest,
  describeIssue,
  heartbeatRequest,
  leaseRequest,
  newReceiptToken,
  settleTokenRequest,
  shipLogsRequest,
  type CompleteResponse,
  type HeartbeatResponse,
  type LeaseResponse,
} from '../../protocol/index.js';
import type { ManagerContext } from './context.js';
import { HttpError } from './http-error.js';
import { leaseRoom } from './lease-shares.js';
import { HUNG_UP } from './waiters.js';
import type { createAuth } from './auth.js';

/** What workers and peer managers call, with the worker token only. */
export function internalRoutes(ctx: ManagerContext, auth: ReturnType<typeof createAuth>): Router {
  const r = express.Router();
  r.use('/internal', auth('worker'), express.json({ limit: ctx.config.limits.maxBodyBytes, type: () => true }));

  r.post('/internal/lease', async (req: Request, res: Response) => {
    const out = await leaseCall(ctx, req.body, res);
    if (out) res.json(out);
  });
  r.post('/internal/complete', async (req: Request, res: Response) => {
    res.json(await completeCall(ctx, req.body));
  });
  r.post('/internal/heartbeat', async (req: Request, res: Response) => {
    res.json(await heartbeatCall(ctx, req.body));
  });

  r.post('/internal/logs', (req: Request, res: Response) => {
    const { lines } = parseBody(shipLogsRequest, req.body);
    for (const line of lines) ctx.workerLogs.push(line);
    res.json({ kept: lines.length });
  });

  // Peer fill: a peer takes results under a receipt token and settles it once
  // its own reader has them, so an answer that never arrived loses nothing.
  r.post('/internal/reserve', async (req: Request, res: Response) => {
    const q = req.query as Record<string, unknown>;
    const top = parseCountParam('top', q.top, ctx.config.limits.maxTop);
    const leaseMs = parseCountParam('leaseMs', q.leaseMs, ctx.config.maxPullLeaseMs);
    const token = newReceiptToken();
    const results = await ctx.writes.run(() => ctx.store.reserve(top, token, leaseMs, ctx.now()), { soft: true });
    if (results.length > 0) ctx.logger.debug('results taken by a peer', { count: results.length, jobIds: results.map((j) => j.id) });
    if (res.destroyed || req.socket.destroyed) {
      await ctx.writes.run(() => ctx.store.release(token));
      return;
    }
    // The peer that asked may have given up already: then nobody has the token.
    res.on('close', () => {
      if (!res.writableFinished) void released(ctx, token);
    });
    res.json({ token, results });
  });

  for (const how of ['ack', 'release'] as const) {
    r.post(`/internal/${how}`, async (req: Request, res: Response) => {
      const { token } = parseBody(settleTokenRequest, req.body);
      let count: number;
      if (how === 'ack') {
        count = await ctx.writes.run(() => ctx.store.ack(token, ctx.now()));
        ctx.metrics.count('pulled', count);
      } else {
        count = await ctx.writes.run(() => ctx.store.release(token));
        if (count > 0) ctx.resultWaiters.wakeAll();
      }
      res.json({ count });
    });
  }

  return r;
}

/**
 * POST /internal/lease: the oldest queued jobs for a worker, waiting up to
 * `waitMs` for some; undefined when the worker hung up meanwhile (then
 * nothing was leased to it).
 */
export async function leaseCall(ctx: ManagerContext, raw: unknown, res: ServerResponse): Promise<LeaseResponse | undefined> {
  const { workerId, max, maxIterations = Infinity, waitMs = 0 } = parseBody(leaseRequest, raw);
  const leaseMs = ctx.config.leaseMs;
  const deadline = ctx.now() + Math.min(waitMs, ctx.config.longPollMaxMs);
  // Stop waiting when the worker hangs up or the manager shuts down, so no
  // job is leased to a connection that is already gone.
  const gone = new AbortController();
  res.on('close', () => gone.abort(HUNG_UP));
  const stop = AbortSignal.any([gone.signal, ctx.closing]);
  ctx.workers.touch(workerId, ctx.now());
  ctx.askers.begin(workerId, ctx.now());
  try {
    for (;;) {
      if (stop.aborted) return gone.signal.aborted ? undefined : { jobs: [], leaseMs };
      const cap = shareCap(ctx, workerId);
      const jobs = cap > 0 ? await ctx.writes.run(() => ctx.store.lease(workerId, max, Math.min(maxIterations, cap), leaseMs, ctx.now()), { soft: true }) : [];
      if (jobs.length > 0 || ctx.now() >= deadline) {
        // One line a batch (not a job): `dynwork logs --job ID` finds it by its jobIds.
        ctx.logger.info('leased', { workerId, count: jobs.length, jobIds: jobs.map((j) => j.id) });
        return { jobs, leaseMs };
      }
      await ctx.waiters.wait(deadline - ctx.now(), stop);
    }
  } finally {
    ctx.askers.end(workerId, ctx.now());
  }
}

/**
 * The most iterations `worker` may lease now (lease-shares.ts), 0 while it
 * holds its share; a worker holding nothing here always gets a job (the
 * store leases at least one), so nobody waits on a share rounded to nothing.
 */
function shareCap(ctx: ManagerContext, worker: string): number {
  const holdings = ctx.store.holdingsByWorker();
  const room = leaseRoom({
    worker,
    queuedIterations: ctx.store.counts().queuedIterations,
    holdings,
    pool: ctx.askers.pool(holdings.keys(), ctx.now()),
    threadsOf: (w) => ctx.workers.threadsOf(w),
  });
  if (room > 0) return Math.ceil(room);
  return holdings.has(worker) ? 0 : 1;
}

/** POST /internal/complete: results of jobs the worker still holds; the rest are rejected. */
export async function completeCall(ctx: ManagerContext, raw: unknown): Promise<CompleteResponse> {
  const { workerId, results } = parseBody(completeRequest, raw);
  const now = ctx.now();
  const out = await ctx.writes.run(() => ctx.store.complete(workerId, results, now));
  ctx.workers.touch(workerId, now);
  ctx.workers.done(workerId, out.accepted.length);
  ctx.metrics.count('completed', out.accepted.length);
  ctx.metrics.count('rejectedResults', out.rejected.length);
  ctx.throughput.add(out.accepted.length, now);
  if (out.accepted.length > 0) ctx.resultWaiters.wakeAll();
  // A worker held back at its share may lease again now.
  if (out.accepted.length > 0 && ctx.store.counts().queued > 0) ctx.waiters.wakeAll();
  if (out.accepted.length > 0) ctx.logger.info('completed', { workerId, count: out.accepted.length, jobIds: out.accepted });
  for (const id of out.rejected) ctx.logger.info('late or foreign result dropped', { jobId: id, workerId });
  return out;
}

/** POST /internal/heartbeat: the worker's state, and its leases extended. */
export async function heartbeatCall(ctx: ManagerContext, raw: unknown): Promise<HeartbeatResponse> {
  const hb = parseBody(heartbeatRequest, raw);
  const now = ctx.now();
  ctx.workers.record(hb, now);
  const { extended, lost } = await ctx.writes.run(() => ctx.store.extend(hb.workerId, hb.ids, ctx.config.leaseMs, now), { soft: true });
  return { extended, lost, leaseMs: ctx.config.leaseMs };
}

/** Puts back results a peer took but never got; a failure leaves them to their receipt's expiry. */
async function released(ctx: ManagerContext, token: string): Promise<void> {
  try {
    if ((await ctx.writes.run(() => ctx.store.release(token))) > 0) ctx.resultWaiters.wakeAll();
  } catch (err) {
    ctx.logger.warn('could not release results a peer did not get; they return when the receipt runs out', { err: err as Error });
  }
}

/** The body as its schema reads it, or the 400 that names the first field wrong. */
function parseBody<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new HttpError(400, 'invalid_request', describeIssue(parsed.error));
  return parsed.data;
}

import express, { type Request, type Response, type Router } from 'express';
import { parseCountParam, parseFlagParam } from '../../job/validate.js';
import { ownerOf, settleReceiptRequest, type JobView, type ManagerStatus, type WorkerView } from '../../protocol/index.js';
import type { ManagerContext } from './context.js';
import { settle } from './delivery.js';
import { HttpError } from './http-error.js';
import { pullCall } from './pull.js';
import type { createAuth } from './auth.js';

/** The seed's API and what DESIGN §1 adds to it. */
export function publicRoutes(ctx: ManagerContext, auth: ReturnType<typeof createAuth>): Router {
  const r = express.Router();

  // POST /pullCompleted itself is served beside Express (lean-routes.ts); this takes the spellings Express also routes there.
  const pull = (req: Request, res: Response, leaseMs: number | undefined): Promise<void> => pullCall(ctx, req.query, res, leaseMs, (body) => res.json(body));
  r.post('/pullCompleted', auth('client'), (req: Request, res: Response) => pull(req, res, undefined));

  r.post('/pullCompleted/lease', auth('client'), (req: Request, res: Response) => {
    const raw = (req.query as Record<string, unknown>).leaseMs;
    if (raw === undefined) throw new HttpError(400, 'invalid_leaseMs', 'leaseMs is required: how long to hold the results for you, in ms');
    return pull(req, res, parseCountParam('leaseMs', raw, ctx.config.maxPullLeaseMs));
  });

  const json = express.json({ limit: 64 * 1024, type: () => true });
  for (const how of ['ack', 'release'] as const) {
    r.post(`/pullCompleted/${how}`, auth('client'), json, async (req: Request, res: Response) => {
      const body = settleReceiptRequest.safeParse(req.body);
      if (!body.success) throw new HttpError(400, 'invalid_receipt', 'body must be {"receipt": "..."} with a receipt from /pullCompleted/lease');
      const parts = body.data.receipt;
      let count: number;
      try {
        count = await settle(ctx, parts, how);
      } catch (err) {
        throw new HttpError(503, 'owner_unreachable', `a manager holding some of these results did not answer (${(err as Error).message}); try again`);
      }
      res.json({ count });
    });
  }

  // Bulk retry first: "/jobs/retry" is not a job id.
  r.post('/jobs/retry', auth('client'), async (req: Request, res: Response) => {
    const q = req.query as Record<string, unknown>;
    if (q.state !== 'failed') throw new HttpError(400, 'invalid_state', 'POST /jobs/retry needs state=failed (retry one job with POST /jobs/ID/retry)');
    const ids = ctx.store.retryFailed();
    if (ids.length > 0) wokeRetried(ctx, ids);
    const fromPeers = parseFlagParam('local', q.local) ? [] : await ctx.peers.retryFailed();
    res.json({ ids: ids.concat(fromPeers).sort((a, b) => a - b) });
  });

  r.get('/jobs', auth('client'), async (req: Request, res: Response) => {
    const q = req.query as Record<string, unknown>;
    const state = LISTABLE.find((s) => s === q.state);
    if (!state) throw new HttpError(400, 'invalid_state', `state must be one of ${LISTABLE.join(', ')}`);
    const limit = q.limit === undefined ? 100 : parseCountParam('limit', q.limit, 10_000);
    const local = ctx.store.list(state, limit);
    const all = parseFlagParam('local', q.local) ? local : local.concat(await ctx.peers.listJobs(state, limit));
    res.json({ jobs: all.sort((a, b) => Date.parse(a.enqueuedAt) - Date.parse(b.enqueuedAt) || a.id - b.id).slice(0, limit) });
  });

  r.get('/jobs/:id', auth('client'), async (req: Request, res: Response) => {
    res.json(
      await onOwner(
        ctx,
        req,
        (id) => ctx.store.get(id),
        (owner, id) => ctx.peers.getJob(owner, id),
      ),
    );
  });

  for (const action of ['cancel', 'retry'] as const) {
    r.post(`/jobs/:id/${action}`, auth('client'), async (req: Request, res: Response) => {
      const job = await onOwner(
        ctx,
        req,
        (id) => (action === 'cancel' ? ctx.store.cancel(id, ctx.now()) : ctx.store.retry(id)),
        (owner, id) => ctx.peers.jobAction(owner, id, action),
      );
      if (action === 'retry') wokeRetried(ctx, [job.id]);
      else ctx.logger.info('job cancelled', { jobId: job.id });
      res.json(job);
    });
  }

  // Recent log lines of this manager and of the workers that sent theirs here;
  // with the peers' too unless local=1. Raw JSON records, for the CLI to filter.
  r.get('/logs', auth('client'), async (req: Request, res: Response) => {
    const lines = [...(ctx.ownLogs?.since().lines ?? []), ...ctx.workerLogs.since().lines];
    if ((req.query as Record<string, unknown>).local !== '1') lines.push(...(await ctx.peers.logs()));
    res.json({ lines });
  });

  r.get('/status', auth('client', 'worker'), (_req: Request, res: Response) => {
    res.json(managerStatus(ctx));
  });

  r.get('/metrics', auth('client', 'worker'), async (_req: Request, res: Response) => {
    res.type(ctx.metrics.register.contentType).send(await ctx.metrics.register.metrics());
  });

  r.get('/healthz', (_req: Request, res: Response) => {
    try {
      ctx.store.check();
      res.json({ ok: true, index: ctx.config.index, leader: ctx.isLeader() });
    } catch (err) {
      res.status(503).json({ ok: false, index: ctx.config.index, error: { code: 'store_unavailable', message: (err as Error).message } });
    }
  });

  return r;
}

export function managerStatus(ctx: ManagerContext): ManagerStatus {
  const now = ctx.now();
  const c = ctx.store.counts();
  const oldest = ctx.store.oldestQueued();
  let healthy = true;
  try {
    ctx.store.check();
  } catch {
    healthy = false;
  }
  return {
    manager: {
      index: ctx.config.index,
      url: ctx.url(),
      leader: ctx.isLeader(),
      startedAt: new Date(ctx.startedAt).toISOString(),
      version: ctx.version,
    },
    queue: {
      queued: c.queued,
      running: c.running,
      completed: c.completed,
      delivering: c.delivering,
      failed: c.failed,
      oldestQueuedAgeMs: oldest === null ? null : Math.max(0, now - oldest.enqueuedAt),
      oldestQueuedId: oldest?.id ?? null,
      queuedIterations: c.queuedIterations,
    },
    totals: {
      enqueued: ctx.metrics.totals.enqueued,
      completed: ctx.metrics.totals.completed,
      pulled: ctx.metrics.totals.pulled,
      leaseExpiries: ctx.metrics.totals.leaseExpiries,
      failed: ctx.metrics.totals.failed,
    },
    throughput: ctx.throughput.perSecond(now),
    workers: withHoldings(ctx.workers.list(now), ctx.store.leaseHolders()),
    healthy,
    events: ctx.events.list(),
  };
}

const LISTABLE = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;

/**
 * Runs a job call where the job lives: here, or at the manager its id names
 * (through the peers). 404 for an unknown job or a manager that does not
 * exist; 503 when its manager does not answer.
 */
async function onOwner(ctx: ManagerContext, req: Request, here: (id: number) => JobView | null, there: (owner: number, id: number) => Promise<JobView | null | undefined>): Promise<JobView> {
  const raw = String(req.params.id);
  const id = /^[0-9]{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id) || id < 1) throw new HttpError(400, 'invalid_id', `job id must be a positive integer, got ${JSON.stringify(raw.slice(0, 40))}`);
  const owner = ownerOf(id);
  if (owner !== ctx.config.index && !ctx.peers.indexes.includes(owner)) {
    throw new HttpError(404, 'job_not_found', `no job ${id}: its manager (${owner}) is not part of this cluster`);
  }
  const job = owner === ctx.config.index ? here(id) : await there(owner, id);
  if (job === undefined) throw new HttpError(503, 'owner_unreachable', `job ${id} belongs to manager ${owner}, which did not answer`);
  if (job === null) throw new HttpError(404, 'job_not_found', `no job ${id} (unknown, or finished longer ago than the retention window)`);
  return job;
}

function wokeRetried(ctx: ManagerContext, ids: readonly number[]): void {
  for (const id of ids) ctx.logger.info('job queued again', { jobId: id });
  ctx.events.add(`${ids.length} job(s) queued again by request: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`);
  ctx.waiters.wakeAll();
}

function withHoldings(workers: WorkerView[], holders: Map<string, number>): WorkerView[] {
  return workers.map((w) => ({ ...w, holding: holders.get(w.workerId) ?? 0 }));
}

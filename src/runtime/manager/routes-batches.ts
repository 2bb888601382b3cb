import { randomBytes } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { parseCountParam } from '../../job/validate.js';
import { batchCommitRequest, MAX_PARTS } from '../../protocol/index.js';
import type { createAuth } from './auth.js';
import type { ManagerContext } from './context.js';
import { parseEnqueueBody } from './enqueue-body.js';
import { HttpError } from './http-error.js';

const BATCH_ID = /^[A-Za-z0-9_-]{22}$/;

/**
 * Staged uploads (src/protocol): a batch of any size is sent in parts and
 * enqueued by one commit, all or nothing. Parts are checked exactly as a
 * batch `PUT /enqueue` is, when they arrive.
 */
export function batchRoutes(ctx: ManagerContext, auth: ReturnType<typeof createAuth>): Router {
  const r = express.Router();
  const { limits } = ctx.config;
  const rawBody = express.raw({ type: () => true, limit: limits.maxBodyBytes });
  const smallJson = express.json({ type: () => true, limit: 1024 });

  r.post('/enqueue/batches', auth('client'), (_req: Request, res: Response) => {
    const id = randomBytes(16).toString('base64url');
    ctx.store.createBatch(id, ctx.now());
    ctx.logger.debug('staged batch started', { batch: id });
    res.status(201).json({ batch: id });
  });

  r.put('/enqueue/batches/:batch/:part', auth('client'), rawBody, (req: Request, res: Response) => {
    const id = batchId(req.params.batch);
    const part = parseCountParam('part', req.params.part, MAX_PARTS);
    const q = req.query as Record<string, unknown>;
    const iterations = q.iterations === undefined ? undefined : parseCountParam('iterations', q.iterations, limits.maxIterations);
    const { jobs, batch } = parseEnqueueBody(req.headers['content-type'], Buffer.isBuffer(req.body) ? req.body : undefined, iterations, limits);
    if (!batch) throw new HttpError(400, 'invalid_part', 'a part is a JSON array of jobs: [{"data": …, "iterations": …}, …]');
    const outcome = ctx.store.stageBatchPart(id, part, jobs);
    if (outcome === 'unknown') throw notFound(id);
    if (outcome === 'committed') throw new HttpError(409, 'batch_committed', `batch ${id} is already committed; start a new one for more jobs`);
    ctx.logger.debug('staged batch part', { batch: id, part, count: jobs.length });
    res.json({ batch: id, part, count: jobs.length });
  });

  r.post('/enqueue/batches/:batch/commit', auth('client'), smallJson, (req: Request, res: Response) => {
    const id = batchId(req.params.batch);
    const body = batchCommitRequest.safeParse(req.body);
    if (!body.success) throw new HttpError(400, 'invalid_parts', `body must be {"parts": N}, N the number of parts sent (1 to ${MAX_PARTS})`);
    const { parts } = body.data;
    const c = ctx.batcher.commitStaged(id, parts);
    switch (c.kind) {
      case 'unknown':
        throw notFound(id);
      case 'parts_mismatch':
        throw new HttpError(409, 'parts_mismatch', `batch ${id} was committed with ${c.parts} parts, not ${parts}`);
      case 'extra_part':
        throw new HttpError(409, 'extra_part', `part ${c.part} of batch ${id} is staged but the commit names parts 1 to ${parts}`);
      case 'missing_part':
        throw new HttpError(409, 'missing_part', `part ${c.part} of ${parts} of batch ${id} was never staged (${c.staged} are); send it, then commit again`);
      case 'committed':
        if (c.fresh) ctx.logger.info('staged batch committed', { batch: id, parts, count: c.ids.length, firstJobId: c.ids[0], lastJobId: c.ids.at(-1) });
        res.json({ ids: c.ids });
    }
  });

  return r;
}

function batchId(raw: unknown): string {
  const id = String(raw);
  if (!BATCH_ID.test(id)) throw notFound(id.slice(0, 40));
  return id;
}

function notFound(id: string): HttpError {
  return new HttpError(404, 'batch_not_found', `no staged batch ${JSON.stringify(id)} (unknown, or not committed within an hour and dropped): start again with POST /enqueue/batches`);
}

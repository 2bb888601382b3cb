import { once } from 'node:events';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DynworkError } from '../../errors.js';
import { clusterCa, type ManagerConfig, type ManagerTls } from '../../settings/manager.js';
import { createLogger, type Logger } from '../../log.js';
import { JobStore } from '../store/job-store.js';
import { VERSION } from '../../version.js';
import { createApp } from './app.js';
import { createAuth } from './auth.js';
import { answerClientErrors } from './client-error.js';
import { checkContinueFirst } from './expect-continue.js';
import { fastEnqueue } from './fast-enqueue.js';
import { leanRoutes } from './lean-routes.js';
import type { ManagerContext } from './context.js';
import { EnqueueBatcher } from './enqueue-batcher.js';
import { EventLog } from './event-log.js';
import { GroupCommit } from './group-commit.js';
import { History } from './history.js';
import { LogRing } from '../log-ring.js';
import { Waiters } from './waiters.js';
import { LeaseAskers } from './lease-shares.js';
import { createMetrics } from './metrics.js';
import { Peers } from './peers.js';
import { startScaling } from './scaling.js';
import { Throughput } from './throughput.js';
import { WorkerRegistry } from './worker-registry.js';

export interface RunningManager {
  url: string;
  port: number;
  ctx: ManagerContext;
  /** Graceful stop: no new requests, in-flight ones finish, the database closes cleanly. Idempotent. */
  close(): Promise<void>;
}

export interface ManagerOptions {
  logger?: Logger;
  now?: () => number;
  /** Where the logger also keeps its lines, to serve them at GET /logs. */
  logRing?: LogRing;
  /** Longest close() waits for in-flight requests before cutting connections. @default 10000 */
  closeTimeoutMs?: number;
}

/** The endpoint file peers and workers read to find a manager that moved to another port. */
export function endpointFile(dataDir: string): string {
  return join(dataDir, 'endpoint.json');
}

export async function startManager(config: ManagerConfig, opts: ManagerOptions = {}): Promise<RunningManager> {
  const now = opts.now ?? Date.now;
  const logger = (opts.logger ?? createLogger({}, { level: config.logLevel })).child({ role: 'manager', manager: config.index });
  const store = JobStore.open(join(config.dataDir, 'queue.db'), config.index);
  const workers = new WorkerRegistry();
  const closing = new AbortController();
  let url = '';
  let leader = false;

  const metrics = createMetrics(store, { workers: () => workers.activeCount(now(), 60_000), now });
  const waiters = new Waiters();
  const writes = new GroupCommit(store);
  const ctx: ManagerContext = {
    config,
    store,
    batcher: new EnqueueBatcher(store, writes, now, (n) => {
      metrics.count('enqueued', n);
      waiters.wakeAll();
    }),
    writes,
    waiters,
    resultWaiters: new Waiters(),
    workers,
    askers: new LeaseAskers(),
    metrics,
    throughput: new Throughput(),
    peers: new Peers(config.peers, config, config.peerTimeoutMs, logger, config.tls ? { ca: clusterCa(config.tls), cluster: config.cluster } : undefined),
    logger,
    now,
    startedAt: now(),
    version: VERSION,
    url: () => url,
    isLeader: () => leader,
    events: new EventLog(now),
    history: new History(config.historyIntervalMs),
    ownLogs: opts.logRing,
    workerLogs: new LogRing(20_000),
    closing: closing.signal,
  };

  // Node enforces requestTimeout only when it checks connections: check often
  // enough that a slow (slowloris) body is cut off close to the timeout.
  const app = createApp(ctx);
  const enqueue = fastEnqueue(ctx);
  const lean = leanRoutes(ctx);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    track(req, res);
    if (!enqueue(req, res) && !lean(req, res)) app(req, res);
  };
  const serverOptions = { connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(config.requestTimeoutMs / 4))) };
  let server: Server;
  try {
    // https.Server is an http.Server underneath (same timeouts, same close calls).
    server = config.tls ? createHttpsServer({ ...serverOptions, ...readIdentity(config.tls) }, handler) : createServer(serverOptions, handler);
  } catch (err) {
    store.close();
    throw err;
  }
  const track = answerClientErrors(server, config.requestTimeoutMs);
  checkContinueFirst(server, createAuth({ client: config.clientToken, worker: config.workerToken }), handler);
  server.requestTimeout = config.requestTimeoutMs;
  server.headersTimeout = Math.min(config.requestTimeoutMs, 10_000);
  server.keepAliveTimeout = 10_000;
  let port: number;
  try {
    port = await listen(server, config.host, config.port, config.portTries, logger);
  } catch (err) {
    store.close();
    throw err;
  }
  url = `${config.tls ? 'https' : 'http'}://${formatHost(config.advertiseHost ?? config.host)}:${port}`;
  writeEndpointFile(config.dataDir, { url, port, pid: process.pid });
  logger.info('manager listening', { url, port, requestedPort: config.port });

  const sweepState = { lastBatchPurge: Number.NEGATIVE_INFINITY };
  const sweeper = setInterval(() => sweep(ctx, sweepState), config.sweepIntervalMs);
  sweeper.unref();
  const sampler = startSampling(ctx);
  const autoscaler = await startScaling(ctx, (v) => (leader = v));

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      clearInterval(sweeper);
      clearInterval(sampler);
      await autoscaler?.close();
      closing.abort();
      const done = once(server, 'close');
      server.close();
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), opts.closeTimeoutMs ?? 10_000);
      await done;
      clearTimeout(force);
      ctx.writes.flush();
      await ctx.peers.close();
      store.close();
      logger.info('manager stopped');
    })());

  return { url, port, ctx, close };
}

/** A staged batch not committed within this is dropped; a committed one answers a repeated commit at least this long. */
export const STAGED_BATCH_TTL_MS = 3600_000;

const BATCH_PURGE_EVERY_MS = 60_000;

/** Expired leases back to the queue (or failed), unconfirmed results back to completed, then old pulled results and stale staged batches out. */
function sweep(ctx: ManagerContext, state: { lastBatchPurge: number }): void {
  const now = ctx.now();
  try {
    const { requeued, failed } = ctx.store.expireLeases(ctx.config.maxAttempts, now);
    if (requeued.length + failed.length > 0) {
      ctx.metrics.count('leaseExpiries', requeued.length + failed.length);
      ctx.metrics.count('failed', failed.length);
      for (const id of requeued) ctx.logger.info('lease expired; job requeued', { jobId: id });
      for (const id of failed) ctx.logger.warn('lease expired too often; job failed', { jobId: id, maxAttempts: ctx.config.maxAttempts });
      if (requeued.length > 0) {
        ctx.events.add(`${requeued.length} lease(s) expired; job(s) requeued for retry: ${listIds(requeued)}`);
        ctx.waiters.wakeAll();
      }
      if (failed.length > 0) ctx.events.add(`${failed.length} job(s) failed after ${ctx.config.maxAttempts} expired leases: ${listIds(failed)}`);
    }
    const returned = ctx.store.expireReceipts(now);
    if (returned > 0) {
      ctx.logger.info('pulled results were not confirmed in time; they are completed again', { count: returned });
      ctx.resultWaiters.wakeAll();
    }
    if (ctx.config.retentionMs > 0) ctx.store.purge(now - ctx.config.retentionMs);
    // An hour's limit needs no check every sweep: keep this write off the lease path's hot loop.
    if (now - state.lastBatchPurge >= BATCH_PURGE_EVERY_MS) {
      state.lastBatchPurge = now;
      ctx.store.purgeBatches(now - STAGED_BATCH_TTL_MS, now - Math.max(STAGED_BATCH_TTL_MS, ctx.config.retentionMs));
    }
  } catch (err) {
    ctx.logger.error('sweep failed', { err: err as Error });
  }
}

/** Records the dashboard's history: one sample per interval, at its end. */
function startSampling(ctx: ManagerContext): NodeJS.Timeout {
  const every = ctx.config.historyIntervalMs;
  let completedBefore = ctx.metrics.totals.completed;
  const timer = setInterval(() => {
    const now = ctx.now();
    const c = ctx.store.counts();
    const completed = ctx.metrics.totals.completed;
    ctx.history.record({
      at: Math.floor(now / every) * every,
      queued: c.queued,
      running: c.running,
      completedPerSec: Math.round(((completed - completedBefore) * 1000 * 100) / every) / 100,
      workers: ctx.workers.activeCount(now, Math.max(30_000, 2 * every)),
    });
    completedBefore = completed;
  }, every);
  timer.unref();
  return timer;
}

function listIds(ids: readonly number[]): string {
  return ids.slice(0, 5).join(', ') + (ids.length > 5 ? `, … (${ids.length - 5} more)` : '');
}

async function listen(server: Server, host: string, port: number, tries: number, logger: Logger): Promise<number> {
  for (let i = 0; ; i++) {
    const p = port === 0 ? 0 : port + i;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(p, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' || port === 0 || i + 1 >= tries || p >= 65535) throw err;
      logger.warn('port taken; trying the next one', { port: p });
    }
  }
}

function writeEndpointFile(dataDir: string, info: { url: string; port: number; pid: number }): void {
  const file = endpointFile(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

/** The manager's certificate and key; a missing or unreadable one stops the start with what to do. */
function readIdentity(tls: ManagerTls): { cert: string; key: string } {
  const read = (file: string, what: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new DynworkError('config_invalid', `cannot read the manager's ${what} ${file}: ${(err as Error).message}`, {
        cause: err,
        hint: 'run dynwork deploy again: it issues the certificates the managers are missing',
      });
    }
  };
  return { cert: tls.cert ?? read(tls.certFile!, 'certificate'), key: read(tls.keyFile, 'key') };
}

function formatHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response, type Router } from 'express';
import type { DashboardPart, ManagerEvent, ManagerStatus, Sample, WorkerView } from '../../protocol/index.js';
import type { createAuth } from './auth.js';
import type { ManagerContext } from './context.js';
import { mergeHistories } from './history.js';
import { managerStatus } from './routes-public.js';

export interface DashboardWorker extends WorkerView {
  /** idle, working, or silent (no heartbeat for 30 s). */
  state: 'idle' | 'working' | 'silent';
  /** The manager indexes it talks to. */
  managers: number[];
}

/** The whole cluster, as the dashboard shows it. */
export interface DashboardData {
  generatedAt: string;
  cluster: string;
  /** The manager that answered (the page's address). */
  self: number;
  managers: { index: number; url: string; up: boolean; healthy: boolean; leader: boolean; version: string | null; startedAt: string | null; queue: ManagerStatus['queue'] | null }[];
  history: Sample[];
  workers: DashboardWorker[];
  /** Newest last: scaling decisions with their reasons, expired leases, failures. */
  events: (ManagerEvent & { manager: number })[];
}

const SILENT_MS = 30_000;

/**
 * The page's files, read once: the HTML, its script and style, and uPlot
 * (vendored through npm: clusters may have no internet, so no CDN).
 */
function pageFiles(): Map<string, { type: string; body: Buffer }> {
  const dir = fileURLToPath(new URL('../../../../dashboard/', import.meta.url));
  const require = createRequire(import.meta.url);
  const files = new Map<string, { type: string; body: Buffer }>();
  files.set('/', { type: 'text/html; charset=utf-8', body: readFileSync(dir + 'index.html') });
  files.set('/dashboard/app.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(dir + 'app.js') });
  files.set('/dashboard/style.css', { type: 'text/css; charset=utf-8', body: readFileSync(dir + 'style.css') });
  files.set('/dashboard/uPlot.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')) });
  files.set('/dashboard/uPlot.css', { type: 'text/css; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) });
  return files;
}

/**
 * GET / and its files (no token: the page holds no data and asks for the
 * token), and GET /dashboard/data (client token) for what it shows.
 */
export function dashboardRoutes(ctx: ManagerContext, auth: ReturnType<typeof createAuth>): Router {
  const r = express.Router();
  let files: ReturnType<typeof pageFiles> | undefined;
  r.get(['/', '/dashboard/app.js', '/dashboard/style.css', '/dashboard/uPlot.js', '/dashboard/uPlot.css'], (req: Request, res: Response) => {
    files ??= pageFiles();
    const f = files.get(req.path)!;
    res.set({
      'content-type': f.type,
      // Only our own files; the token never leaves for anywhere else.
      'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    });
    res.send(f.body);
  });

  r.get('/dashboard/data', auth('client'), async (req: Request, res: Response) => {
    res.set('cache-control', 'no-store');
    const own: DashboardPart = { status: managerStatus(ctx), history: ctx.history.list() };
    if ((req.query as Record<string, unknown>).local === '1') {
      res.json(own);
      return;
    }
    const peers = await ctx.peers.dashboards();
    res.json(assemble(ctx.config.cluster, ctx.config.index, [{ index: ctx.config.index, url: ctx.url(), part: own }, ...peers], ctx.now()));
  });
  return r;
}

/** Puts the managers' parts together: a pure function of what each answered. */
export function assemble(cluster: string, self: number, parts: { index: number; url: string; part: DashboardPart | null }[], now: number): DashboardData {
  const workers = new Map<string, DashboardWorker>();
  for (const { index, part } of parts) {
    for (const w of part?.status.workers ?? []) {
      const known = workers.get(w.workerId);
      if (!known) {
        workers.set(w.workerId, { ...w, state: 'idle', managers: [index] });
        continue;
      }
      known.managers.push(index);
      known.jobsDone = (known.jobsDone ?? 0) + (w.jobsDone ?? 0);
      known.holding = (known.holding ?? 0) + (w.holding ?? 0);
      if (w.firstSeenAt && (!known.firstSeenAt || w.firstSeenAt < known.firstSeenAt)) known.firstSeenAt = w.firstSeenAt;
      if (w.lastSeenAt > known.lastSeenAt) Object.assign(known, { lastSeenAt: w.lastSeenAt, busy: w.busy, threads: w.threads, hashRate: w.hashRate ?? known.hashRate });
    }
  }
  for (const w of workers.values()) w.state = now - Date.parse(w.lastSeenAt) > SILENT_MS ? 'silent' : (w.holding ?? 0) > 0 || w.busy > 0 ? 'working' : 'idle';
  return {
    generatedAt: new Date(now).toISOString(),
    cluster,
    self,
    managers: parts
      .map(({ index, url, part }) => ({
        index,
        url: part?.status.manager.url ?? url,
        up: part !== null,
        healthy: part?.status.healthy ?? false,
        leader: part?.status.manager.leader ?? false,
        version: part?.status.manager.version ?? null,
        startedAt: part?.status.manager.startedAt ?? null,
        queue: part?.status.queue ?? null,
      }))
      .sort((a, b) => a.index - b.index),
    history: mergeHistories(parts.map((p) => p.part?.history ?? [])),
    workers: [...workers.values()].sort((a, b) => a.workerId.localeCompare(b.workerId)),
    events: parts
      .flatMap(({ index, part }) => (part?.status.events ?? []).map((e) => ({ ...e, manager: index })))
      .sort((a, b) => a.at.localeCompare(b.at))
      .slice(-50),
  };
}

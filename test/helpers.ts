import { AssertionError } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { managerConfigSchema, type ManagerConfig } from '../src/settings/manager.js';
import { createLogger, type Logger } from '../src/log.js';
import type { RunningManager } from '../src/runtime/manager/server.js';
import type Database from 'better-sqlite3';
import type { JobStore } from '../src/runtime/store/job-store.js';

export const CLIENT_TOKEN = 'client-token-0123456789abcdef';
export const WORKER_TOKEN = 'worker-token-0123456789abcdef';

export interface Vector {
  data: string;
  iterations: number;
  result: string;
}

/** Independently computed results (Python hashlib), carried by the repository: a clone has no shared/. */
export function vectors(): Vector[] {
  const file = new URL('../../test/fixtures/vectors.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { vectors: Vector[] }).vectors;
}

export function tempDir(prefix = 'dynwork-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Logs kept in memory, so tests can assert what was (and was not) logged. */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({}, { level: 'debug', write: (l) => void lines.push(l) }), lines };
}

export function managerConfig(dataDir: string, over: Partial<ManagerConfig> & { index?: number } = {}): ManagerConfig {
  return managerConfigSchema.parse({
    index: 1,
    port: 0,
    dataDir,
    clientToken: CLIENT_TOKEN,
    workerToken: WORKER_TOKEN,
    ...over,
  });
}

export async function startTestManager(dataDir: string, over: Partial<ManagerConfig> = {}, opts: { logger?: Logger; now?: () => number } = {}): Promise<RunningManager> {
  // Imported here so tests of lower layers do not load the whole manager.
  const { startManager } = await import('../src/runtime/manager/server.js');
  return startManager(managerConfig(dataDir, over), { logger: opts.logger ?? memoryLogger().logger, ...(opts.now ? { now: opts.now } : {}) });
}

export function auth(token = CLIENT_TOKEN): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** `p`, or an error after `ms` (a bound, not a sleep). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes (then
 * throws with `what`). Errors thrown by `check` count as "not yet" (a manager
 * still starting), except failed assertions: those fail the test at once.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      if (err instanceof AssertionError) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * `n` different ports the OS had free a moment ago. All `n` are held until
 * every one is read, so they differ; once released another process may take
 * one first, which the code under test copes with (it moves to the next free
 * port and says where it went).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', resolve);
      });
      ports.push((s.address() as AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** The sync level (1 NORMAL, 2 FULL) each outermost transaction of `store` runs, and so commits, under. */
export function syncLevels(store: JobStore): { db: Database.Database; levels: number[] } {
  const inner = store as unknown as { db: Database.Database; atomic: ((fn: () => unknown) => unknown) & { immediate(fn: () => unknown): unknown } };
  const levels: number[] = [];
  const atomic = inner.atomic;
  inner.atomic = Object.assign((fn: () => unknown) => atomic(fn), {
    immediate: (fn: () => unknown) =>
      atomic.immediate(() => {
        levels.push(inner.db.pragma('synchronous', { simple: true }) as number);
        return fn();
      }),
  });
  return { db: inner.db, levels };
}

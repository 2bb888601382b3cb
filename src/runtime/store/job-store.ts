import Database from 'better-sqlite3';
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DynworkError } from '../../errors.js';
import { makeJobId, ownerOf, seqOf } from '../protocol.js';
import type { JobStatus, JobView, LeasedJob, NewJob, PulledJob } from '../protocol.js';
import { MIGRATIONS } from './migrations.js';

const QUEUED = 0;
const LEASED = 1;
const COMPLETED = 2;
const PULLED = 3;
const FAILED = 4;
/** Most job data in one lease answer (at least one job is always given). */
export const DEFAULT_LEASE_BYTES = 8 * 1024 * 1024;
const STATUS: readonly JobStatus[] = ['queued', 'running', 'completed', 'pulled', 'failed'];

export interface StoreCounts {
  queued: number;
  running: number;
  completed: number;
  failed: number;
  queuedIterations: number;
}

export type BatchCommit =
  | { kind: 'committed'; ids: number[]; fresh: boolean }
  | { kind: 'unknown' }
  | { kind: 'parts_mismatch'; parts: number }
  | { kind: 'extra_part'; part: number }
  | { kind: 'missing_part'; part: number; staged: number };

export interface ExpiryResult {
  requeued: number[];
  failed: number[];
}

interface JobRow {
  seq: number;
  state: number;
  iterations: number;
  attempts: number;
  enqueued_at: number;
  completed_at: number | null;
  pulled_at: number | null;
  result: string | null;
}

/**
 * The durable queue of one manager: one SQLite file (WAL, synchronous=FULL so
 * a returned enqueue survives a power cut). Every state change is one method,
 * run in one transaction; completions and lease extensions check the lease
 * owner and report which rows changed. Time is always a parameter.
 *
 * Counts are kept in memory (this process is the only writer) so status and
 * metrics cost nothing however long the queue is.
 */
export class JobStore {
  readonly file: string;
  readonly managerIndex: number;
  private readonly db: Database.Database;
  private readonly tally: StoreCounts;
  private readonly stmt;
  /** The inode opened: a database file deleted under us keeps working on the orphan, so compare. */
  private readonly ino: number;

  private constructor(file: string, managerIndex: number, db: Database.Database) {
    this.file = file;
    this.managerIndex = managerIndex;
    this.db = db;
    this.ino = statSync(file).ino;
    this.stmt = {
      insert: db.prepare<[number, string, number]>('INSERT INTO jobs (iterations, data, enqueued_at) VALUES (?, ?, ?)'),
      queuedHead: db.prepare<[number], { seq: number; iterations: number; bytes: number }>(
        'SELECT seq, iterations, length(CAST(data AS BLOB)) AS bytes FROM jobs WHERE state = 0 ORDER BY seq LIMIT ?',
      ),
      lease: db.prepare<[string, number, number], { seq: number; data: string; iterations: number }>(
        `UPDATE jobs SET state = 1, lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1
         WHERE seq IN (SELECT seq FROM jobs WHERE state = 0 ORDER BY seq LIMIT ?)
         RETURNING seq, data, iterations`,
      ),
      complete: db.prepare<[string, number, number, string], { iterations: number }>(
        `UPDATE jobs SET state = 2, result = ?, completed_at = ?, data = NULL, lease_owner = NULL, lease_expires_at = NULL
         WHERE seq = ? AND state = 1 AND lease_owner = ? RETURNING iterations`,
      ),
      extend: db.prepare<[number, number, string]>(
        'UPDATE jobs SET lease_expires_at = ? WHERE seq = ? AND state = 1 AND lease_owner = ?',
      ),
      expire: db.prepare<[number, number, number, number, number], { seq: number; state: number; iterations: number }>(
        `UPDATE jobs SET
           state = CASE WHEN attempts >= ? THEN 4 ELSE 0 END,
           completed_at = CASE WHEN attempts >= ? THEN ? ELSE NULL END,
           error = CASE WHEN attempts >= ? THEN 'lease expired on every attempt (poison job?)' ELSE NULL END,
           lease_owner = NULL, lease_expires_at = NULL
         WHERE state = 1 AND lease_expires_at <= ?
         RETURNING seq, state, iterations`,
      ),
      pull: db.prepare<[number, number], { seq: number; result: string; completed_at: number }>(
        `UPDATE jobs SET state = 3, pulled_at = ?
         WHERE seq IN (SELECT seq FROM jobs WHERE state = 2 ORDER BY completed_at, seq LIMIT ?)
         RETURNING seq, result, completed_at`,
      ),
      get: db.prepare<[number], JobRow>(
        'SELECT seq, state, iterations, attempts, enqueued_at, completed_at, pulled_at, result FROM jobs WHERE seq = ?',
      ),
      oldestQueued: db.prepare<[], { enqueued_at: number }>(
        'SELECT enqueued_at FROM jobs WHERE state = 0 ORDER BY seq LIMIT 1',
      ),
      purgePulled: db.prepare<[number]>('DELETE FROM jobs WHERE state = 3 AND pulled_at < ?'),
      purgeFailed: db.prepare<[number]>('DELETE FROM jobs WHERE state = 4 AND completed_at < ?'),
      countByState: db.prepare<[], { state: number; n: number; iters: number }>(
        'SELECT state, COUNT(*) AS n, COALESCE(SUM(iterations), 0) AS iters FROM jobs GROUP BY state',
      ),
    };
    this.tally = { queued: 0, running: 0, completed: 0, failed: 0, queuedIterations: 0 };
    for (const row of this.stmt.countByState.all()) {
      if (row.state === QUEUED) {
        this.tally.queued = row.n;
        this.tally.queuedIterations = row.iters;
      } else if (row.state === LEASED) this.tally.running = row.n;
      else if (row.state === COMPLETED) this.tally.completed = row.n;
      else if (row.state === FAILED) this.tally.failed = row.n;
    }
  }

  /** Opens (creating if needed) and migrates the store; refuses a database newer than this code. */
  static open(file: string, managerIndex: number): JobStore {
    let db: Database.Database;
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > MIGRATIONS.length) {
        db.close();
        throw new DynworkError(
          'store_error',
          `queue database ${file} has schema version ${version}, newer than this dynwork (${MIGRATIONS.length})`,
          { hint: 'run the dynwork version that created it, or a newer one' },
        );
      }
      db.transaction(() => {
        for (let v = version; v < MIGRATIONS.length; v++) {
          db.exec(MIGRATIONS[v] as string);
          db.pragma(`user_version = ${v + 1}`);
        }
      }).immediate();
    } catch (err) {
      if (err instanceof DynworkError) throw err;
      throw new DynworkError('store_error', `cannot open queue database ${file}: ${(err as Error).message}`, { cause: err });
    }
    return new JobStore(file, managerIndex, db);
  }

  /** Enqueues all jobs in one transaction (all or nothing); returns their ids in order. */
  enqueue(jobs: readonly NewJob[], now: number): number[] {
    this.assertFileIntact();
    return this.tx(() => {
      const ids: number[] = [];
      let iters = 0;
      for (const job of jobs) {
        const r = this.stmt.insert.run(job.iterations, job.data, now);
        ids.push(makeJobId(Number(r.lastInsertRowid), this.managerIndex));
        iters += job.iterations;
      }
      this.tally.queued += jobs.length;
      this.tally.queuedIterations += iters;
      return ids;
    });
  }

  /**
   * Leases the oldest queued jobs to `owner` until `leaseMs` from now: at most
   * `max` jobs and, past the first, no more than `maxIterations` in sum (a
   * worker is not handed more heavy work than it can start soon) nor
   * `maxBytes` of data (one answer stays a sensible size).
   */
  lease(owner: string, max: number, maxIterations: number, leaseMs: number, now: number, maxBytes = DEFAULT_LEASE_BYTES): LeasedJob[] {
    if (this.tally.queued === 0 || max < 1) return [];
    return this.tx(() => {
      let take = 0;
      let iterations = 0;
      let bytes = 0;
      for (const row of this.stmt.queuedHead.iterate(max)) {
        if (take > 0 && (iterations + row.iterations > maxIterations || bytes + row.bytes > maxBytes)) break;
        iterations += row.iterations;
        bytes += row.bytes;
        take++;
      }
      if (take === 0) return [];
      const rows = this.stmt.lease.all(owner, now + leaseMs, take);
      rows.sort((a, b) => a.seq - b.seq);
      let iters = 0;
      for (const r of rows) iters += r.iterations;
      this.tally.queued -= rows.length;
      this.tally.queuedIterations -= iters;
      this.tally.running += rows.length;
      return rows.map((r) => ({ id: makeJobId(r.seq, this.managerIndex), data: r.data, iterations: r.iterations }));
    });
  }

  /** Records results of jobs `owner` still holds; the rest (lease lost, already done, not ours) are rejected. */
  complete(owner: string, results: readonly PulledJob[], now: number): { accepted: number[]; rejected: number[] } {
    return this.tx(() => {
      const accepted: number[] = [];
      const rejected: number[] = [];
      for (const { id, result } of results) {
        const row = this.owns(id) ? this.stmt.complete.get(result, now, seqOf(id), owner) : undefined;
        if (row) accepted.push(id);
        else rejected.push(id);
      }
      this.tally.running -= accepted.length;
      this.tally.completed += accepted.length;
      return { accepted, rejected };
    });
  }

  /** Pushes back the deadline of leases `owner` still holds. */
  extend(owner: string, ids: readonly number[], leaseMs: number, now: number): { extended: number[]; lost: number[] } {
    return this.tx(() => {
      const extended: number[] = [];
      const lost: number[] = [];
      for (const id of ids) {
        const changed = this.owns(id) && this.stmt.extend.run(now + leaseMs, seqOf(id), owner).changes > 0;
        (changed ? extended : lost).push(id);
      }
      return { extended, lost };
    });
  }

  /**
   * Expired leases go back to the queue; a job whose lease has expired
   * `maxAttempts` times is failed instead (it keeps killing its workers).
   */
  expireLeases(maxAttempts: number, now: number): ExpiryResult {
    if (this.tally.running === 0) return { requeued: [], failed: [] };
    return this.tx(() => {
      const rows = this.stmt.expire.all(maxAttempts, maxAttempts, now, maxAttempts, now);
      const requeued: number[] = [];
      const failed: number[] = [];
      for (const r of rows) {
        const id = makeJobId(r.seq, this.managerIndex);
        if (r.state === FAILED) failed.push(id);
        else {
          requeued.push(id);
          this.tally.queuedIterations += r.iterations;
        }
      }
      this.tally.running -= rows.length;
      this.tally.queued += requeued.length;
      this.tally.failed += failed.length;
      return { requeued: requeued.sort((a, b) => a - b), failed: failed.sort((a, b) => a - b) };
    });
  }

  /** Hands out up to `top` completed results, oldest completion first, each once. */
  pull(top: number, now: number): PulledJob[] {
    if (this.tally.completed === 0 || top < 1) return [];
    return this.tx(() => {
      const rows = this.stmt.pull.all(now, top);
      rows.sort((a, b) => a.completed_at - b.completed_at || a.seq - b.seq);
      this.tally.completed -= rows.length;
      return rows.map((r) => ({ id: makeJobId(r.seq, this.managerIndex), result: r.result }));
    });
  }

  get(id: number): JobView | null {
    if (!this.owns(id)) return null;
    const r = this.stmt.get.get(seqOf(id));
    if (!r) return null;
    const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
    return {
      id,
      status: STATUS[r.state] ?? 'failed',
      iterations: r.iterations,
      attempts: r.attempts,
      enqueuedAt: new Date(r.enqueued_at).toISOString(),
      completedAt: r.state === COMPLETED || r.state === PULLED ? iso(r.completed_at) : null,
      pulledAt: iso(r.pulled_at),
      result: r.result,
    };
  }

  /** Deletes pulled and failed jobs older than `before`; returns how many went. */
  purge(before: number): number {
    return this.tx(() => {
      const n = this.stmt.purgePulled.run(before).changes + this.stmt.purgeFailed.run(before).changes;
      return n;
    });
  }

  counts(): Readonly<StoreCounts> {
    return { ...this.tally };
  }

  oldestQueuedAt(): number | null {
    if (this.tally.queued === 0) return null;
    return this.stmt.oldestQueued.get()?.enqueued_at ?? null;
  }

  /** Checks the database file is still there and writable (health). */
  check(): void {
    this.assertFileIntact();
    try {
      this.db.prepare('BEGIN IMMEDIATE').run();
      this.db.prepare('ROLLBACK').run();
    } catch (err) {
      throw new DynworkError('store_error', `queue database unavailable: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): void {
    if (!this.db.open) return;
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }

  // --- Staged batches: an upload in parts, enqueued all at once by one commit ---

  /** Starts an empty staged batch under `id` (the caller picks a random one). */
  createBatch(id: string, now: number): void {
    this.assertFileIntact();
    this.tx(() => void this.batchStmt.create.run(id, now));
  }

  /** Stores part `part` of batch `id`, replacing whatever that part held before (a retried part never doubles). */
  stageBatchPart(id: string, part: number, jobs: readonly NewJob[]): 'staged' | 'unknown' | 'committed' {
    this.assertFileIntact();
    return this.tx(() => {
      const b = this.batchStmt.get.get(id);
      if (!b) return 'unknown';
      if (b.committed_at !== null) return 'committed';
      this.batchStmt.dropPart.run(id, part);
      jobs.forEach((job, line) => this.batchStmt.stage.run(id, part, line, job.iterations, job.data));
      return 'staged';
    });
  }

  /**
   * Moves parts 1…`parts` of batch `id` into the queue in one transaction, in
   * part then line order. Committing a committed batch again answers its ids
   * (`fresh` false) without enqueuing anything.
   */
  commitBatch(id: string, parts: number, now: number): BatchCommit {
    this.assertFileIntact();
    return this.tx((): BatchCommit => {
      const b = this.batchStmt.get.get(id);
      if (!b) return { kind: 'unknown' };
      if (b.committed_at !== null) {
        if (b.parts !== parts) return { kind: 'parts_mismatch', parts: b.parts ?? 0 };
        const first = b.first_seq ?? 0;
        return { kind: 'committed', fresh: false, ids: Array.from({ length: b.count ?? 0 }, (_, i) => makeJobId(first + i, this.managerIndex)) };
      }
      const staged = this.batchStmt.parts.all(id).map((r) => r.part);
      const extra = staged.find((p) => p < 1 || p > parts);
      if (extra !== undefined) return { kind: 'extra_part', part: extra };
      if (staged.length !== parts) {
        const have = new Set(staged);
        let missing = 1;
        while (have.has(missing)) missing++;
        return { kind: 'missing_part', part: missing, staged: staged.length };
      }
      const { n, iters } = this.batchStmt.sum.get(id) ?? { n: 0, iters: 0 };
      const r = this.batchStmt.move.run(now, id);
      if (r.changes !== n) throw new DynworkError('store_error', `staged batch moved ${r.changes} of ${n} jobs`);
      // One writer, one transaction: AUTOINCREMENT hands out consecutive seqs in SELECT order.
      const first = n === 0 ? 0 : Number(r.lastInsertRowid) - n + 1;
      this.batchStmt.dropStaged.run(id);
      this.batchStmt.commit.run(now, parts, first, n, id);
      this.tally.queued += n;
      this.tally.queuedIterations += iters;
      return { kind: 'committed', fresh: true, ids: Array.from({ length: n }, (_, i) => makeJobId(first + i, this.managerIndex)) };
    });
  }

  /** Drops batches never committed that were started before `stagedBefore`, and records of commits before `committedBefore`. */
  purgeBatches(stagedBefore: number, committedBefore: number): number {
    return this.tx(() => {
      this.batchStmt.purgeStaged.run(stagedBefore);
      return this.batchStmt.purgeBatches.run(stagedBefore, committedBefore).changes;
    });
  }

  private batchStmtCache: ReturnType<JobStore['prepareBatchStmts']> | undefined;

  private get batchStmt(): ReturnType<JobStore['prepareBatchStmts']> {
    return (this.batchStmtCache ??= this.prepareBatchStmts());
  }

  private prepareBatchStmts() {
    const db = this.db;
    return {
      create: db.prepare<[string, number]>('INSERT INTO enqueue_batches (id, created_at) VALUES (?, ?)'),
      get: db.prepare<[string], { committed_at: number | null; parts: number | null; first_seq: number | null; count: number | null }>(
        'SELECT committed_at, parts, first_seq, count FROM enqueue_batches WHERE id = ?',
      ),
      dropPart: db.prepare<[string, number]>('DELETE FROM enqueue_staged WHERE batch = ? AND part = ?'),
      stage: db.prepare<[string, number, number, number, string]>('INSERT INTO enqueue_staged (batch, part, line, iterations, data) VALUES (?, ?, ?, ?, ?)'),
      parts: db.prepare<[string], { part: number }>('SELECT DISTINCT part FROM enqueue_staged WHERE batch = ? ORDER BY part'),
      sum: db.prepare<[string], { n: number; iters: number }>('SELECT COUNT(*) AS n, COALESCE(SUM(iterations), 0) AS iters FROM enqueue_staged WHERE batch = ?'),
      move: db.prepare<[number, string]>(
        'INSERT INTO jobs (iterations, data, enqueued_at) SELECT iterations, data, ? FROM enqueue_staged WHERE batch = ? ORDER BY part, line',
      ),
      dropStaged: db.prepare<[string]>('DELETE FROM enqueue_staged WHERE batch = ?'),
      commit: db.prepare<[number, number, number, number, string]>(
        'UPDATE enqueue_batches SET committed_at = ?, parts = ?, first_seq = ?, count = ? WHERE id = ?',
      ),
      purgeStaged: db.prepare<[number]>(
        'DELETE FROM enqueue_staged WHERE batch IN (SELECT id FROM enqueue_batches WHERE committed_at IS NULL AND created_at < ?)',
      ),
      purgeBatches: db.prepare<[number, number]>(
        'DELETE FROM enqueue_batches WHERE (committed_at IS NULL AND created_at < ?) OR committed_at < ?',
      ),
    };
  }

  /** Throws when the database file was removed, replaced or made read-only since it was opened. */
  private assertFileIntact(): void {
    try {
      if (statSync(this.file).ino !== this.ino) throw new Error('the file was replaced');
      accessSync(this.file, constants.W_OK);
    } catch (err) {
      throw new DynworkError('store_error', `queue database ${this.file} is unavailable: ${(err as Error).message}`, { cause: err });
    }
  }

  private owns(id: number): boolean {
    return Number.isSafeInteger(id) && id > 0 && ownerOf(id) === this.managerIndex;
  }

  private tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      if (err instanceof DynworkError) throw err;
      throw new DynworkError('store_error', `queue database write failed: ${(err as Error).message}`, { cause: err });
    }
  }
}

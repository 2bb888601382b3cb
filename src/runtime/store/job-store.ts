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
const DELIVERING = 5;
const CANCELLED = 6;
/** Most job data in one lease answer (at least one job is always given). */
export const DEFAULT_LEASE_BYTES = 8 * 1024 * 1024;
// A result being delivered is still "completed" to anyone looking the job up: it is not theirs yet.
export type ListableStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
const LISTED: Record<ListableStatus, [number, number]> = {
  queued: [QUEUED, QUEUED],
  running: [LEASED, LEASED],
  completed: [COMPLETED, DELIVERING],
  failed: [FAILED, FAILED],
  cancelled: [CANCELLED, CANCELLED],
};
const STATUS: readonly JobStatus[] = ['queued', 'running', 'completed', 'pulled', 'failed', 'completed', 'cancelled'];

export interface StoreCounts {
  queued: number;
  running: number;
  completed: number;
  failed: number;
  /** Results handed out under a receipt that is not yet acknowledged. */
  delivering: number;
  queuedIterations: number;
}

export interface ExpiryResult {
  requeued: number[];
  failed: number[];
}

interface JobRow {
  seq: number;
  state: number;
  iterations: number;
  attempts: number;
  tries: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  error: string | null;
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
      lease: db.prepare<[string, number, number], { seq: number; data: string; iterations: number; tries: number }>(
        `UPDATE jobs SET state = 1, lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1, tries = tries + 1
         WHERE seq IN (SELECT seq FROM jobs WHERE state = 0 ORDER BY seq LIMIT ?)
         RETURNING seq, data, iterations, tries`,
      ),
      attemptStart: db.prepare<[number, number, string, number]>('INSERT INTO attempts (seq, attempt, worker_id, started_at) VALUES (?, ?, ?, ?)'),
      attemptEnd: db.prepare<[number, string, number]>('UPDATE attempts SET ended_at = ?, outcome = ? WHERE seq = ? AND ended_at IS NULL'),
      attempts: db.prepare<[number], { attempt: number; worker_id: string; started_at: number; ended_at: number | null; outcome: string | null }>(
        'SELECT attempt, worker_id, started_at, ended_at, outcome FROM attempts WHERE seq = ? ORDER BY attempt',
      ),
      stateOf: db.prepare<[number], { state: number; iterations: number }>('SELECT state, iterations FROM jobs WHERE seq = ?'),
      cancel: db.prepare<[number, number]>(
        `UPDATE jobs SET state = 6, completed_at = ?, error = 'cancelled', lease_owner = NULL, lease_expires_at = NULL
         WHERE seq = ? AND state IN (0, 1)`,
      ),
      retry: db.prepare<[number], { seq: number; iterations: number }>(
        `UPDATE jobs SET state = 0, attempts = 0, error = NULL, completed_at = NULL
         WHERE seq = ? AND state IN (4, 6) RETURNING seq, iterations`,
      ),
      retryFailed: db.prepare<[], { seq: number; iterations: number }>(
        `UPDATE jobs SET state = 0, attempts = 0, error = NULL, completed_at = NULL
         WHERE state = 4 RETURNING seq, iterations`,
      ),
      list: db.prepare<[number, number, number], JobRow>(
        `SELECT seq, state, iterations, attempts, tries, lease_owner, lease_expires_at, error, enqueued_at, completed_at, pulled_at, result
         FROM jobs WHERE state IN (?, ?) ORDER BY seq LIMIT ?`,
      ),
      // Plain ? twice: better-sqlite3 takes ?1 for a named parameter and refuses a positional value for it.
      purgeAttempts: db.prepare<[number, number]>(
        `DELETE FROM attempts WHERE seq IN (
           SELECT seq FROM jobs WHERE (state = 3 AND pulled_at < ?) OR (state IN (4, 6) AND completed_at < ?))`,
      ),
      complete: db.prepare<[string, number, number, string], { iterations: number }>(
        `UPDATE jobs SET state = 2, result = ?, completed_at = ?, data = NULL, lease_owner = NULL, lease_expires_at = NULL
         WHERE seq = ? AND state = 1 AND lease_owner = ? RETURNING iterations`,
      ),
      extend: db.prepare<[number, number, string]>(
        'UPDATE jobs SET lease_expires_at = ? WHERE seq = ? AND state = 1 AND lease_owner = ?',
      ),
      expire: db.prepare<[number, number, number, number, number], { seq: number; state: number; iterations: number; attempts: number }>(
        `UPDATE jobs SET
           state = CASE WHEN attempts >= ? THEN 4 ELSE 0 END,
           completed_at = CASE WHEN attempts >= ? THEN ? ELSE NULL END,
           error = CASE WHEN attempts >= ? THEN 'lease expired on every attempt (poison job?)' ELSE NULL END,
           lease_owner = NULL, lease_expires_at = NULL
         WHERE state = 1 AND lease_expires_at <= ?
         RETURNING seq, state, iterations, attempts`,
      ),
      reserve: db.prepare<[string, number, number], { seq: number; result: string; completed_at: number }>(
        `UPDATE jobs SET state = 5, receipt = ?, receipt_expires_at = ?
         WHERE seq IN (SELECT seq FROM jobs WHERE state = 2 ORDER BY completed_at, seq LIMIT ?)
         RETURNING seq, result, completed_at`,
      ),
      ack: db.prepare<[number, string]>(
        'UPDATE jobs SET state = 3, pulled_at = ?, receipt = NULL, receipt_expires_at = NULL WHERE state = 5 AND receipt = ?',
      ),
      release: db.prepare<[string]>('UPDATE jobs SET state = 2, receipt = NULL, receipt_expires_at = NULL WHERE state = 5 AND receipt = ?'),
      expireReceipts: db.prepare<[number]>(
        'UPDATE jobs SET state = 2, receipt = NULL, receipt_expires_at = NULL WHERE state = 5 AND receipt_expires_at <= ?',
      ),
      get: db.prepare<[number], JobRow>(
        `SELECT seq, state, iterations, attempts, tries, lease_owner, lease_expires_at, error, enqueued_at, completed_at, pulled_at, result
         FROM jobs WHERE seq = ?`,
      ),
      oldestQueued: db.prepare<[], { seq: number; enqueued_at: number }>(
        'SELECT seq, enqueued_at FROM jobs WHERE state = 0 ORDER BY seq LIMIT 1',
      ),
      purgePulled: db.prepare<[number]>('DELETE FROM jobs WHERE state = 3 AND pulled_at < ?'),
      purgeFailed: db.prepare<[number]>('DELETE FROM jobs WHERE state IN (4, 6) AND completed_at < ?'),
      countByState: db.prepare<[], { state: number; n: number; iters: number }>(
        'SELECT state, COUNT(*) AS n, COALESCE(SUM(iterations), 0) AS iters FROM jobs GROUP BY state',
      ),
    };
    this.tally = { queued: 0, running: 0, completed: 0, failed: 0, delivering: 0, queuedIterations: 0 };
    for (const row of this.stmt.countByState.all()) {
      if (row.state === QUEUED) {
        this.tally.queued = row.n;
        this.tally.queuedIterations = row.iters;
      } else if (row.state === LEASED) this.tally.running = row.n;
      else if (row.state === COMPLETED) this.tally.completed = row.n;
      else if (row.state === FAILED) this.tally.failed = row.n;
      else if (row.state === DELIVERING) this.tally.delivering = row.n;
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
      for (const r of rows) {
        iters += r.iterations;
        this.stmt.attemptStart.run(r.seq, r.tries, owner, now);
      }
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
        if (row) {
          accepted.push(id);
          this.stmt.attemptEnd.run(now, 'completed', seqOf(id));
        } else rejected.push(id);
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
        this.stmt.attemptEnd.run(now, r.state === FAILED ? `lease expired; job failed after ${r.attempts} attempts` : 'lease expired', r.seq);
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

  /**
   * Hands out up to `top` completed results under `receipt` until `leaseMs`
   * from now: they are pulled once the receipt is acknowledged, and return to
   * "completed" if it is released or runs out, so a result whose answer never
   * reached its reader is never lost.
   */
  reserve(top: number, receipt: string, leaseMs: number, now: number): PulledJob[] {
    if (this.tally.completed === 0 || top < 1) return [];
    return this.tx(() => {
      const rows = this.stmt.reserve.all(receipt, now + leaseMs, top);
      rows.sort((a, b) => a.completed_at - b.completed_at || a.seq - b.seq);
      this.tally.completed -= rows.length;
      this.tally.delivering += rows.length;
      return rows.map((r) => ({ id: makeJobId(r.seq, this.managerIndex), result: r.result }));
    });
  }

  /** Marks the results held under `receipt` pulled; returns how many (0 once it was released or ran out). */
  ack(receipt: string, now: number): number {
    if (this.tally.delivering === 0) return 0;
    return this.tx(() => {
      const n = this.stmt.ack.run(now, receipt).changes;
      this.tally.delivering -= n;
      return n;
    });
  }

  /** Puts the results held under `receipt` back to "completed"; returns how many. */
  release(receipt: string): number {
    if (this.tally.delivering === 0) return 0;
    return this.tx(() => this.returned(this.stmt.release.run(receipt).changes));
  }

  /** Results whose receipt ran out go back to "completed"; returns how many. */
  expireReceipts(now: number): number {
    if (this.tally.delivering === 0) return 0;
    return this.tx(() => this.returned(this.stmt.expireReceipts.run(now).changes));
  }

  /** The job's whole story: state, lease, every attempt; null when it is not (or no longer) here. */
  get(id: number): JobView | null {
    if (!this.owns(id)) return null;
    const r = this.stmt.get.get(seqOf(id));
    return r ? this.view(r, true) : null;
  }

  /**
   * Up to `limit` jobs in `status`, oldest first, without their attempt
   * history. "completed" includes results being delivered.
   */
  list(status: ListableStatus, limit: number): JobView[] {
    const [a, b] = LISTED[status];
    return this.stmt.list.all(a, b, limit).map((r) => this.view(r, false));
  }

  /**
   * Cancels a job that has not finished: a queued one is never handed out, a
   * running one's worker loses its lease (its result will be refused).
   * Returns the job, or null when it is not here; throws `conflict` when it
   * already finished.
   */
  cancel(id: number, now: number): JobView | null {
    if (!this.owns(id)) return null;
    return this.tx(() => {
      const seq = seqOf(id);
      const before = this.stmt.stateOf.get(seq);
      if (!before) return null;
      // Cancelling twice is one cancel: a retried call must not turn into an error.
      if (before.state === CANCELLED) return this.get(id);
      if (before.state !== QUEUED && before.state !== LEASED) throw this.finished(id, before.state, 'cancel');
      this.stmt.cancel.run(now, seq);
      this.stmt.attemptEnd.run(now, 'cancelled', seq);
      if (before.state === QUEUED) {
        this.tally.queued--;
        this.tally.queuedIterations -= before.iterations;
      } else this.tally.running--;
      return this.get(id);
    });
  }

  /** Queues a failed or cancelled job again (its attempt count starts over). Null when not here; throws `conflict` otherwise. */
  retry(id: number): JobView | null {
    if (!this.owns(id)) return null;
    return this.tx(() => {
      const seq = seqOf(id);
      const before = this.stmt.stateOf.get(seq);
      if (!before) return null;
      if (before.state !== FAILED && before.state !== CANCELLED) throw this.finished(id, before.state, 'retry');
      this.requeued(this.stmt.retry.all(seq));
      if (before.state === FAILED) this.tally.failed--;
      return this.get(id);
    });
  }

  /** Queues every failed job again; returns their ids. */
  retryFailed(): number[] {
    if (this.tally.failed === 0) return [];
    return this.tx(() => {
      const ids = this.requeued(this.stmt.retryFailed.all());
      this.tally.failed -= ids.length;
      return ids.sort((a, b) => a - b);
    });
  }

  /** Deletes pulled and failed jobs older than `before`; returns how many went. */
  purge(before: number): number {
    return this.tx(() => {
      this.stmt.purgeAttempts.run(before, before);
      const n = this.stmt.purgePulled.run(before).changes + this.stmt.purgeFailed.run(before).changes;
      return n;
    });
  }

  counts(): Readonly<StoreCounts> {
    return { ...this.tally };
  }

  oldestQueuedAt(): number | null {
    return this.oldestQueued()?.enqueuedAt ?? null;
  }

  /** The job first in line, and when it was enqueued. */
  oldestQueued(): { id: number; enqueuedAt: number } | null {
    if (this.tally.queued === 0) return null;
    const r = this.stmt.oldestQueued.get();
    return r ? { id: makeJobId(r.seq, this.managerIndex), enqueuedAt: r.enqueued_at } : null;
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

  /** Throws when the database file was removed, replaced or made read-only since it was opened. */
  private assertFileIntact(): void {
    try {
      if (statSync(this.file).ino !== this.ino) throw new Error('the file was replaced');
      accessSync(this.file, constants.W_OK);
    } catch (err) {
      throw new DynworkError('store_error', `queue database ${this.file} is unavailable: ${(err as Error).message}`, { cause: err });
    }
  }

  private requeued(rows: readonly { seq: number; iterations: number }[]): number[] {
    for (const r of rows) {
      this.tally.queued++;
      this.tally.queuedIterations += r.iterations;
    }
    return rows.map((r) => makeJobId(r.seq, this.managerIndex));
  }

  private finished(id: number, state: number, what: string): DynworkError {
    return new DynworkError('conflict', `cannot ${what} job ${id}: it is ${STATUS[state] ?? 'finished'}`);
  }

  private view(r: JobRow, withHistory: boolean): JobView {
    const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
    const id = makeJobId(r.seq, this.managerIndex);
    return {
      id,
      status: STATUS[r.state] ?? 'failed',
      iterations: r.iterations,
      attempts: r.tries,
      enqueuedAt: new Date(r.enqueued_at).toISOString(),
      completedAt: r.state === COMPLETED || r.state === PULLED || r.state === DELIVERING ? iso(r.completed_at) : null,
      pulledAt: iso(r.pulled_at),
      result: r.result,
      manager: this.managerIndex,
      lease: r.state === LEASED && r.lease_owner !== null ? { workerId: r.lease_owner, expiresAt: iso(r.lease_expires_at) as string } : null,
      error: r.error,
      endedAt: r.state === FAILED || r.state === CANCELLED ? iso(r.completed_at) : null,
      ...(withHistory
        ? {
            history: this.stmt.attempts.all(r.seq).map((a) => ({
              attempt: a.attempt,
              workerId: a.worker_id,
              startedAt: new Date(a.started_at).toISOString(),
              endedAt: iso(a.ended_at),
              outcome: a.outcome ?? 'running',
            })),
          }
        : {}),
    };
  }

  private returned(n: number): number {
    this.tally.delivering -= n;
    this.tally.completed += n;
    return n;
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

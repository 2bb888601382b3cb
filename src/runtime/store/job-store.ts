import Database from 'better-sqlite3';
import { accessSync, constants, existsSync, mkdirSync, rmSync, statSync, type BigIntStats } from 'node:fs';
import { dirname } from 'node:path';
import { DynworkError } from '../../errors.js';
import { makeJobId, ownerOf, seqOf } from '../../protocol/index.js';
import type { JobStatus, JobView, LeasedJob, NewJob, PulledJob } from '../../protocol/index.js';
import { freshQueueFile, idMarkFile, readIdMark, writeIdMark } from './id-mark.js';
import { MIGRATIONS } from './migrations.js';
import { WalSync, type Disk } from './wal-sync.js';

const QUEUED = 0;
const LEASED = 1;
const COMPLETED = 2;
const PULLED = 3;
const FAILED = 4;
const DELIVERING = 5;
const CANCELLED = 6;
/** Most job data in one lease answer (at least one job is always given). */
export const DEFAULT_LEASE_BYTES = 8 * 1024 * 1024;
export type ListableStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
const LISTED: Record<ListableStatus, [number, number]> = {
  queued: [QUEUED, QUEUED],
  running: [LEASED, LEASED],
  completed: [COMPLETED, DELIVERING],
  failed: [FAILED, FAILED],
  cancelled: [CANCELLED, CANCELLED],
};
// A result being delivered is still "completed" to anyone looking the job up: it is not theirs yet.
const STATUS: readonly JobStatus[] = ['queued', 'running', 'completed', 'pulled', 'failed', 'completed', 'cancelled'];
/** Ids are reserved in blocks, so the mark beside the queue is written once per block, not per enqueue. */
export const ID_BLOCK = 10_000;

export interface StoreCounts {
  queued: number;
  running: number;
  completed: number;
  failed: number;
  /** Results handed out under a receipt that is not yet acknowledged. */
  delivering: number;
  queuedIterations: number;
}

export type BatchCommit =
  | { kind: 'committed'; ids: number[]; fresh: boolean }
  | { kind: 'unknown' }
  | { kind: 'parts_mismatch'; parts: number }
  | { kind: 'extra_part'; part: number }
  | { kind: 'missing_part'; part: number; staged: number };

/** Runs a function in a transaction: a savepoint when one is open, else BEGIN IMMEDIATE with `immediate`. */
interface Atomic {
  <T>(fn: () => T): T;
  immediate<T>(fn: () => T): T;
}

/** What one worker holds a lease on here. */
export interface Holding {
  jobs: number;
  iterations: number;
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
  leased_at: number | null;
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
  /** Leases by holder, kept like the tally (lease fairness reads them on every lease call). */
  private holdings = new Map<string, Holding>();
  /** Results being written to a plain pull's reader, by token (`reserve` with `inMemory`), and all their seqs. */
  private readonly handing = new Map<string, { seqs: number[]; expiresAt: number }>();
  private readonly handed = new Set<number>();
  /** The in-memory holds made in the open transaction: undone with it. */
  private handJournal: string[] = [];
  private readonly stmt;
  /** The inodes opened: a database (or WAL) file deleted under us keeps working on the orphan, so compare. */
  private readonly ino: bigint;
  private readonly walIno: bigint | null;
  /**
   * The file as this process last left it. Only we write it (the lock is
   * exclusive), so another size or mtime means someone else wrote into it:
   * our page cache no longer matches the disk, and nothing more is written.
   */
  private seen: BigIntStats;
  private tampered: DynworkError | null = null;
  private readonly markFile: string;
  /** Highest sequence number handed out, and the one the mark on disk covers. */
  private lastSeq: number;
  private reservedSeq: number;
  /** Inside `group`: each write is a savepoint of the group's transaction. */
  private grouping = false;
  /** One transaction wrapper for every write (better-sqlite3 builds four functions for each new one). */
  private readonly atomic: Atomic;
  /** Syncs the WAL (inline, or off the event loop on a slow disk) for groups that commit unsynced: `group(fn, false)`, then `durable()`. */
  private readonly wal: WalSync;

  private constructor(file: string, managerIndex: number, db: Database.Database, lastSeq: number, reservedSeq: number, disk?: Partial<Disk>) {
    this.file = file;
    this.managerIndex = managerIndex;
    this.db = db;
    this.seen = statSync(file, { bigint: true });
    this.ino = this.seen.ino;
    this.walIno = statSync(`${file}-wal`, { bigint: true, throwIfNoEntry: false })?.ino ?? null;
    // SQLite opens (creates) the WAL with the first transaction, which open() has run.
    this.wal = new WalSync(`${file}-wal`, disk);
    this.markFile = idMarkFile(file);
    this.lastSeq = lastSeq;
    this.reservedSeq = reservedSeq;
    this.atomic = db.transaction((fn: () => unknown) => fn()) as Atomic;
    this.stmt = {
      insert: db.prepare<[number, string, number]>('INSERT INTO jobs (iterations, data, enqueued_at) VALUES (?, ?, ?)'),
      queuedHead: db.prepare<[number], { seq: number; iterations: number; bytes: number }>(
        'SELECT seq, iterations, length(CAST(data AS BLOB)) AS bytes FROM jobs WHERE state = 0 ORDER BY seq LIMIT ?',
      ),
      lease: db.prepare<[string, number, number, number], { seq: number; data: string; iterations: number }>(
        `UPDATE jobs SET state = 1, lease_owner = ?, lease_expires_at = ?, leased_at = ?, attempts = attempts + 1, tries = tries + 1
         WHERE seq IN (SELECT seq FROM jobs WHERE state = 0 ORDER BY seq LIMIT ?)
         RETURNING seq, data, iterations`,
      ),
      // The attempt under way lives on its job's row (lease_owner, leased_at;
      // a completed job keeps them as its last attempt's): only an attempt
      // that ends otherwise gets a row here, so a job that runs once writes
      // no attempt at all (lease and completion: 3 µs a job less each).
      attemptEnd: db.prepare<[number, string, number]>(
        `INSERT INTO attempts (seq, attempt, worker_id, started_at, ended_at, outcome)
         SELECT seq, tries, lease_owner, COALESCE(leased_at, enqueued_at), ?, ? FROM jobs WHERE seq = ? AND state = 1
         ON CONFLICT (seq, attempt) DO UPDATE SET ended_at = excluded.ended_at, outcome = excluded.outcome`,
      ),
      attemptsExpire: db.prepare<[number, number, number]>(
        `INSERT INTO attempts (seq, attempt, worker_id, started_at, ended_at, outcome)
         SELECT seq, tries, lease_owner, COALESCE(leased_at, enqueued_at), ?,
           CASE WHEN attempts >= ? THEN 'lease expired; job failed after ' || attempts || ' attempts' ELSE 'lease expired' END
         FROM jobs WHERE state = 1 AND lease_expires_at <= ?
         ON CONFLICT (seq, attempt) DO UPDATE SET ended_at = excluded.ended_at, outcome = excluded.outcome`,
      ),
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
        `SELECT seq, state, iterations, attempts, tries, lease_owner, lease_expires_at, leased_at, error, enqueued_at, completed_at, pulled_at, result
         FROM jobs WHERE state IN (?, ?) ORDER BY seq LIMIT ?`,
      ),
      // One SELECT a state, each on its partial index: with OR (or IN) SQLite
      // scans the whole table, every sweep (30 ms a second at 500,000 jobs).
      purgeAttempts: db.prepare<[number, number, number]>(
        `DELETE FROM attempts WHERE seq IN (
           SELECT seq FROM jobs WHERE state = 3 AND pulled_at < ?
           UNION ALL SELECT seq FROM jobs WHERE state = 4 AND completed_at < ?
           UNION ALL SELECT seq FROM jobs WHERE state = 6 AND completed_at < ?)`,
      ),
      // One statement for a whole delivery (a worker sends hundreds of results
      // at once): a third less time a job than a statement each.
      complete: db.prepare<[number, string, string], { seq: number; iterations: number }>(
        `UPDATE jobs SET state = 2, result = r.value, completed_at = ?, data = NULL, lease_expires_at = NULL
         FROM (SELECT CAST(key AS INTEGER) AS seq, value FROM json_each(?)) AS r
         WHERE jobs.seq = r.seq AND jobs.state = 1 AND jobs.lease_owner = ?
         RETURNING jobs.seq, jobs.iterations`,
      ),
      extend: db.prepare<[number, number, string]>('UPDATE jobs SET lease_expires_at = ? WHERE seq = ? AND state = 1 AND lease_owner = ?'),
      expire: db.prepare<[number, number, number, number, number], { seq: number; state: number; iterations: number }>(
        `UPDATE jobs SET
           state = CASE WHEN attempts >= ? THEN 4 ELSE 0 END,
           completed_at = CASE WHEN attempts >= ? THEN ? ELSE NULL END,
           error = CASE WHEN attempts >= ? THEN 'lease expired on every attempt (poison job?)' ELSE NULL END,
           lease_owner = NULL, lease_expires_at = NULL
         WHERE state = 1 AND lease_expires_at <= ?
         RETURNING seq, state, iterations`,
      ),
      completedHead: db.prepare<[number], { seq: number; result: string }>('SELECT seq, result FROM jobs WHERE state = 2 ORDER BY completed_at, seq LIMIT ?'),
      reserve: db.prepare<[string, number, string]>('UPDATE jobs SET state = 5, receipt = ?, receipt_expires_at = ? WHERE state = 2 AND seq IN (SELECT value FROM json_each(?))'),
      pulled: db.prepare<[number, string]>('UPDATE jobs SET state = 3, pulled_at = ? WHERE state = 2 AND seq IN (SELECT value FROM json_each(?))'),
      ack: db.prepare<[number, string]>('UPDATE jobs SET state = 3, pulled_at = ?, receipt = NULL, receipt_expires_at = NULL WHERE state = 5 AND receipt = ?'),
      release: db.prepare<[string]>('UPDATE jobs SET state = 2, receipt = NULL, receipt_expires_at = NULL WHERE state = 5 AND receipt = ?'),
      expireReceipts: db.prepare<[number]>('UPDATE jobs SET state = 2, receipt = NULL, receipt_expires_at = NULL WHERE state = 5 AND receipt_expires_at <= ?'),
      get: db.prepare<[number], JobRow>(
        `SELECT seq, state, iterations, attempts, tries, lease_owner, lease_expires_at, leased_at, error, enqueued_at, completed_at, pulled_at, result
         FROM jobs WHERE seq = ?`,
      ),
      holders: db.prepare<[], { owner: string; n: number; iters: number }>('SELECT lease_owner AS owner, COUNT(*) AS n, SUM(iterations) AS iters FROM jobs WHERE state = 1 GROUP BY lease_owner'),
      oldestQueued: db.prepare<[], { seq: number; enqueued_at: number }>('SELECT seq, enqueued_at FROM jobs WHERE state = 0 ORDER BY seq LIMIT 1'),
      purgePulled: db.prepare<[number]>('DELETE FROM jobs WHERE state = 3 AND pulled_at < ?'),
      purgeFailed: db.prepare<[number]>('DELETE FROM jobs WHERE state = 4 AND completed_at < ?'),
      purgeCancelled: db.prepare<[number]>('DELETE FROM jobs WHERE state = 6 AND completed_at < ?'),
      countCompleted: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM jobs WHERE state = 2'),
      countDelivering: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM jobs WHERE state = 5'),
      countByState: db.prepare<[], { state: number; n: number; iters: number }>('SELECT state, COUNT(*) AS n, COALESCE(SUM(iterations), 0) AS iters FROM jobs GROUP BY state'),
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
    this.recountHoldings();
  }

  /**
   * Opens (creating if needed) and migrates the store, holding the file
   * exclusively for as long as it is open. Refuses a database that is in use
   * by another process, corrupt, newer than this code, or missing where this
   * manager had already issued ids (a new empty queue would issue them again).
   */
  static open(file: string, managerIndex: number, opts: { disk?: Partial<Disk> } = {}): JobStore {
    let db: Database.Database | undefined;
    const markFile = idMarkFile(file);
    const fresh = freshQueueFile(file);
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const existed = existsSync(file);
      const mark = readIdMark(markFile);
      const startFresh = !existed && mark !== null && mark > 0;
      if (startFresh && !existsSync(fresh)) {
        throw new DynworkError(
          'store_error',
          `queue database ${file} is missing but this manager had issued job ids up to ${makeJobId(mark, managerIndex)}; restore it, or start a fresh queue (its ids continue past those) by creating ${fresh}`,
          { hint: `restore the file, or: touch ${fresh} and start the manager again (dynwork deploy)` },
        );
      }
      db = new Database(file);
      // Before the first access: with EXCLUSIVE, WAL keeps its index in this
      // process's memory and the file stays locked until close, so a second
      // manager on the same data directory cannot open it at all.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      // Statement and savepoint journals (only ever needed to undo part of an
      // open transaction, never after a crash) in memory: in a file they cost
      // a write syscall per page touched, most of a completion's time.
      db.pragma('temp_store = MEMORY');
      if (existed) {
        const check = db.pragma('quick_check', { simple: true }) as string;
        if (check !== 'ok') throw Object.assign(new Error(`quick_check: ${check}`), { code: 'SQLITE_CORRUPT' });
      }
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > MIGRATIONS.length) {
        db.close();
        throw new DynworkError('store_error', `queue database ${file} has schema version ${version}, newer than this dynwork (${MIGRATIONS.length})`, {
          hint: 'run the dynwork version that created it, or a newer one',
        });
      }
      const conn = db;
      let lastSeq = 0;
      conn
        .transaction(() => {
          for (let v = version; v < MIGRATIONS.length; v++) {
            conn.exec(MIGRATIONS[v] as string);
            conn.pragma(`user_version = ${v + 1}`);
          }
          lastSeq = conn.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").get()?.seq ?? 0;
          // Ids up to the mark may have been handed out (the mark reserves
          // ahead, and a restored older file knows fewer): continue past it.
          if (mark !== null && mark > lastSeq) {
            conn.prepare("DELETE FROM sqlite_sequence WHERE name = 'jobs'").run();
            conn.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)").run(mark);
            lastSeq = mark;
          }
        })
        .immediate();
      if (mark === null || mark < lastSeq) writeIdMark(markFile, lastSeq);
      if (startFresh) rmSync(fresh, { force: true });
      return new JobStore(file, managerIndex, conn, lastSeq, Math.max(lastSeq, mark ?? 0), opts.disk);
    } catch (err) {
      if (db?.open) db.close();
      throw openError(file, fresh, err);
    }
  }

  /**
   * Runs `fn` as one transaction: the store's calls in it, and groups in it,
   * are savepoints of it (one that throws is undone alone) and share its one
   * commit, so its one fsync. Nothing in it is durable before this returns.
   */
  group<T>(fn: () => T, synced = true): T {
    if (this.grouping) return this.tx(fn);
    this.assertFileIntact();
    this.grouping = true;
    try {
      return this.tx(fn, synced);
    } finally {
      this.grouping = false;
      this.seen = statSync(this.file, { bigint: true, throwIfNoEntry: false }) ?? this.seen;
    }
  }

  /**
   * Resolves once every commit so far is on disk: after `group(fn, false)`,
   * the answer to its durable writes waits for this, and the event loop goes
   * on meanwhile. Fails (for good, like every write after it) if the disk
   * could not sync.
   */
  durable(): Promise<void> {
    return this.wal.durable().catch(this.syncFailed);
  }

  /** A sync of the WAL is running off the event loop. */
  get syncing(): boolean {
    return this.wal.busy;
  }

  /**
   * Resolves once the syncs asked for so far are done, asking for none: the
   * next group waits for it, so nothing reads what a power cut could still
   * take back (a result whose completion is not on disk yet).
   */
  settled(): Promise<void> {
    return this.wal.settled().catch(this.syncFailed);
  }

  /** Enqueues all jobs in one transaction (all or nothing); returns their ids in order. */
  enqueue(jobs: readonly NewJob[], now: number): number[] {
    this.assertFileIntact();
    this.reserveIds(jobs.length);
    return this.tx(() => {
      const ids: number[] = [];
      let iters = 0;
      for (const job of jobs) {
        const r = this.stmt.insert.run(job.iterations, job.data, now);
        ids.push(makeJobId(Number(r.lastInsertRowid), this.managerIndex));
        iters += job.iterations;
      }
      if (jobs.length > 0) this.lastSeq = seqOf(ids[ids.length - 1]!);
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
    this.assertFileIntact();
    if (this.tally.queued === 0 || max < 1) return [];
    return this.softTx(() => {
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
      const rows = this.stmt.lease.all(owner, now + leaseMs, now, take);
      rows.sort((a, b) => a.seq - b.seq);
      let iters = 0;
      for (const r of rows) iters += r.iterations;
      this.tally.queued -= rows.length;
      this.tally.queuedIterations -= iters;
      this.tally.running += rows.length;
      this.hold(owner, rows.length, iters);
      return rows.map((r) => ({ id: makeJobId(r.seq, this.managerIndex), data: r.data, iterations: r.iterations }));
    });
  }

  /** Records results of jobs `owner` still holds; the rest (lease lost, already done, not ours) are rejected. */
  complete(owner: string, results: readonly PulledJob[], now: number): { accepted: number[]; rejected: number[] } {
    this.assertFileIntact();
    // By sequence number, the first result of each job (a repeat is rejected, as a second completion would be).
    const bySeq: Record<number, string> = {};
    for (const { id, result } of results) if (this.owns(id)) bySeq[seqOf(id)] ??= result;
    return this.tx(() => {
      const done = new Set<number>();
      let iters = 0;
      for (const row of this.stmt.complete.all(now, JSON.stringify(bySeq), owner)) {
        done.add(row.seq);
        iters += row.iterations;
      }
      const accepted: number[] = [];
      const rejected: number[] = [];
      for (const { id } of results) {
        // Deleted once taken, so a repeated id is rejected.
        if (this.owns(id) && done.delete(seqOf(id))) accepted.push(id);
        else rejected.push(id);
      }
      this.tally.running -= accepted.length;
      this.hold(owner, -accepted.length, -iters);
      this.tally.completed += accepted.length;
      return { accepted, rejected };
    });
  }

  /** Pushes back the deadline of leases `owner` still holds. */
  extend(owner: string, ids: readonly number[], leaseMs: number, now: number): { extended: number[]; lost: number[] } {
    this.assertFileIntact();
    return this.softTx(() => {
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
    this.assertFileIntact();
    if (this.tally.running === 0) return { requeued: [], failed: [] };
    return this.tx(() => {
      this.stmt.attemptsExpire.run(now, maxAttempts, now);
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
      // RETURNING gives the rows as updated, without their holder: count again (expiry is rare).
      if (rows.length > 0) this.recountHoldings();
      return { requeued: requeued.sort((a, b) => a - b), failed: failed.sort((a, b) => a - b) };
    });
  }

  /**
   * Hands out up to `top` completed results under `receipt` until `leaseMs`
   * from now: they are pulled once the receipt is acknowledged, and return to
   * "completed" if it is released or runs out, so a result whose answer never
   * reached its reader is never lost.
   *
   * `inMemory` (a plain pull, settled when its answer is written, within the
   * request): the hold is kept here, not written, so a result costs one write
   * (the acknowledgement) instead of two: 5.6 against 10.2 µs a result. If
   * this process ends first the results are simply still "completed"; an
   * answer that a reader never takes in runs out like a receipt.
   */
  reserve(top: number, receipt: string, leaseMs: number, now: number, inMemory = false): PulledJob[] {
    this.assertFileIntact();
    if (this.tally.completed === 0 || top < 1) return [];
    // Oldest completion first, past the results being written to plain pulls' readers (the oldest, so first in the index).
    let take: { seq: number; result: string }[] = [];
    if (this.handed.size === 0) take = this.stmt.completedHead.all(top);
    else {
      for (const r of this.stmt.completedHead.iterate(top + this.handed.size)) {
        if (!this.handed.has(r.seq)) take.push(r);
        if (take.length === top) break;
      }
    }
    if (take.length === 0) return [];
    const seqs = take.map((r) => r.seq);
    if (inMemory) {
      this.handing.set(receipt, { seqs, expiresAt: now + leaseMs });
      for (const seq of seqs) this.handed.add(seq);
      this.handJournal.push(receipt);
    } else {
      this.softTx(() => {
        const n = this.stmt.reserve.run(receipt, now + leaseMs, JSON.stringify(seqs)).changes;
        if (n !== seqs.length) throw new DynworkError('store_error', `reserved ${n} of ${seqs.length} completed results`);
      });
    }
    this.tally.completed -= take.length;
    this.tally.delivering += take.length;
    return take.map((r) => ({ id: makeJobId(r.seq, this.managerIndex), result: r.result }));
  }

  /** Marks the results held under `receipt` pulled; returns how many (0 once it was released or ran out). */
  ack(receipt: string, now: number): number {
    this.assertFileIntact();
    if (this.tally.delivering === 0) return 0;
    // A hold ends here whatever happens to the write: if it fails, the results are "completed" again (tx counts them anew).
    const held = this.unhand(receipt);
    return this.tx(() => {
      const n = held ? this.stmt.pulled.run(now, JSON.stringify(held)).changes : this.stmt.ack.run(now, receipt).changes;
      this.tally.delivering -= held ? held.length : n;
      return n;
    });
  }

  /** Puts the results held under `receipt` back to "completed"; returns how many. */
  release(receipt: string): number {
    this.assertFileIntact();
    if (this.tally.delivering === 0) return 0;
    const held = this.unhand(receipt);
    if (held) return this.returned(held.length);
    return this.tx(() => this.returned(this.stmt.release.run(receipt).changes));
  }

  /** Ends an in-memory hold; returns what it held. */
  private unhand(receipt: string): number[] | undefined {
    const held = this.handing.get(receipt)?.seqs;
    if (held) {
      this.handing.delete(receipt);
      for (const seq of held) this.handed.delete(seq);
    }
    return held;
  }

  /** Results whose receipt ran out go back to "completed"; returns how many. */
  expireReceipts(now: number): number {
    this.assertFileIntact();
    if (this.tally.delivering === 0) return 0;
    let n = 0;
    for (const [receipt, { expiresAt }] of this.handing) if (expiresAt <= now) n += this.returned(this.unhand(receipt)!.length);
    return n + this.tx(() => this.returned(this.stmt.expireReceipts.run(now).changes));
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
    this.assertFileIntact();
    if (!this.owns(id)) return null;
    return this.tx(() => {
      const seq = seqOf(id);
      const before = this.stmt.stateOf.get(seq);
      if (!before) return null;
      // Cancelling twice is one cancel: a retried call must not turn into an error.
      if (before.state === CANCELLED) return this.get(id);
      if (before.state !== QUEUED && before.state !== LEASED) throw this.finished(id, before.state, 'cancel');
      this.stmt.attemptEnd.run(now, 'cancelled', seq);
      this.stmt.cancel.run(now, seq);
      if (before.state === QUEUED) {
        this.tally.queued--;
        this.tally.queuedIterations -= before.iterations;
      } else {
        this.tally.running--;
        this.recountHoldings();
      }
      return this.get(id);
    });
  }

  /** Queues a failed or cancelled job again (its attempt count starts over). Null when not here; throws `conflict` otherwise. */
  retry(id: number): JobView | null {
    this.assertFileIntact();
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
    this.assertFileIntact();
    if (this.tally.failed === 0) return [];
    return this.tx(() => {
      const ids = this.requeued(this.stmt.retryFailed.all());
      this.tally.failed -= ids.length;
      return ids.sort((a, b) => a - b);
    });
  }

  /** Deletes pulled and failed jobs older than `before`; returns how many went. */
  purge(before: number): number {
    this.assertFileIntact();
    return this.tx(() => {
      this.stmt.purgeAttempts.run(before, before, before);
      return this.stmt.purgePulled.run(before).changes + this.stmt.purgeFailed.run(before).changes + this.stmt.purgeCancelled.run(before).changes;
    });
  }

  counts(): Readonly<StoreCounts> {
    return { ...this.tally };
  }

  /** How many jobs each worker holds a lease on now. */
  leaseHolders(): Map<string, number> {
    return new Map([...this.holdings].map(([owner, h]) => [owner, h.jobs]));
  }

  /** What each worker holds a lease on now (a live view: do not change it). */
  holdingsByWorker(): ReadonlyMap<string, Readonly<Holding>> {
    return this.holdings;
  }

  private hold(owner: string, jobs: number, iterations: number): void {
    const h = this.holdings.get(owner) ?? { jobs: 0, iterations: 0 };
    h.jobs += jobs;
    h.iterations += iterations;
    if (h.jobs <= 0) this.holdings.delete(owner);
    else this.holdings.set(owner, h);
  }

  private recountHoldings(): void {
    this.holdings = new Map(this.stmt.holders.all().map((r) => [r.owner, { jobs: r.n, iterations: r.iters }]));
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
      this.db.close();
      this.wal.close(this.wal.failed ?? undefined);
    } catch (err) {
      if (this.db.open) this.db.close();
      this.wal.close(err as Error);
      throw err;
    }
    // Nothing past lastSeq was handed out: shrink the reservation so a clean
    // restart continues where this run stopped instead of a block further on.
    if (this.reservedSeq > this.lastSeq) {
      try {
        writeIdMark(this.markFile, this.lastSeq);
      } catch {
        // the larger mark stays: still safe, ids merely skip ahead
      }
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
      // The id mark beside the queue covers these ids before they exist, as for any enqueue.
      this.reserveIds(n);
      const r = this.batchStmt.move.run(now, id);
      if (r.changes !== n) throw new DynworkError('store_error', `staged batch moved ${r.changes} of ${n} jobs`);
      // One writer, one transaction: AUTOINCREMENT hands out consecutive seqs in SELECT order.
      const first = n === 0 ? 0 : Number(r.lastInsertRowid) - n + 1;
      if (n > 0) this.lastSeq = first + n - 1;
      this.batchStmt.dropStaged.run(id);
      this.batchStmt.commit.run(now, parts, first, n, id);
      this.tally.queued += n;
      this.tally.queuedIterations += iters;
      return { kind: 'committed', fresh: true, ids: Array.from({ length: n }, (_, i) => makeJobId(first + i, this.managerIndex)) };
    });
  }

  /** Drops batches never committed that were started before `stagedBefore`, and records of commits before `committedBefore`. */
  purgeBatches(stagedBefore: number, committedBefore: number): number {
    this.assertFileIntact();
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
      move: db.prepare<[number, string]>('INSERT INTO jobs (iterations, data, enqueued_at) SELECT iterations, data, ? FROM enqueue_staged WHERE batch = ? ORDER BY part, line'),
      dropStaged: db.prepare<[string]>('DELETE FROM enqueue_staged WHERE batch = ?'),
      commit: db.prepare<[number, number, number, number, string]>('UPDATE enqueue_batches SET committed_at = ?, parts = ?, first_seq = ?, count = ? WHERE id = ?'),
      purgeStaged: db.prepare<[number]>('DELETE FROM enqueue_staged WHERE batch IN (SELECT id FROM enqueue_batches WHERE committed_at IS NULL AND created_at < ?)'),
      purgeBatches: db.prepare<[number, number]>('DELETE FROM enqueue_batches WHERE (committed_at IS NULL AND created_at < ?) OR committed_at < ?'),
    };
  }

  /**
   * Throws when the database file was removed, replaced, made read-only or
   * written by another process since this one last wrote it, or its WAL was
   * removed: writing on would only reach an orphan or a file we misread.
   */
  private assertFileIntact(): void {
    if (this.tampered) throw this.tampered;
    // The group checked it as it began, and nothing else runs until it ends.
    if (this.grouping) return;
    let st: BigIntStats;
    try {
      st = statSync(this.file, { bigint: true });
      if (st.ino !== this.ino) throw new Error('the file was replaced');
      if (this.walIno !== null && statSync(`${this.file}-wal`, { bigint: true }).ino !== this.walIno) throw new Error('its WAL file was replaced');
      accessSync(this.file, constants.W_OK);
    } catch (err) {
      throw new DynworkError('store_error', `queue database ${this.file} is unavailable: ${(err as Error).message}`, { cause: err });
    }
    if (st.size !== this.seen.size || st.mtimeNs !== this.seen.mtimeNs) {
      this.tampered = new DynworkError('store_error', `queue database ${this.file} is unavailable: another process wrote into it (corrupted?); this manager writes nothing more to it`);
      throw this.tampered;
    }
  }

  /** Moves the mark on disk past the ids about to be issued, a block at a time, before they exist. */
  private reserveIds(count: number): void {
    if (this.lastSeq + count <= this.reservedSeq) return;
    const next = Math.ceil((this.lastSeq + count + 1) / ID_BLOCK) * ID_BLOCK;
    writeIdMark(this.markFile, next);
    this.reservedSeq = next;
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
            history: this.history(r),
          }
        : {}),
    };
  }

  /** Every attempt: the rows of those that ended other than by completing, and the last one from the job's row. */
  private history(r: JobRow): NonNullable<JobView['history']> {
    const rows = this.stmt.attempts.all(r.seq);
    const out = rows.map((a) => ({ attempt: a.attempt, workerId: a.worker_id, startedAt: new Date(a.started_at).toISOString(), endedAt: iso(a.ended_at), outcome: a.outcome ?? 'running' }));
    const current = r.state === LEASED || r.state === COMPLETED || r.state === DELIVERING || r.state === PULLED;
    // A store older than leased_at wrote a row for every attempt.
    if (current && r.lease_owner !== null && r.leased_at !== null && !rows.some((a) => a.attempt === r.tries)) {
      const running = r.state === LEASED;
      out.push({
        attempt: r.tries,
        workerId: r.lease_owner,
        startedAt: new Date(r.leased_at).toISOString(),
        endedAt: running ? null : iso(r.completed_at),
        outcome: running ? 'running' : 'completed',
      });
    }
    return out;
  }

  private returned(n: number): number {
    this.tally.delivering -= n;
    this.tally.completed += n;
    return n;
  }

  /** A failed sync of the WAL: what it covered may be lost, so nothing more is written here. Throws. */
  private readonly syncFailed = (err: Error): never => {
    throw (this.tampered ??= new DynworkError('store_error', `queue database ${this.file} is unavailable: the disk failed to save its log (${err.message}); this manager writes nothing more to it`, {
      cause: err,
      hint: 'check the disk, then restart the manager: it recovers the queue from what is on disk',
    }));
  };

  private owns(id: number): boolean {
    return Number.isSafeInteger(id) && id > 0 && ownerOf(id) === this.managerIndex;
  }

  /**
   * A write whose loss in a power cut costs only a repeat: a lease (the job
   * runs again), its extension (it expires sooner), results reserved for a
   * reader (they are handed out again). It is not synced when it commits, so
   * the lease and pull paths do not wait for the disk; the next synced commit
   * (every enqueue, completion, acknowledgement) or checkpoint writes it
   * along, and a crash of the process alone loses nothing (WAL). Inside a
   * group, the group's commit decides (GroupCommit: synced when any of its
   * writes must be).
   */
  private softTx<T>(fn: () => T): T {
    return this.tx(fn, false);
  }

  /**
   * Runs `fn` in a transaction of its own, or, inside `group`, in a savepoint
   * of the group's. Whatever is rolled back, the counts go back with it.
   */
  private tx<T>(fn: () => T, synced = true): T {
    const tally = { ...this.tally };
    const lastSeq = this.lastSeq;
    const journal = this.handJournal.length;
    const nested = this.db.inTransaction;
    // SQLite refuses to change the safety level inside a transaction: only the outermost one sets it.
    const soft = !synced && !nested;
    try {
      if (soft) this.db.pragma('synchronous = NORMAL');
      return nested ? this.atomic(fn) : this.atomic.immediate(fn);
    } catch (err) {
      Object.assign(this.tally, tally);
      this.lastSeq = lastSeq;
      for (const receipt of this.handJournal.splice(journal)) this.unhand(receipt);
      // Rolled back by now (to the savepoint, or the whole transaction): count the leases and results again from what stands.
      try {
        this.recountHoldings();
        this.tally.completed = (this.stmt.countCompleted.get()?.n ?? 0) - this.handed.size;
        this.tally.delivering = (this.stmt.countDelivering.get()?.n ?? 0) + this.handed.size;
      } catch {
        // The database itself failed; the error below says so.
      }
      if (err instanceof DynworkError) throw err;
      throw new DynworkError('store_error', `queue database write failed: ${(err as Error).message}`, { cause: err });
    } finally {
      if (soft) this.db.pragma('synchronous = FULL');
      if (!nested) this.handJournal.length = 0;
      // A commit may checkpoint into the file: that write is ours.
      if (!this.grouping) this.seen = statSync(this.file, { bigint: true, throwIfNoEntry: false }) ?? this.seen;
    }
  }
}

function iso(t: number | null): string | null {
  return t === null ? null : new Date(t).toISOString();
}

/** What went wrong opening the queue, said so that the manager's one error line tells the operator what to do. */
function openError(file: string, fresh: string, err: unknown): DynworkError {
  if (err instanceof DynworkError) return err;
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new DynworkError('store_error', `queue database ${file} is in use by another process (a second manager on the same data directory?); refusing to serve it twice`, {
      cause: err,
      hint: 'stop the other manager first: one manager per queue',
    });
  }
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) {
    return new DynworkError('store_error', `queue database ${file} is corrupt (${message}); refusing to start on it`, {
      cause: err,
      hint: `restore it from a backup, or move it aside and touch ${fresh} to start a fresh queue (its ids continue past the old ones)`,
    });
  }
  return new DynworkError('store_error', `cannot open queue database ${file}: ${message}`, { cause: err });
}

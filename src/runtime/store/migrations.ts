/**
 * Numbered, append-only schema migrations: never edit one that has shipped,
 * add the next. `user_version` records how many have run.
 *
 * Job states: 0 queued, 1 leased (running), 2 completed, 3 pulled, 4 failed,
 * 5 delivering (handed to a puller under a receipt, not yet acknowledged),
 * 6 cancelled.
 *
 * `attempts` counts leases toward the poison-job limit (a retry resets it);
 * `tries` counts every lease ever, numbering the rows of the attempts table.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: a purged id is never handed out again
    state INTEGER NOT NULL DEFAULT 0,
    iterations INTEGER NOT NULL,
    data TEXT,                              -- dropped once the job completes
    enqueued_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    result TEXT,
    completed_at INTEGER,                   -- completion time, or failure time for failed jobs
    pulled_at INTEGER,
    error TEXT
  );
  CREATE INDEX jobs_queued ON jobs(seq) WHERE state = 0;
  CREATE INDEX jobs_leased ON jobs(lease_expires_at) WHERE state = 1;
  CREATE INDEX jobs_completed ON jobs(completed_at, seq) WHERE state = 2;
  CREATE INDEX jobs_done ON jobs(pulled_at) WHERE state = 3;
  CREATE INDEX jobs_failed ON jobs(completed_at) WHERE state = 4;
  `,
  `
  ALTER TABLE jobs ADD COLUMN receipt TEXT;
  ALTER TABLE jobs ADD COLUMN receipt_expires_at INTEGER;
  CREATE INDEX jobs_delivering ON jobs(receipt) WHERE state = 5;
  CREATE INDEX jobs_delivering_expiry ON jobs(receipt_expires_at) WHERE state = 5;
  CREATE INDEX jobs_cancelled ON jobs(completed_at) WHERE state = 6;
  ALTER TABLE jobs ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;
  UPDATE jobs SET tries = attempts;
  CREATE TABLE attempts (
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    outcome TEXT,                           -- completed | lease expired | failed | cancelled
    PRIMARY KEY (seq, attempt)
  ) WITHOUT ROWID;
  `,
  // Staged uploads (POST /enqueue/batches): parts wait here until one commit
  // moves them all into jobs. A committed batch keeps its id range so a
  // repeated commit answers the same ids.
  `
  CREATE TABLE enqueue_batches (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    committed_at INTEGER,
    parts INTEGER,                          -- set at commit
    first_seq INTEGER,                      -- committed jobs are seq first_seq … first_seq + count - 1
    count INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX enqueue_batches_created ON enqueue_batches(created_at);
  CREATE TABLE enqueue_staged (
    batch TEXT NOT NULL,
    part INTEGER NOT NULL,
    line INTEGER NOT NULL,
    iterations INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (batch, part, line)
  ) WITHOUT ROWID;
  `,
  // The attempt under way lives on its job's row from here on (the worker
  // stays in lease_owner after completion); attempts keeps those that ended
  // otherwise. Open rows of running jobs move onto their job.
  `
  ALTER TABLE jobs ADD COLUMN leased_at INTEGER;
  UPDATE jobs SET leased_at = (SELECT started_at FROM attempts WHERE attempts.seq = jobs.seq AND attempts.attempt = jobs.tries) WHERE state = 1;
  DELETE FROM attempts WHERE ended_at IS NULL AND seq IN (SELECT seq FROM jobs WHERE state = 1);
  `,
];

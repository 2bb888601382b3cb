import type { ManagerConfig } from '../../settings/manager.js';
import type { Logger } from '../../log.js';
import type { JobStore } from '../store/job-store.js';
import type { EnqueueBatcher } from './enqueue-batcher.js';
import type { EventLog } from './event-log.js';
import type { GroupCommit } from './group-commit.js';
import type { History } from './history.js';
import type { LeaseAskers } from './lease-shares.js';
import type { LogRing } from '../log-ring.js';
import type { Waiters } from './waiters.js';
import type { ManagerMetrics } from './metrics.js';
import type { Peers } from './peers.js';
import type { Throughput } from './throughput.js';
import type { WorkerRegistry } from './worker-registry.js';

/** Everything the HTTP handlers share; built once by startManager. */
export interface ManagerContext {
  config: ManagerConfig;
  store: JobStore;
  batcher: EnqueueBatcher;
  /** The store writes of request handlers go through here, so that a turn's writes share one commit. */
  writes: GroupCommit;
  /** Parked lease long-polls: woken when jobs may be available. */
  waiters: Waiters;
  /** Parked /pullCompleted long-polls: woken when results arrive. */
  resultWaiters: Waiters;
  workers: WorkerRegistry;
  /** Who is competing for the queue now, for fair lease shares. */
  askers: LeaseAskers;
  metrics: ManagerMetrics;
  throughput: Throughput;
  peers: Peers;
  logger: Logger;
  now: () => number;
  startedAt: number;
  version: string;
  /** The URL this manager really listens on (set once bound). */
  url: () => string;
  isLeader: () => boolean;
  /** Recent notable events for /status (bounded). */
  events: EventLog;
  /** The last hour, sampled, for the dashboard (bounded). */
  history: History;
  /** This manager's recent log lines, when its logger keeps them (bounded). */
  ownLogs: LogRing | undefined;
  /** Recent log lines its workers sent (bounded). */
  workerLogs: LogRing;
  /** Aborted when the manager starts shutting down: long-polls answer at once. */
  closing: AbortSignal;
}

/**
 * One manager as the worker sees it: the calls it answers, the lease length
 * it last gave, and whether it is answering. A run of failures is logged
 * loudly once (then once per FAILURE_LOG_MS); its end is logged, and cuts the
 * backoff waits of the other calls to it short.
 */
import type { ManagerClient } from '../../client/manager-client.js';
import type { Logger } from '../../log.js';
import type { Clock } from './clock.js';

const FAILURE_LOG_MS = 30_000;

/** The part of ManagerClient the worker uses (tests pass a fake). */
export type ManagerCalls = Pick<ManagerClient, 'url' | 'lease' | 'complete' | 'heartbeat' | 'close'>;
export type LeasedJob = Awaited<ReturnType<ManagerCalls['lease']>>['jobs'][number];
export type CompleteAnswer = Awaited<ReturnType<ManagerCalls['complete']>>;

export class ManagerLink {
  /** The lease length this manager gives, from its last answer. */
  leaseMs = 30_000;
  reachable = true;
  /** When this manager last answered any call. */
  lastAnswerAt: number;
  /** When it first answered; null until it has. */
  firstAnswerAt: number | null = null;
  /** When the current run of failures began (for the "answering again" log). */
  private failingSince = 0;
  /** Last loud failure log: a flapping manager is logged loudly once per FAILURE_LOG_MS. */
  private warnedAt = -Infinity;
  private kicker = new AbortController();

  constructor(
    readonly index: number,
    readonly client: ManagerCalls,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.lastAnswerAt = clock.now();
  }

  /** Aborted when the manager answers again, to cut the backoff waits short. */
  get kick(): AbortSignal {
    return this.kicker.signal;
  }

  answered(): void {
    const now = this.clock.now();
    this.lastAnswerAt = now;
    this.firstAnswerAt ??= now;
    if (this.reachable) return;
    this.reachable = true;
    const fields = { manager: this.index, url: this.client.url, failedForMs: now - this.failingSince };
    if (now - this.failingSince >= 1_000) this.logger.info('manager answering again', fields);
    else this.logger.debug('manager answering again', fields);
    // Retry what was backing off now, not after the current wait.
    const kick = this.kicker;
    this.kicker = new AbortController();
    kick.abort(new Error('manager is back'));
  }

  /** A call failed (no answer, or an error answer): log the first failure of a run loudly. */
  failed(call: string, error: unknown, attempt: number): void {
    const now = this.clock.now();
    const fields = { manager: this.index, call, attempt, code: (error as { code?: string }).code, err: error as Error };
    if (this.reachable) {
      this.reachable = false;
      this.failingSince = now;
    }
    if (now - this.warnedAt >= FAILURE_LOG_MS) {
      this.warnedAt = now;
      this.logger.warn('manager calls failing; backing off', fields);
    } else {
      this.logger.debug('manager calls still failing', fields);
    }
  }

  /** Ends every wait on this manager (the worker is stopping). */
  stop(): void {
    this.kicker.abort(new Error('worker stopped'));
  }
}

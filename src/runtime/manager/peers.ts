import { ManagerClient } from '../../client/manager-client.js';
import type { Endpoint } from '../../settings/manager.js';
import type { Logger } from '../../log.js';
import type { DashboardPart, JobView, ManagerStatus, PulledJob } from '../../protocol/index.js';
import type { ReceiptPart } from '../../protocol/receipt.js';
import { managerIdentity } from '../../protocol/tls-identity.js';
import { HttpError } from './http-error.js';

/**
 * The other managers, seen from this one. Every call is bounded by the peer
 * timeout and a failure degrades to "nothing from that peer", never an error.
 */
export class Peers {
  /** Internal calls (peer pull, status) use the worker token. */
  private readonly clients: Map<number, ManagerClient>;
  /** Job look-ups go through the public API, with the client token. */
  private readonly publicClients: Map<number, ManagerClient>;

  constructor(
    endpoints: readonly Endpoint[],
    tokens: { clientToken: string; workerToken: string },
    timeoutMs: number,
    private readonly logger: Logger,
    /** When set, each peer must prove it is that cluster's manager of its index before any token goes to it. */
    tls?: { ca: string; cluster: string },
  ) {
    const pin = (index: number) => (tls ? { pin: { ca: tls.ca, identity: managerIdentity(tls.cluster, index) } } : {});
    const make = (token: string) => new Map(endpoints.map((e) => [e.index, new ManagerClient({ endpoint: e, token, timeoutMs, retry: { retries: 0 }, ...pin(e.index) })]));
    this.clients = make(tokens.workerToken);
    this.publicClients = make(tokens.clientToken);
  }

  get indexes(): number[] {
    return [...this.clients.keys()].sort((a, b) => a - b);
  }

  /**
   * Takes up to `top` results from the peers under receipts, one peer after
   * another so none hands out more than is still wanted. A peer that answers
   * too late keeps nothing: what it took returns when its receipt runs out.
   */
  async reserve(top: number, leaseMs: number): Promise<{ parts: ReceiptPart[]; results: PulledJob[] }> {
    const parts: ReceiptPart[] = [];
    const results: PulledJob[] = [];
    for (const [index, client] of this.clients) {
      const want = top - results.length;
      if (want <= 0) break;
      try {
        const got = await client.peerReserve(want, leaseMs);
        if (got.results.length === 0) continue;
        parts.push({ index, token: got.token });
        results.push(...got.results);
      } catch (err) {
        this.logger.warn('peer pull failed; answering without it', { peer: index, err: err as Error });
      }
    }
    return { parts, results };
  }

  /** Acknowledges or releases a peer's part of a receipt; 0 for a manager that is not a peer. Throws when the peer cannot be reached. */
  async settle(part: ReceiptPart, how: 'ack' | 'release'): Promise<number> {
    const client = this.clients.get(part.index);
    if (!client) return 0;
    return client.peerSettle(part.token, how);
  }

  async getJob(index: number, id: number): Promise<JobView | null | undefined> {
    return this.onJob(index, id, 'job lookup', (c) => c.getJob(id));
  }

  /**
   * Cancels or retries a peer's job: the job, null when the peer has no such
   * job, undefined when it did not answer. A refusal (409) is the peer's
   * answer and is passed on.
   */
  async jobAction(index: number, id: number, action: 'cancel' | 'retry'): Promise<JobView | null | undefined> {
    return this.onJob(index, id, `job ${action}`, (c) => (action === 'cancel' ? c.cancelJob(id) : c.retryJob(id)));
  }

  /** Every peer's jobs in `state` (at most `limit` each); a peer that does not answer adds none. */
  async listJobs(state: string, limit: number): Promise<JobView[]> {
    const lists = await Promise.all(
      [...this.publicClients].map(([index, c]) =>
        c.listJobs(state, { limit, local: true }).catch((err: unknown) => {
          this.logger.warn('peer job list failed; answering without it', { peer: index, err: err as Error });
          return [];
        }),
      ),
    );
    return lists.flat();
  }

  /** Queues every peer's failed jobs again; the ids. */
  async retryFailed(): Promise<number[]> {
    const lists = await Promise.all(
      [...this.publicClients].map(([index, c]) =>
        c.retryFailed({ local: true }).catch((err: unknown) => {
          this.logger.warn('peer retry failed', { peer: index, err: err as Error });
          return [];
        }),
      ),
    );
    return lists.flat();
  }

  private async onJob(index: number, id: number, what: string, call: (c: ManagerClient) => Promise<JobView>): Promise<JobView | null | undefined> {
    const client = this.publicClients.get(index);
    if (!client) return undefined;
    try {
      return await call(client);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 404) return null;
      if (status === 409) throw new HttpError(409, 'conflict', (err as Error).message);
      this.logger.warn(`peer ${what} failed`, { peer: index, jobId: id, err: err as Error });
      return undefined;
    }
  }

  /** Every peer's own and its workers' recent log lines; a peer that does not answer adds none. */
  async logs(): Promise<string[]> {
    const all = await Promise.all([...this.publicClients.values()].map((c) => c.logs({ local: true }).catch(() => [] as string[])));
    return all.flat();
  }

  /** Each peer's part of the dashboard; null for a peer that did not answer in time. */
  async dashboards(): Promise<{ index: number; url: string; part: DashboardPart | null }[]> {
    return Promise.all([...this.publicClients].map(async ([index, client]) => ({ index, url: client.url, part: await client.dashboardPart().catch(() => null) })));
  }

  /** Whether a peer numbered below `index` answers /healthz as healthy (such a peer leads). */
  async anyHealthyBelow(index: number): Promise<boolean> {
    const lower = [...this.clients].filter(([i]) => i < index);
    const answers = await Promise.all(
      lower.map(([, client]) =>
        client.healthz().then(
          (h) => h.ok,
          () => false,
        ),
      ),
    );
    return answers.includes(true);
  }

  /** Each peer's status, or null for a peer that did not answer in time. */
  async statuses(): Promise<{ index: number; status: ManagerStatus | null }[]> {
    return Promise.all(
      [...this.clients].map(async ([index, client]) => {
        try {
          return { index, status: await client.status() };
        } catch {
          return { index, status: null };
        }
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values(), ...this.publicClients.values()].map((c) => c.close()));
  }
}

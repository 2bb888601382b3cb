import { ManagerClient } from '../../client/manager-client.js';
import type { Endpoint } from '../config.js';
import type { Logger } from '../log.js';
import { managerIdentity } from '../tls-identity.js';
import type { JobView, ManagerStatus, PulledJob } from '../protocol.js';

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
    const make = (token: string) =>
      new Map(endpoints.map((e) => [e.index, new ManagerClient({ endpoint: e, token, timeoutMs, retry: { retries: 0 }, ...pin(e.index) })]));
    this.clients = make(tokens.workerToken);
    this.publicClients = make(tokens.clientToken);
  }

  get indexes(): number[] {
    return [...this.clients.keys()].sort((a, b) => a - b);
  }

  /**
   * Fills up to `top` results from the peers, one after another so no peer
   * hands out more than is still wanted (a result handed out is gone).
   */
  async pull(top: number): Promise<PulledJob[]> {
    const out: PulledJob[] = [];
    for (const [index, client] of this.clients) {
      const want = top - out.length;
      if (want <= 0) break;
      try {
        out.push(...(await client.peerPull(want)));
      } catch (err) {
        this.logger.warn('peer pull failed; answering without it', { peer: index, err: err as Error });
      }
    }
    return out;
  }

  async getJob(index: number, id: number): Promise<JobView | null | undefined> {
    const client = this.publicClients.get(index);
    if (!client) return undefined;
    try {
      return await client.getJob(id);
    } catch (err) {
      if ((err as { status?: number }).status === 404) return null;
      this.logger.warn('peer job lookup failed', { peer: index, jobId: id, err: err as Error });
      return undefined;
    }
  }

  /** Whether a peer numbered below `index` answers /healthz as healthy (such a peer leads). */
  async anyHealthyBelow(index: number): Promise<boolean> {
    const lower = [...this.clients].filter(([i]) => i < index);
    const answers = await Promise.all(lower.map(([, client]) => client.healthz().then((h) => h.ok, () => false)));
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

import { ManagerClient, TransportError } from '../client/manager-client.js';
import { DynworkError } from '../errors.js';
import type { ClusterState } from '../settings/cluster-state.js';
import { readClusterState } from '../state/cluster-state.js';
import type { NewJob, PulledJob } from '../protocol/index.js';
import { managerIdentity } from '../protocol/tls-identity.js';

export interface ConnectedCluster {
  state: ClusterState;
  clients: { index: number; client: ManagerClient }[];
  close(): Promise<void>;
}

/** The deployed cluster's state, or a clear error saying how to deploy it. */
export function requireCluster(name: string): ClusterState {
  const state = readClusterState(name);
  if (!state) {
    throw new DynworkError('not_deployed', `cluster "${name}" is not deployed`, {
      hint: name === 'default' ? 'run: dynwork deploy' : `run: dynwork deploy --cluster ${name}`,
    });
  }
  return state;
}

export function connect(name: string, opts: { timeoutMs?: number } = {}): ConnectedCluster {
  const state = requireCluster(name);
  const clients = state.managers.map((m) => ({
    index: m.index,
    client: new ManagerClient({
      endpoint: { index: m.index, url: m.url, ...(m.endpointFile ? { endpointFile: m.endpointFile } : {}) },
      token: state.clientToken,
      timeoutMs: opts.timeoutMs ?? 10_000,
      ...(state.ca ? { pin: { ca: state.ca, identity: managerIdentity(state.name, m.index) } } : {}),
    }),
  }));
  return { state, clients, close: async () => void (await Promise.all(clients.map((c) => c.client.close()))) };
}

/**
 * Tries each manager in turn, moving on only when no connection could be made
 * (then the call cannot have acted, so no job is enqueued twice).
 */
export async function failover<T>(c: ConnectedCluster, call: (client: ManagerClient) => Promise<T>): Promise<T> {
  let last: unknown;
  for (const { client } of c.clients) {
    try {
      return await call(client);
    } catch (err) {
      if (!(err instanceof TransportError) || err.requestMayHaveArrived) throw err;
      last = err;
    }
  }
  throw new DynworkError('unreachable', `no manager of cluster "${c.state.name}" answered`, {
    cause: last,
    hint: `check with: dynwork status --cluster ${c.state.name}; bring managers back with: dynwork deploy --cluster ${c.state.name}`,
  });
}

export async function enqueueJobs(c: ConnectedCluster, jobs: NewJob[]): Promise<number[]> {
  if (jobs.length === 1) return [await failover(c, (m) => m.enqueue(jobs[0]!.data, jobs[0]!.iterations))];
  const ids: number[] = [];
  for (let i = 0; i < jobs.length; i += 10_000) {
    const chunk = jobs.slice(i, i + 10_000);
    ids.push(...(await failover(c, (m) => m.enqueueBatch(chunk))));
  }
  return ids;
}

export interface LeasedResults {
  receipt: string | null;
  results: PulledJob[];
}

/**
 * Takes up to `top` results held for us for `leaseMs` (see ManagerClient.pullLeased);
 * with `waitMs`, an empty answer waits that long for results to arrive
 * (results on other managers are looked for at the start).
 */
export function pullLeased(c: ConnectedCluster, top: number, leaseMs: number, waitMs = 0, signal?: AbortSignal): Promise<LeasedResults> {
  return failover(c, (m) => m.pullLeased(top, { leaseMs, ...(waitMs > 0 ? { waitMs } : {}), ...(signal ? { signal } : {}) }));
}

/** Confirms (`ack`) or gives back (`release`) a receipt's results at any manager that answers; how many it held. */
export function settleReceipt(c: ConnectedCluster, receipt: string, how: 'ack' | 'release'): Promise<number> {
  return failover(c, (m) => (how === 'ack' ? m.ackPulled(receipt) : m.releasePulled(receipt)));
}

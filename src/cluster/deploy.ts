import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ManagerClient } from '../client/manager-client.js';
import { DynworkError } from '../errors.js';
import type { Instance, Provider } from '../providers/types.js';
import { clusterDir, readClusterState, stateRoot, writeClusterState, type ClusterState } from '../state/cluster-state.js';
import { checkClusterName } from '../state/paths.js';
import { managerIdentity, type ManagerPin } from '../runtime/tls-identity.js';
import { localManagerTls } from './certificates.js';
import { withClusterLock } from './cluster-lock.js';
import { localMembers, managerConfigFor, memberEndpoint, scalingTimes, type AutoscaleSettings } from './manager-configs.js';
import { whyItStopped } from './manager-log.js';
import { withStep, type Progress } from './progress.js';

export interface DeployOptions {
  cluster: string;
  provider: 'local';
  /** @default 2 */
  managers?: number;
  /** Cluster-wide. @default one per core (local) */
  maxWorkers?: number;
  /** Scale up when the oldest queued job has waited this long. @default 20 */
  scaleUpAfterS?: number;
  /** Workers exit after this long idle. @default 300 */
  idleTimeoutS?: number;
  /** First manager's port; the others follow. @default 5000 */
  port?: number;
  /** How long to wait for managers to answer. @default 30 */
  waitS?: number;
  /** How long to wait for another deploy or teardown of this cluster to finish. @default 60 */
  lockWaitS?: number;
}

export interface DeployResult {
  cluster: string;
  provider: 'local';
  managers: { index: number; url: string; pid: number | null; action: 'created' | 'replaced' | 'unchanged' }[];
  clientToken: string;
  changed: boolean;
}

type Settings = Required<Omit<DeployOptions, 'cluster' | 'provider' | 'waitS' | 'lockWaitS'>>;

/**
 * Converges the cluster on `opts`: starts the managers that are missing or
 * dead (on their old data), restarts those whose config changed, and leaves
 * the rest alone, so a second run changes nothing.
 */
export async function deploy(opts: DeployOptions, provider: Provider, progress: Progress): Promise<DeployResult> {
  checkClusterName(opts.cluster);
  return withClusterLock(opts.cluster, 'deploy', progress, () => converge(opts, provider, progress), opts.lockWaitS);
}

async function converge(opts: DeployOptions, provider: Provider, progress: Progress): Promise<DeployResult> {
  const previous = readClusterState(opts.cluster);
  if (previous && previous.provider !== opts.provider) {
    throw new DynworkError('usage', `cluster "${opts.cluster}" runs on ${previous.provider}, not ${opts.provider}`, {
      hint: `tear it down first (dynwork teardown --cluster ${opts.cluster}) or pick another --cluster`,
    });
  }
  const settings = resolveSettings(opts, previous?.settings);
  const clientToken = previous?.clientToken ?? token();
  const workerToken = previous?.workerToken ?? token();
  const dir = clusterDir(opts.cluster);
  const members = localMembers(dir, settings.managers, settings.port);
  const ca = await withStep(progress, 'Cluster CA and manager certificates', () => localManagerTls(opts.cluster, members));
  const autoscale: AutoscaleSettings = {
    provider: opts.provider,
    root: stateRoot(),
    members,
    maxWorkers: settings.maxWorkers,
    ...scalingTimes(settings.scaleUpAfterS, settings.idleTimeoutS),
    workerThreads: 1,
    launchDeadlineMs: 30_000,
    heartbeatTimeoutMs: 30_000,
    managerDeadAfterMs: 10_000,
    workerNoManagerTimeoutMs: 600_000,
    workerMaxLifetimeMs: 24 * 3600_000,
  };
  const base = { cluster: opts.cluster, clientToken, workerToken, tls: { ca: ca.certPem }, autoscale };

  const running = await withStep(progress, 'Checking running managers', () => provider.list({ cluster: opts.cluster, role: 'manager' }));
  const byIndex = new Map<number, Instance>();
  for (const i of running) if (i.index !== undefined) byIndex.set(i.index, i);

  const out: DeployResult['managers'] = [];
  const launched: Instance[] = [];
  for (const m of members) {
    const config = managerConfigFor(base, m.index);
    const hash = configHash(config);
    const current = byIndex.get(m.index);
    const recorded = previous?.managers.find((x) => x.index === m.index);
    if (current && (!recorded || recorded.configHash === hash)) {
      out.push({ index: m.index, url: readUrl(m.endpointFile) ?? memberEndpoint(m).url, pid: current.pid ?? null, action: 'unchanged' });
      continue;
    }
    const action = current ? 'replaced' : recorded ? 'replaced' : 'created';
    await withStep(progress, `${current ? 'Restarting' : 'Starting'} manager ${m.index}`, async () => {
      if (current) await provider.terminate([current.id]);
      const [inst] = await provider.launch('manager', { cluster: opts.cluster, index: m.index, config });
      if (!inst) throw new DynworkError('provider_error', `the ${provider.name} provider started no manager ${m.index}`);
      launched.push(inst);
      out.push({ index: m.index, url: '', pid: inst.pid ?? null, action });
    });
  }

  await withStep(progress, `Waiting for ${members.length} managers to answer`, async (step) => {
    const deadline = Date.now() + (opts.waitS ?? 30) * 1000;
    for (const m of members) {
      const entry = out.find((o) => o.index === m.index)!;
      step.update(`Waiting for manager ${m.index} to answer`);
      const inst = launched.find((i) => i.index === m.index);
      const exited = inst ? async () => !(await provider.list({ cluster: opts.cluster, role: 'manager' })).some((i) => i.id === inst.id) : async () => false;
      const pin = { ca: ca.certPem, identity: managerIdentity(opts.cluster, m.index) };
      entry.url = await waitHealthy(m.endpointFile, entry.pid, pin, deadline, m.index, dir, { exited, ...(inst?.log ? { log: inst.log } : {}) });
    }
  });

  const state: ClusterState = {
    provider: opts.provider,
    name: opts.cluster,
    createdAt: previous?.createdAt ?? new Date().toISOString(),
    clientToken,
    workerToken,
    ca: ca.certPem,
    settings,
    managers: members.map((m) => {
      const o = out.find((x) => x.index === m.index)!;
      return { index: m.index, url: o.url, endpointFile: m.endpointFile, dataDir: m.dataDir, pid: o.pid, configHash: configHash(managerConfigFor(base, m.index)) };
    }),
  };
  writeClusterState(state);
  out.sort((a, b) => a.index - b.index);
  return { cluster: opts.cluster, provider: opts.provider, managers: out, clientToken, changed: launched.length > 0 };
}

function resolveSettings(opts: DeployOptions, prev: Partial<Settings> | undefined): Settings {
  const pick = <K extends keyof Settings>(k: K, dflt: Settings[K]): Settings[K] => (opts[k]) ?? prev?.[k] ?? dflt;
  const s: Settings = {
    managers: pick('managers', 2),
    maxWorkers: pick('maxWorkers', availableParallelism()),
    scaleUpAfterS: pick('scaleUpAfterS', 20),
    idleTimeoutS: pick('idleTimeoutS', 300),
    port: pick('port', 5000),
  };
  const problems: string[] = [];
  if (!Number.isInteger(s.managers) || s.managers < 1 || s.managers > 9) problems.push('--managers must be an integer from 1 to 9');
  if (!Number.isInteger(s.maxWorkers) || s.maxWorkers < 0 || s.maxWorkers > 1000) problems.push('--max-workers must be an integer from 0 to 1000');
  if (!(s.scaleUpAfterS > 0)) problems.push('--scale-up-after must be a positive number of seconds');
  if (!(s.idleTimeoutS > 0)) problems.push('--idle-timeout must be a positive number of seconds');
  if (!Number.isInteger(s.port) || s.port < 1024 || s.port > 65000) problems.push('--port must be an integer from 1024 to 65000');
  if (problems.length > 0) throw new DynworkError('usage', problems.join('; '), { hint: 'see dynwork deploy --help' });
  return s;
}

interface LaunchWatch {
  /** True once the process launched in this run has stopped: waiting on is pointless. */
  exited: () => Promise<boolean>;
  log?: { file: string; offset: number };
}

/** Until the manager answers /healthz (no token is sent) as the manager it must prove to be. */
async function waitHealthy(endpointFile: string, pid: number | null, pin: ManagerPin, deadline: number, index: number, dir: string, watch: LaunchWatch): Promise<string> {
  let lastError = 'no endpoint file yet';
  while (Date.now() < deadline) {
    if (await watch.exited()) throw managerExited(index, dir, watch.log);
    const url = readUrl(endpointFile, pid);
    if (url) {
      const client = new ManagerClient({ endpoint: url, token: 'x'.repeat(16), timeoutMs: 1000, pin });
      try {
        const h = await client.healthz();
        if (h.ok) return url;
        lastError = 'unhealthy';
      } catch (err) {
        lastError = (err as Error).message;
      } finally {
        await client.close();
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new DynworkError('timeout', `manager ${index} did not answer in time (${lastError})`, {
    hint: `see its log: ${dir}/logs/ (or run dynwork deploy again)`,
  });
}

/** A manager that stopped before answering, in its own words (the last error it wrote to its log). */
function managerExited(index: number, dir: string, log: LaunchWatch['log']): DynworkError {
  const why = log ? whyItStopped(log.file, log.offset) : null;
  const where = log ? log.file : `${dir}/logs/`;
  return new DynworkError('provider_error', `manager ${index} stopped before answering: ${why?.message ?? 'it wrote no error'}`, {
    hint: `${why?.hint ? `${why.hint}; ` : ''}its log: ${where}`,
  });
}

/** The URL a manager wrote after binding; with `pid`, only if that process wrote it. */
export function readUrl(endpointFile: string, pid?: number | null): string | null {
  try {
    const e = JSON.parse(readFileSync(endpointFile, 'utf8')) as { url?: string; pid?: number };
    if (typeof e.url !== 'string') return null;
    if (pid != null && e.pid !== pid) return null;
    return e.url;
  } catch {
    return null;
  }
}

function configHash(config: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

function token(): string {
  return randomBytes(32).toString('base64url');
}

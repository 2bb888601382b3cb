import { clusterStatus, type ClusterStatus } from '../cluster/status.js';
import type { Provider } from '../providers/types.js';
import { readClusterState } from '../state/cluster-state.js';
import { renderTable, outputWidth, type Column } from './table.js';
import { print, printJson } from './ui.js';

export async function statusCommand(o: { cluster: string; json: boolean; watch: boolean }): Promise<void> {
  const provider = await providerOf(o.cluster);
  const tty = process.stdout.isTTY === true;
  for (;;) {
    const s = await clusterStatus(o.cluster, provider);
    if (o.json) printJson(s);
    else {
      const text = render(s, outputWidth());
      // A terminal is redrawn in place; a pipe or file gets one snapshot per interval, no control codes.
      if (o.watch && tty) process.stdout.write(`\x1b[H\x1b[2J${text}\n\nupdated at ${new Date().toLocaleTimeString()}; Ctrl-C to stop\n`);
      else if (o.watch) print(`--- ${new Date().toISOString()}\n${text}\n`);
      else print(text);
    }
    if (!o.watch) {
      if (s.managers.every((m) => !m.up)) process.exitCode = 1;
      return;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

const MANAGER_COLUMNS: Column[] = [
  { head: 'MANAGER' },
  { head: 'URL', shrink: true },
  { head: 'PID', drop: 3 },
  { head: 'STATE' },
  { head: 'QUEUED' },
  { head: 'RUNNING' },
  { head: 'DONE' },
  { head: 'FAILED', drop: 1 },
  { head: 'OLDEST', drop: 2 },
  { head: 'EXPIRED', drop: 4 },
];
const WORKER_COLUMNS: Column[] = [{ head: 'WORKER', shrink: true }, { head: 'PID', drop: 2 }, { head: 'STATE' }, { head: 'AGE' }, { head: 'BUSY', drop: 1 }, { head: 'HEARTBEAT' }];

export function render(s: ClusterStatus, width: number): string {
  const age = (ms: number | null) => (ms === null ? '-' : ms < 1000 ? `${ms}ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 60_000)}m`);
  const n = (v: number | null) => (v === null ? '-' : String(v));
  const cost = s.cost.usdPerHour === null ? 'cost unknown' : s.cost.usdPerHour === 0 ? '$0/h' : `$${s.cost.usdPerHour.toFixed(4)}/h`;
  const out: string[] = [];
  out.push(`cluster ${s.cluster} (${s.provider})  ${s.jobsPerSecond.toFixed(1)} jobs/s  ${cost}`);
  out.push(`cost: ${s.cost.basis}`);
  out.push(`settings: ${describeSettings(s.settings)}`);
  out.push('');
  out.push(
    renderTable(
      MANAGER_COLUMNS,
      s.managers.map((m) => [
        String(m.index),
        m.url,
        n(m.pid),
        m.up ? (m.leader ? 'leader' : 'up') : 'DOWN',
        n(m.queued),
        n(m.running),
        n(m.completed),
        n(m.failed),
        age(m.oldestQueuedAgeMs),
        n(m.leaseExpiries),
      ]),
      width,
    ),
  );
  for (const m of s.managers) if (m.error) out.push(`  manager ${m.index}: ${m.error}`);
  out.push('');
  if (s.workers.length === 0) out.push('no workers');
  else {
    out.push(
      renderTable(
        WORKER_COLUMNS,
        s.workers.map((w) => [w.id, n(w.pid), w.state, age(w.ageMs), n(w.busy), w.lastHeartbeatAgeMs === null ? 'none yet' : `${age(w.lastHeartbeatAgeMs)} ago`]),
        width,
      ),
    );
  }
  const down = s.managers.filter((m) => !m.up);
  if (s.events.length > 0 || down.length > 0) {
    out.push('');
    out.push('RECENT');
    for (const m of down) out.push(`  now       manager ${m.index} is DOWN${m.error ? `: ${m.error}` : ''}`);
    for (const e of s.events) out.push(`  ${e.at.slice(11, 19)}  manager ${e.manager}: ${e.message}`);
  }
  return out.join('\n');
}

/** The deploy settings a person would ask about, in words. */
function describeSettings(st: Record<string, unknown>): string {
  const parts: string[] = [];
  const add = (label: string, v: unknown, unit = '') => {
    if (v !== undefined && v !== null) parts.push(`${label} ${typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v)}${unit}`);
  };
  add('managers', st.managers);
  add('max workers', st.maxWorkers);
  add('scale up after', st.scaleUpAfterS, ' s');
  add('idle timeout', st.idleTimeoutS, ' s');
  add('region', st.region);
  add('instance type', st.instanceType);
  add('worker type', st.workerInstanceType);
  if (st.spot) parts.push('spot workers');
  return parts.length > 0 ? parts.join(', ') : 'defaults';
}

/** The provider the cluster runs on; the AWS SDK is loaded only for aws clusters. */
async function providerOf(cluster: string): Promise<Provider> {
  const state = readClusterState(cluster);
  if (state?.provider === 'aws') {
    const [{ createAwsClients }, { createAwsProvider }] = await Promise.all([import('../providers/aws/clients.js'), import('../providers/aws/provider.js')]);
    return createAwsProvider({ clients: createAwsClients({ region: state.settings.region }) });
  }
  const { createLocalProvider } = await import('../providers/local.js');
  return createLocalProvider();
}

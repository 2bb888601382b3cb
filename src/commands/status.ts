import { clusterStatus, type ClusterStatus } from '../cluster/status.js';
import type { Provider } from '../providers/types.js';
import { readClusterState } from '../state/cluster-state.js';
import { print, printJson } from './ui.js';

export async function statusCommand(o: { cluster: string; json: boolean; watch: boolean }): Promise<void> {
  const provider = await providerOf(o.cluster);
  for (;;) {
    const s = await clusterStatus(o.cluster, provider);
    if (o.json) printJson(s);
    else {
      if (o.watch) process.stdout.write('\x1b[2J\x1b[H');
      render(s);
    }
    if (!o.watch) {
      if (s.managers.every((m) => !m.up)) process.exitCode = 1;
      return;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function render(s: ClusterStatus): void {
  const age = (ms: number | null) => (ms === null ? '-' : ms < 1000 ? `${ms}ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 60_000)}m`);
  const n = (v: number | null) => (v === null ? '-' : String(v));
  const cost = s.cost.usdPerHour === null ? 'cost unknown' : s.cost.usdPerHour === 0 ? '$0/h' : `$${s.cost.usdPerHour.toFixed(4)}/h`;
  print(`cluster ${s.cluster} (${s.provider})  ${s.jobsPerSecond.toFixed(1)} jobs/s  ${cost}`);
  print(`cost: ${s.cost.basis}`);
  print('');
  print('MANAGER  URL                        PID      STATE   QUEUED  RUNNING  DONE    FAILED  OLDEST  EXPIRED');
  for (const m of s.managers) {
    const state = m.up ? (m.leader ? 'leader' : 'up') : 'DOWN';
    print(
      `${String(m.index).padEnd(9)}${m.url.padEnd(27)}${n(m.pid).padEnd(9)}${state.padEnd(8)}${n(m.queued).padEnd(8)}${n(m.running).padEnd(9)}${n(m.completed).padEnd(8)}${n(m.failed).padEnd(8)}${age(m.oldestQueuedAgeMs).padEnd(8)}${n(m.leaseExpiries)}`,
    );
    if (m.error) print(`         ${m.error}`);
  }
  print('');
  if (s.workers.length === 0) print('no workers');
  else {
    print('WORKER                 PID      STATE     AGE     BUSY  HEARTBEAT');
    for (const w of s.workers) {
      print(`${w.id.padEnd(23)}${n(w.pid).padEnd(9)}${w.state.padEnd(10)}${age(w.ageMs).padEnd(8)}${n(w.busy).padEnd(6)}${w.lastHeartbeatAgeMs === null ? 'none yet' : `${age(w.lastHeartbeatAgeMs)} ago`}`);
    }
  }
  const down = s.managers.filter((m) => !m.up);
  if (s.events.length > 0 || down.length > 0) {
    print('');
    print('RECENT');
    for (const m of down) print(`  now          manager ${m.index} is DOWN${m.error ? `: ${m.error}` : ''}`);
    for (const e of s.events) print(`  ${e.at.slice(11, 19)}     manager ${e.manager}: ${e.message}`);
  }
}

/** The provider the cluster runs on; the AWS SDK is loaded only for aws clusters. */
async function providerOf(cluster: string): Promise<Provider> {
  const state = readClusterState(cluster);
  if (state?.provider === 'aws') {
    const [{ createAwsClients }, { createAwsProvider }] = await Promise.all([import('../providers/aws/clients.js'), import('../providers/aws/provider.js')]);
    return createAwsProvider({ clients: createAwsClients({ region: state.settings.region as string | undefined }) });
  }
  const { createLocalProvider } = await import('../providers/local.js');
  return createLocalProvider();
}

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, failover, requireCluster } from '../cluster/connect.js';
import { byTime, formatRecord, matches, parseLine, parseSince, readLogDir, type LogFilter, type LogRecord } from '../cluster/logs.js';
import { DynworkError } from '../errors.js';
import { clusterDir } from '../state/cluster-state.js';
import { writeOut } from './ui.js';

export interface LogsFlags {
  cluster: string;
  role?: 'manager' | 'worker';
  job?: number;
  since?: string;
  follow: boolean;
  boot?: string;
  json: boolean;
}

/**
 * One time-ordered stream from every process of the cluster. Local: its log
 * files (kept after teardown). AWS: the managers serve their own lines and
 * those their workers sent them, so no SSH is needed.
 */
export async function logsCommand(o: LogsFlags): Promise<void> {
  if (o.boot) return bootLog(o);
  const now = Date.now();
  const sinceMs = o.since === undefined ? undefined : parseSince(o.since, now);
  if (sinceMs === null) throw new DynworkError('usage', `--since must be a duration like 90s, 10m, 2h, 1d or an ISO time, got "${o.since}"`);
  const filter: LogFilter = { ...(sinceMs === undefined ? {} : { sinceMs }), ...(o.role ? { role: o.role } : {}), ...(o.job === undefined ? {} : { jobId: o.job }) };
  const out = async (records: LogRecord[]) => {
    const shown = byTime(records.filter((r) => matches(r, filter)));
    if (shown.length > 0) await writeOut(shown.map((r) => `${o.json ? r.raw : formatRecord(r)}\n`).join(''));
  };
  const onAws = (() => {
    try {
      return requireCluster(o.cluster).provider === 'aws';
    } catch {
      return false;
    }
  })();
  if (!onAws) {
    const dir = join(clusterDir(o.cluster), 'logs');
    const offsets = new Map<string, number>();
    const first = readLogDir(dir, offsets);
    if (offsets.size === 0 && first.length === 0 && !o.follow) {
      throw new DynworkError('not_deployed', `no logs for cluster "${o.cluster}" (looked in ${dir})`, { hint: 'deploy it first: dynwork deploy' });
    }
    await out(first);
    while (o.follow) {
      await sleep(500);
      await out(readLogDir(dir, offsets));
    }
    return;
  }
  const c = connect(o.cluster);
  try {
    const seen = new Set<string>();
    for (;;) {
      const lines = await failover(c, (m) => m.logs());
      const fresh = lines.filter((l) => !seen.has(l));
      for (const l of fresh) seen.add(l);
      await out(fresh.map((raw) => parseLine(raw, { time: 0, source: '?', role: 'unknown' })));
      if (!o.follow) return;
      // The managers keep a bounded window; so does this.
      if (seen.size > 200_000) seen.clear();
      await sleep(2_000);
    }
  } finally {
    await c.close();
  }
}

async function bootLog(o: LogsFlags): Promise<void> {
  const state = requireCluster(o.cluster);
  if (state.provider !== 'aws') throw new DynworkError('usage', "--boot reads an EC2 instance's console: it is for aws clusters", { hint: 'a local process logs into its file: dynwork logs' });
  const [{ createAwsClients }, { consoleOutput }] = await Promise.all([import('../providers/aws/clients.js'), import('../providers/aws/boot-log.js')]);
  const clients = createAwsClients({ region: state.settings.region });
  try {
    await writeOut(await consoleOutput(clients, o.boot!));
  } finally {
    clients.destroy();
  }
}

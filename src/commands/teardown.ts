import { DynworkError } from '../errors.js';
import { join } from 'node:path';
import { clusterDir, readClusterState } from '../state/cluster-state.js';
import { silentProgress } from '../cluster/progress.js';
import type { AwsTeardownResult } from '../cluster/teardown-aws.js';
import { cliProgress, print, printJson } from './ui.js';

export interface TeardownFlags {
  cluster: string;
  provider?: 'local' | 'aws';
  region?: string;
  profile?: string;
  keepData: boolean;
  purge?: boolean;
  dryRun: boolean;
  yes?: boolean;
  json: boolean;
}

export async function teardownCommand(o: TeardownFlags): Promise<void> {
  const state = readClusterState(o.cluster);
  const provider = o.provider ?? state?.provider ?? 'local';
  if (provider === 'aws') return teardownAwsCommand(o, state?.provider === 'aws' ? state.settings.region : undefined);
  if (o.region || o.profile || o.dryRun) throw new DynworkError('usage', '--region, --profile and --dry-run only apply to --provider aws', { hint: 'drop them, or add --provider aws' });
  const [{ teardown }, { createLocalProvider }] = await Promise.all([import('../cluster/teardown.js'), import('../providers/local.js')]);
  const r = await teardown(o.cluster, createLocalProvider(), cliProgress(o.json), { keepData: o.keepData, purge: o.purge ?? false });
  if (o.json) printJson(r);
  else if (r.nothingToDo) {
    // No state here says nothing about AWS, where teardown finds a cluster by its tags instead.
    print(`cluster "${o.cluster}": nothing found on this machine (no local process, no cluster state)`);
    print(`if it runs on AWS: dynwork teardown --provider aws --region REGION --cluster ${o.cluster} finds everything by its tag dynwork:cluster=${o.cluster}`);
  } else {
    print(`cluster "${o.cluster}" removed: ${r.removed.length} process${r.removed.length === 1 ? '' : 'es'} stopped${o.keepData ? '; queues kept on disk' : ''}`);
    if (!o.purge && r.removed.length > 0) print(`logs kept in ${join(clusterDir(o.cluster), 'logs')} (dynwork logs --cluster ${o.cluster} reads them; teardown --purge removes them)`);
  }
}

async function teardownAwsCommand(o: TeardownFlags, stateRegion: string | undefined): Promise<void> {
  const ask = !o.dryRun && !o.yes;
  if (ask && !atTerminal()) {
    throw new DynworkError('usage', `teardown of AWS cluster "${o.cluster}" deletes its machines${o.keepData ? '' : " and its queues' data volumes"}: add --yes to confirm when not at a terminal`, {
      hint: `see what it would remove with: dynwork teardown --cluster ${o.cluster} --provider aws --dry-run`,
    });
  }
  const [{ teardownAws }, { createAwsClients }] = await Promise.all([import('../cluster/teardown-aws.js'), import('../providers/aws/clients.js')]);
  const region = o.region ?? stateRegion;
  const clients = createAwsClients({ region, profile: o.profile });
  try {
    if (ask) await confirmAws(o, () => teardownAws({ cluster: o.cluster, keepData: o.keepData, dryRun: true }, { clients }, silentProgress));
    const r = await teardownAws({ cluster: o.cluster, keepData: o.keepData, dryRun: o.dryRun }, { clients }, cliProgress(o.json));
    if (o.json) return printJson(r);
    if (r.nothingToDo) return print(`cluster "${o.cluster}" in ${r.region}: nothing to do (nothing tagged with it, no state)`);
    print(`cluster "${o.cluster}" in ${r.region}: ${r.dryRun ? 'would remove' : 'removed'} ${r.removed.length} resource${r.removed.length === 1 ? '' : 's'}`);
    for (const x of r.removed) print(`  ${x.kind}  ${x.id}`);
    for (const x of r.kept) print(`  kept ${x.kind}  ${x.id}`);
  } finally {
    clients.destroy();
  }
}

const atTerminal = (): boolean => process.stdin.isTTY === true && process.stderr.isTTY === true;

/**
 * An AWS teardown deletes machines and, without --keep-data, the queues' data
 * volumes: at a terminal it lists them and asks (elsewhere it needs --yes).
 */
async function confirmAws(o: TeardownFlags, plan: () => Promise<AwsTeardownResult>): Promise<void> {
  const p = await plan();
  if (p.removed.length === 0) return;
  const err = process.stderr;
  err.write(`cluster "${o.cluster}" in ${p.region}: this removes ${p.removed.length} resource(s):\n`);
  for (const x of p.removed) err.write(`  ${x.kind}  ${x.id}${x.kind.includes('volume') ? "   (a queue's data: its jobs and results are gone for good)" : ''}\n`);
  for (const x of p.kept) err.write(`  kept ${x.kind}  ${x.id}\n`);
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: err });
  try {
    const answer = await rl.question('Remove them? [y/N] ');
    if (!/^y(es)?$/i.test(answer.trim())) throw new DynworkError('usage', 'teardown cancelled: nothing was removed');
  } finally {
    rl.close();
  }
}

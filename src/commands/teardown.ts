import { DynworkError } from '../errors.js';
import { readClusterState } from '../state/cluster-state.js';
import { cliProgress, print, printJson } from './ui.js';

export interface TeardownFlags {
  cluster: string;
  provider?: 'local' | 'aws';
  region?: string;
  profile?: string;
  keepData: boolean;
  dryRun: boolean;
  json: boolean;
}

export async function teardownCommand(o: TeardownFlags): Promise<void> {
  const state = readClusterState(o.cluster);
  const provider = o.provider ?? state?.provider ?? 'local';
  if (provider === 'aws') return teardownAwsCommand(o, state?.settings.region as string | undefined);
  if (o.region || o.profile || o.dryRun) throw new DynworkError('usage', '--region, --profile and --dry-run only apply to --provider aws', { hint: 'drop them, or add --provider aws' });
  const [{ teardown }, { createLocalProvider }] = await Promise.all([import('../cluster/teardown.js'), import('../providers/local.js')]);
  const r = await teardown(o.cluster, createLocalProvider(), cliProgress(o.json), { keepData: o.keepData });
  if (o.json) printJson(r);
  else if (r.nothingToDo) {
    // No state here says nothing about AWS, where teardown finds a cluster by its tags instead.
    print(`cluster "${o.cluster}": nothing found on this machine (no local process, no cluster state)`);
    print(`if it runs on AWS: dynwork teardown --provider aws --region REGION --cluster ${o.cluster} finds everything by its tag dynwork:cluster=${o.cluster}`);
  }
  else print(`cluster "${o.cluster}" removed: ${r.removed.length} process${r.removed.length === 1 ? '' : 'es'} stopped${o.keepData ? '; queues kept on disk' : ''}`);
}

async function teardownAwsCommand(o: TeardownFlags, stateRegion: string | undefined): Promise<void> {
  const [{ teardownAws }, { createAwsClients }] = await Promise.all([import('../cluster/teardown-aws.js'), import('../providers/aws/clients.js')]);
  const region = o.region ?? stateRegion;
  const clients = createAwsClients({ region, profile: o.profile });
  try {
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

import { resolveAwsSettings, type AwsDeployOptions } from '../cluster/aws-settings.js';
import { deploy } from '../cluster/deploy.js';
import { DynworkError } from '../errors.js';
import { readClusterState } from '../state/cluster-state.js';
import { cliProgress, print, printJson } from './ui.js';

export interface DeployFlags {
  provider?: 'local' | 'aws';
  cluster: string;
  managers?: number;
  maxWorkers?: number;
  scaleUpAfter?: number;
  idleTimeout?: number;
  port?: number;
  /** commander: a number from --wait <s>, false from --no-wait, true by default */
  wait?: number | boolean;
  region?: string;
  profile?: string;
  instanceType?: string;
  workerInstanceType?: string;
  spot?: boolean;
  subnet?: string;
  allowCidr?: string[];
  ssh?: boolean;
  package?: string;
  json: boolean;
}

const AWS_ONLY = ['region', 'profile', 'instanceType', 'workerInstanceType', 'spot', 'subnet', 'allowCidr', 'ssh', 'package'] as const;
const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export async function deployCommand(o: DeployFlags): Promise<void> {
  const provider = o.provider ?? readClusterState(o.cluster)?.provider ?? 'local';
  if (provider === 'aws') return deployAwsCommand(o);
  const misplaced = AWS_ONLY.filter((k) => o[k] !== undefined).map(flagName);
  if (o.wait === false) misplaced.push('--no-wait');
  if (misplaced.length > 0) {
    throw new DynworkError('usage', `${misplaced.join(', ')} only apply to --provider aws`, { hint: 'drop them, or add --provider aws' });
  }
  const { createLocalProvider } = await import('../providers/local.js');
  const result = await deploy(
    {
      cluster: o.cluster,
      provider: 'local',
      ...sharedOptions(o),
    },
    createLocalProvider(),
    cliProgress(o.json),
  );
  if (o.json) {
    const { clientToken: _omit, ...rest } = result;
    printJson(rest);
    return;
  }
  print(`cluster "${result.cluster}" is ${result.changed ? 'up' : 'already up; nothing changed'}`);
  for (const m of result.managers) print(`  manager ${m.index}  ${m.url}  pid ${m.pid ?? '?'}  (${m.action})`);
  printTryIt(result.managers[0]?.url ?? 'http://127.0.0.1:5000', o.cluster);
}

async function deployAwsCommand(o: DeployFlags): Promise<void> {
  const previous = readClusterState(o.cluster);
  const opts: AwsDeployOptions = {
    cluster: o.cluster,
    ...sharedOptions(o),
    ...(o.wait === false && { wait: false }),
    ...(o.instanceType !== undefined && { instanceType: o.instanceType }),
    ...(o.workerInstanceType !== undefined && { workerInstanceType: o.workerInstanceType }),
    ...(o.spot !== undefined && { spot: o.spot }),
    ...(o.subnet !== undefined && { subnet: o.subnet }),
    ...(o.allowCidr !== undefined && { allowCidr: o.allowCidr }),
    ...(o.ssh !== undefined && { ssh: o.ssh }),
    ...(o.package !== undefined && { packageSpec: o.package }),
  };
  // Bad options fail here, before the SDK loads or anything reaches AWS.
  const previousSettings = previous?.provider === 'aws' ? previous.settings : undefined;
  resolveAwsSettings(opts, previousSettings);
  const [{ deployAws }, { createAwsClients }] = await Promise.all([import('../cluster/deploy-aws.js'), import('../providers/aws/clients.js')]);
  const region = o.region ?? previousSettings?.region;
  const clients = createAwsClients({ region, profile: o.profile });
  try {
    const r = await deployAws(opts, { clients }, cliProgress(o.json));
    if (o.json) return printJson(r);
    print(`cluster "${r.cluster}" on AWS ${r.region} (account ${r.account}) is ${r.changed ? 'up' : 'already up; nothing changed'}`);
    for (const m of r.managers)
      print(`  manager ${m.index}  ${m.url}  ${m.instanceId}  ${m.privateAddress}  (${m.action}${m.healthy ? ', answering' : m.healthy === null ? ', health not checked: dynwork status' : ''})`);
    printTryIt(r.managers[0]?.url ?? '', o.cluster);
  } finally {
    clients.destroy();
  }
}

/** The flags both providers take, renamed to the library's option names; unset flags stay unset. */
function sharedOptions(o: DeployFlags) {
  return {
    ...(o.managers !== undefined && { managers: o.managers }),
    ...(o.maxWorkers !== undefined && { maxWorkers: o.maxWorkers }),
    ...(o.scaleUpAfter !== undefined && { scaleUpAfterS: o.scaleUpAfter }),
    ...(o.idleTimeout !== undefined && { idleTimeoutS: o.idleTimeout }),
    ...(o.port !== undefined && { port: o.port }),
    ...(typeof o.wait === 'number' && { waitS: o.wait }),
  };
}

function printTryIt(url: string, cluster: string): void {
  // The token goes to curl through a pipe (curl -K), never on its command line, where ps shows it.
  const config = `-K <(npx dynwork token --curl-config${cluster === 'default' ? '' : ` --cluster ${cluster}`})`;
  print('');
  print('try it (bash):');
  print(`  curl ${config} -X PUT "${url}/enqueue?iterations=10" -d "data=Hello"`);
  print(`  curl ${config} -X POST "${url}/pullCompleted?top=2"`);
}

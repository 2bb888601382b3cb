import { managerConfigFor, memberEndpoint, type AutoscaleSettings } from '../../cluster/manager-configs.js';
import type { Provider } from '../../providers/types.js';
import { startAutoscaler, type Autoscaler } from '../autoscaler/loop.js';
import { policySchema, type AutoscalePolicy } from '../autoscaler/policy.js';
import type { ManagerContext } from './context.js';
import { clusterCa } from '../config.js';
import { managerStatus } from './routes-public.js';

/**
 * Wires the autoscaler to this manager: its own status, its peers, the
 * provider named in its config, and the configs of new workers and of a
 * relaunched peer (built exactly as deploy builds them).
 */
export async function startScaling(ctx: ManagerContext, setLeader: (v: boolean) => void): Promise<Autoscaler | null> {
  const settings = ctx.config.autoscale as AutoscaleSettings | undefined;
  if (!settings) return null;
  const provider = await providerFor(settings);
  const policy = autoscalePolicy(settings);
  const base = { ...(ctx.config as unknown as Record<string, unknown>), autoscale: settings };
  return startAutoscaler({
    cluster: ctx.config.cluster,
    selfIndex: ctx.config.index,
    policy,
    provider,
    selfStatus: () => managerStatus(ctx),
    peerStatuses: () => ctx.peers.statuses(),
    lowerPeerHealthy: () => ctx.peers.anyHealthyBelow(ctx.config.index),
    workerConfig: () => ({
      cluster: ctx.config.cluster,
      managers: settings.members.map(memberEndpoint),
      workerToken: ctx.config.workerToken,
      ...(ctx.config.tls ? { ca: clusterCa(ctx.config.tls) } : {}),
      threads: settings.workerThreads,
      idleTimeoutMs: settings.workerIdleTimeoutMs,
      noManagerTimeoutMs: settings.workerNoManagerTimeoutMs,
      maxLifetimeMs: settings.workerMaxLifetimeMs,
      logLevel: ctx.config.logLevel,
    }),
    relaunchManager: async (index) => {
      await provider.launch('manager', { cluster: ctx.config.cluster, index, config: managerConfigFor(base, index) });
    },
    setLeader,
    event: (m) => ctx.events.add(m),
    now: ctx.now,
    logger: ctx.logger.child({ component: 'autoscaler' }),
  });
}

/** The autoscaler's policy from the settings deploy wrote into this manager's config. */
export function autoscalePolicy(settings: AutoscaleSettings): AutoscalePolicy {
  return policySchema.parse({
    scaleUpAfterMs: settings.scaleUpAfterMs,
    intervalMs: settings.intervalMs,
    maxWorkers: settings.maxWorkers,
    launchDeadlineMs: settings.launchDeadlineMs,
    heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
    managerDeadAfterMs: settings.managerDeadAfterMs,
    // A relaunched manager boots like a new worker (on AWS a machine, then Node
    // and dynwork), so the launch deadline is its grace too: 15 min on AWS.
    managerBootGraceMs: settings.launchDeadlineMs,
    idleTerminateAfterMs: settings.workerIdleTimeoutMs + 60_000,
    scaleUpCooldownMs: Math.max(2 * settings.intervalMs, Math.min(10_000, settings.scaleUpAfterMs)),
    workerThreads: settings.workerThreads,
  });
}

async function providerFor(settings: AutoscaleSettings): Promise<Provider> {
  if (settings.provider === 'local') {
    const { createLocalProvider } = await import('../../providers/local.js');
    return createLocalProvider(settings.root ? { root: settings.root } : {});
  }
  if (settings.provider === 'aws' && settings.aws) {
    const [{ createAwsClients }, { createAwsProvider }] = await Promise.all([import('../../providers/aws/clients.js'), import('../../providers/aws/provider.js')]);
    // On EC2 the credentials are the instance profile's, from IMDS.
    return createAwsProvider({ clients: createAwsClients({ region: settings.aws.region }), settings: settings.aws });
  }
  throw new Error(`provider ${settings.provider} has no settings in this manager's config`);
}

import type { Provider } from '../../providers/types.js';
import { autoscalePolicy, type AutoscaleSettings } from '../../settings/autoscale.js';
import { clusterCa } from '../../settings/manager.js';
import { managerConfigFor, memberEndpoint } from '../../settings/manager-configs.js';
import { startAutoscaler, type Autoscaler } from '../autoscaler/loop.js';
import type { ManagerContext } from './context.js';
import { managerStatus } from './routes-public.js';

/**
 * Wires the autoscaler to this manager: its own status, its peers, the
 * provider named in its config, and the configs of new workers and of a
 * relaunched peer (built exactly as deploy builds them).
 */
export async function startScaling(ctx: ManagerContext, setLeader: (v: boolean) => void): Promise<Autoscaler | null> {
  const settings = ctx.config.autoscale;
  if (!settings) return null;
  const provider = await providerFor(settings);
  const policy = autoscalePolicy(settings);
  // The leader's own config is the base of its peers' (see managerConfigFor).
  const { tls, ...own } = ctx.config;
  const base = () => ({ ...own, autoscale: settings, ...(tls ? { tls: { ca: clusterCa(tls) } } : {}) });
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
      await provider.launch('manager', { cluster: ctx.config.cluster, index, config: managerConfigFor(base(), index) });
    },
    setLeader,
    event: (m) => ctx.events.add(m),
    now: ctx.now,
    logger: ctx.logger.child({ component: 'autoscaler' }),
  });
}

async function providerFor(settings: AutoscaleSettings): Promise<Provider> {
  if (settings.provider === 'local') {
    const { createLocalProvider } = await import('../../providers/local.js');
    return createLocalProvider(settings.root ? { root: settings.root } : {});
  }
  const [{ createAwsClients }, { createAwsProvider }] = await Promise.all([import('../../providers/aws/clients.js'), import('../../providers/aws/provider.js')]);
  // On EC2 the credentials are the instance profile's, from IMDS.
  return createAwsProvider({ clients: createAwsClients({ region: settings.aws.region }), settings: settings.aws });
}

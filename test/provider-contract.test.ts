import { fileURLToPath } from 'node:url';
import { managerConfigFor, type SharedManagerConfig } from '../src/settings/manager-configs.js';
import { createAwsClients } from '../src/providers/aws/clients.js';
import { createAwsProvider } from '../src/providers/aws/provider.js';
import { clusterTags } from '../src/providers/aws/tags.js';
import { createLocalProvider } from '../src/providers/local.js';
import type { Provider } from '../src/providers/types.js';
import { isAlive, killAll } from './cli.js';
import { demoSettings, FakeAws } from './fake-aws.js';
import { CLIENT_TOKEN, tempDir, waitFor, WORKER_TOKEN } from './helpers.js';
import { providerContract } from './provider-contract.js';

const SLEEPER = fileURLToPath(new URL('./fixtures/sleeper.js', import.meta.url));

providerContract('local', () => {
  const tmp = tempDir();
  const pids = new Set<number>();
  const local = createLocalProvider({ root: tmp.dir, entry: SLEEPER, graceMs: 5_000 });
  // Every process it starts is noted, so none outlives the case even when terminate is broken.
  const provider: Provider = {
    ...local,
    async launch(role, spec) {
      const started = await local.launch(role, spec);
      for (const i of started) pids.add(i.pid!);
      return started;
    },
  };
  const gone = (of: number[]) => waitFor(`pids ${of.join(', ')} to exit`, () => !of.some(isAlive));
  return {
    provider,
    unknownId: 'worker-00000000',
    config: () => ({}),
    exists: (i) => isAlive(i.pid!),
    async stopOutside(i) {
      process.kill(i.pid!, 'SIGKILL');
      await gone([i.pid!]);
    },
    async close() {
      killAll(pids);
      await gone([...pids]);
      tmp.cleanup();
    },
  };
});

providerContract('aws (fake EC2 that takes a few DescribeInstances to start or terminate a machine)', () => {
  const fake = new FakeAws();
  fake.settleAfterDescribes = 3;
  const settings = demoSettings();
  for (const p of [settings.manager.profileName, settings.worker.profileName]) fake.profiles.set(p, { InstanceProfileName: p, Roles: [p] });
  const clients = createAwsClients({ region: 'us-east-1' });
  return {
    provider: createAwsProvider({ clients, settings, terminatePollS: 0.01, terminateWaitS: 10 }),
    unknownId: 'i-0ffffffff',
    config(role, cluster, index) {
      if (role === 'worker') return { cluster, managers: [], workerToken: WORKER_TOKEN };
      // What deploy creates before a manager's first launch: its data volume, which fixes its private address.
      const address = `172.31.15.${100 + fake.volumes.size}`;
      fake.volumes.set(`vol-${cluster}-${index}`, {
        VolumeId: `vol-${cluster}-${index}`,
        AvailabilityZone: 'us-east-1a',
        State: 'available',
        Tags: [...clusterTags(cluster, 'manager-data', index), { Key: 'dynwork:address', Value: address }],
      });
      const base: SharedManagerConfig = {
        cluster,
        clientToken: CLIENT_TOKEN,
        workerToken: WORKER_TOKEN,
        autoscale: { provider: 'aws', aws: settings, maxWorkers: 3, members: [{ index: index!, host: address, bindHost: '0.0.0.0', port: 5000, dataDir: '/var/lib/dynwork/queue' }] },
      };
      return managerConfigFor(base, index!);
    },
    exists: (i) => fake.instances.get(i.id)?.State.Name !== 'terminated',
    async stopOutside(i) {
      fake.instances.get(i.id)!.State.Name = 'stopped';
    },
    async close() {
      fake.restore();
      clients.destroy();
    },
  };
});

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import { ManagerClient } from '../src/client/manager-client.js';
import { DynworkError } from '../src/errors.js';
import { createAwsClients, type AwsClients } from '../src/providers/aws/clients.js';
import { createAwsProvider } from '../src/providers/aws/provider.js';
import { clusterTags } from '../src/providers/aws/tags.js';
import type { AutoscaleSettings } from '../src/settings/autoscale.js';
import { managerConfigSchema } from '../src/settings/manager.js';
import { managerConfigFor, managerConfigHash, type SharedManagerConfig } from '../src/settings/manager-configs.js';
import { demoSettings, FakeAws } from './fake-aws.js';
import { CLIENT_TOKEN, startTestManager, tempDir, waitFor, WORKER_TOKEN } from './helpers.js';

const settings = demoSettings();

let fake: FakeAws;
let clients: AwsClients;
beforeEach(() => {
  fake = new FakeAws();
  for (const p of [settings.manager.profileName, settings.worker.profileName]) fake.profiles.set(p, { InstanceProfileName: p, Roles: [p] });
  clients = createAwsClients({ region: 'us-east-1' });
});
afterEach(() => {
  fake.restore();
  clients.destroy();
});

const tag = (tags: { Key?: string; Value?: string }[], key: string) => tags.find((t) => t.Key === key)?.Value;
function decode(run: RunInstancesCommandInput): { script: string; config: Record<string, unknown> } {
  const script = Buffer.from(run.UserData as string, 'base64').toString('utf8');
  const b64 = /^CONFIG_B64='([A-Za-z0-9+/=]+)'$/m.exec(script)![1]!;
  return { script, config: JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as Record<string, unknown> };
}

describe('the aws provider behind a manager', () => {
  test('the leader launches workers through EC2: tagged, Spot, self-terminating, no token in user-data, never over max workers', async () => {
    const dir = tempDir();
    const autoscale: AutoscaleSettings = {
      provider: 'aws',
      aws: settings,
      members: [{ index: 1, host: '127.0.0.1', port: 5000, dataDir: dir.dir }],
      maxWorkers: 3,
      scaleUpAfterMs: 100,
      intervalMs: 100,
      workerIdleTimeoutMs: 300_000,
      workerThreads: 4,
      launchDeadlineMs: 600_000,
      heartbeatTimeoutMs: 60_000,
      managerDeadAfterMs: 300_000,
      workerNoManagerTimeoutMs: 900_000,
      workerMaxLifetimeMs: 86_400_000,
    };
    const m = await startTestManager(dir.dir, { cluster: 'demo', autoscale });
    const client = new ManagerClient({ endpoint: m.url, token: CLIENT_TOKEN, timeoutMs: 5000 });
    try {
      await client.enqueueBatch(Array.from({ length: 40 }, (_, i) => ({ data: `job ${i}`, iterations: 5_000_000 })));
      const launched = () => fake.calls('ec2:RunInstances').reduce((n, r) => n + (r.MaxCount as number), 0);
      await waitFor('three workers launched', () => launched() >= 3);
      // Later rounds see them starting and launch no more.
      const seen = fake.calls('ec2:DescribeInstances').length;
      await waitFor('four more autoscaler rounds', () => fake.calls('ec2:DescribeInstances').length >= seen + 8);
      assert.equal(launched(), 3, 'max workers honoured');

      for (const run of fake.calls('ec2:RunInstances')) {
        assert.equal(run.InstanceType, 'c6i.xlarge');
        assert.equal(run.InstanceInitiatedShutdownBehavior, 'terminate', 'a worker that powers off is gone');
        assert.deepEqual(run.InstanceMarketOptions, { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } });
        assert.deepEqual(run.IamInstanceProfile, { Name: 'dynwork-demo-us-east-1-worker' });
        assert.deepEqual(run.MetadataOptions, { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 });
        assert.equal(run.MaintenanceOptions, undefined);
        assert.deepEqual(
          run.BlockDeviceMappings,
          [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, DeleteOnTermination: true, VolumeType: 'gp3' } }],
          'an encrypted root volume, as the manager policy requires',
        );
        assert.deepEqual(
          run.TagSpecifications!.map((t) => t.ResourceType),
          ['instance', 'volume', 'network-interface'],
          'everything the launch creates is tagged, as the manager policy requires',
        );
        for (const spec of run.TagSpecifications!) {
          assert.equal(tag(spec.Tags!, 'dynwork:cluster'), 'demo');
          assert.equal(tag(spec.Tags!, 'dynwork:role'), 'worker');
        }
        const { script, config } = decode(run);
        assert.ok(!script.includes(WORKER_TOKEN) && !script.includes(CLIENT_TOKEN), 'no token in user-data');
        assert.match(script, /^ROLE='worker'$/m);
        assert.match(script, /^TOKEN_PARAMETERS='worker-token=\/dynwork\/demo\/worker-token'$/m, 'a worker reads only the worker token');
        assert.match(script, /^DATA_VOLUME=''$/m);
        assert.match(
          script,
          /^ARTIFACT_URL='s3:\/\/dynwork-123456789012-us-east-1\/clusters\/demo\/dynwork-0\.1\.0-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\.tgz'$/m,
          "the leader's workers run the cluster's build",
        );
        assert.match(script, /^ARTIFACT_SHA256='0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'$/m);
        assert.equal(config.workerTokenFile, 'worker-token');
        assert.equal(config.workerToken, undefined);
        assert.equal(config.threads, 4);
        assert.deepEqual(config.managers, [{ index: 1, url: 'http://127.0.0.1:5000' }]);
      }
      const status = await client.status();
      assert.ok(
        status.events.some((e) => /^launched \d worker\(s\)/.test(e.message)),
        'the launch is shown in status',
      );
    } finally {
      await client.close();
      await m.close();
      dir.cleanup();
    }
  });

  test('a relaunched manager gets its own data volume, private address and Elastic IP', async () => {
    fake.volumes.set('vol-02', {
      VolumeId: 'vol-02',
      AvailabilityZone: 'us-east-1a',
      State: 'available',
      Tags: [...clusterTags('demo', 'manager-data', 2), { Key: 'dynwork:address', Value: '172.31.15.252' }],
    });
    fake.addresses.set('eipalloc-02', {
      AllocationId: 'eipalloc-02',
      PublicIp: '203.0.113.2',
      Domain: 'vpc',
      Tags: clusterTags('demo', 'manager-address', 2),
    });
    const provider = createAwsProvider({ clients, settings });
    const base: SharedManagerConfig = {
      cluster: 'demo',
      clientToken: CLIENT_TOKEN,
      workerToken: WORKER_TOKEN,
      autoscale: {
        provider: 'aws',
        aws: settings,
        maxWorkers: 3,
        members: [1, 2].map((i) => ({ index: i, host: `172.31.15.25${4 - i}`, bindHost: '0.0.0.0', port: 5000, dataDir: '/var/lib/dynwork/queue' })),
      },
    };
    const [inst] = await provider.launch('manager', { cluster: 'demo', index: 2, config: managerConfigFor(base, 2) });
    assert.ok(inst?.id.startsWith('i-'));
    const [run] = fake.calls('ec2:RunInstances');
    assert.equal(run!.NetworkInterfaces![0]!.PrivateIpAddress, '172.31.15.252');
    assert.equal(run!.InstanceInitiatedShutdownBehavior, 'stop');
    assert.deepEqual(run!.MaintenanceOptions, { AutoRecovery: 'default' });
    const { script, config } = decode(run!);
    assert.match(script, /^DATA_VOLUME='vol-02'$/m);
    assert.match(script, /^ADDRESS_ALLOCATION='eipalloc-02'$/m, 'it takes over the Elastic IP its clients know');
    assert.deepEqual(fake.calls('ec2:DescribeAddresses').at(-1)!.Filters, [
      { Name: 'tag:dynwork:cluster', Values: ['demo'] },
      { Name: 'tag:dynwork:role', Values: ['manager-address'] },
      { Name: 'tag:dynwork:index', Values: ['2'] },
    ]);
    assert.match(script, /^TOKEN_PARAMETERS='client-token=\/dynwork\/demo\/client-token worker-token=\/dynwork\/demo\/worker-token'$/m);
    assert.equal(config.clientToken, undefined);
    assert.equal(config.index, 2);

    // A stopped predecessor holds the address and the volume: it is terminated first.
    const first = fake.instances.get(inst!.id)!;
    first.State.Name = 'stopped';
    fake.clearLog();
    const [second] = await provider.launch('manager', { cluster: 'demo', index: 2, config: managerConfigFor(base, 2) });
    assert.deepEqual(fake.mutations(), ['ec2:TerminateInstances', 'ec2:RunInstances']);
    assert.deepEqual(fake.calls('ec2:TerminateInstances')[0]!.InstanceIds, [inst!.id]);
    assert.equal(first.State.Name, 'terminated');
    assert.equal(fake.instances.get(second!.id)!.PrivateIpAddress, '172.31.15.252');

    await assert.rejects(provider.launch('manager', { cluster: 'demo', index: 3, config: { ...managerConfigFor(base, 1), index: 3 } }), (err: DynworkError) => {
      assert.equal(err.message, 'manager 3 of cluster "demo" has no data volume');
      return true;
    });
  });

  test('terminate gives up with a timeout, naming the machines, when EC2 does not finish terminating them in time', async () => {
    fake.settleAfterDescribes = Infinity;
    const provider = createAwsProvider({ clients, settings, terminateWaitS: 0.3, terminatePollS: 0.05 });
    const [w] = await provider.launch('worker', { cluster: 'demo', config: { cluster: 'demo', managers: [], workerToken: WORKER_TOKEN } });
    await assert.rejects(provider.terminate([w!.id]), (err: DynworkError) => {
      assert.equal(err.code, 'timeout');
      assert.equal(err.message, `instance(s) ${w!.id} not terminated within 0.3 s`);
      return true;
    });
  });

  test("a manager's config hash is the same whether its defaults are spelled out or not", () => {
    const base: SharedManagerConfig = {
      cluster: 'demo',
      clientToken: CLIENT_TOKEN,
      workerToken: WORKER_TOKEN,
      autoscale: { provider: 'aws', aws: settings, maxWorkers: 3, members: [{ index: 1, host: '10.0.0.5', bindHost: '0.0.0.0', port: 5000, dataDir: '/d' }] },
    };
    const written = managerConfigFor(base, 1);
    const parsed = managerConfigSchema.parse(written);
    assert.equal(managerConfigHash(parsed), managerConfigHash(written));
    assert.notEqual(managerConfigHash({ ...written, leaseMs: 1000 }), managerConfigHash(written));
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deploy } from '../src/cluster/deploy.js';
import { deployAws } from '../src/cluster/deploy-aws.js';
import { silentProgress } from '../src/cluster/progress.js';
import { intOption, secondsOption } from '../src/commands/options.js';
import { DynworkError } from '../src/errors.js';
import { createAwsClients } from '../src/providers/aws/clients.js';
import type { LaunchSpec, Provider } from '../src/providers/types.js';
import { autoscalePolicy, autoscaleSettingsFor, autoscaleSettingsSchema, scalingTimes, type MemberSpec } from '../src/settings/autoscale.js';
import { DEPLOY_RANGES, deployProblems, type Range } from '../src/settings/bounds.js';
import { clusterStateSchema, localDeploySettingsSchema } from '../src/settings/cluster-state.js';
import { managerConfigSchema } from '../src/settings/manager.js';
import { managerConfigChanged, managerConfigFor, managerConfigHash, type SharedManagerConfig } from '../src/settings/manager-configs.js';
import { policySchema } from '../src/settings/policy.js';
import { workerConfigSchema } from '../src/settings/worker.js';
import { readClusterState } from '../src/state/cluster-state.js';
import { clusterDir, stateRoot } from '../src/state/paths.js';
import { demoSettings, FakeAws } from './fake-aws.js';
import { CLIENT_TOKEN, tempDir, WORKER_TOKEN } from './helpers.js';

const savedHome = process.env.DYNWORK_HOME;
let home: { dir: string; cleanup: () => void };
before(() => {
  home = tempDir('dynwork-settings-');
  process.env.DYNWORK_HOME = home.dir;
});
after(() => {
  home.cleanup();
  if (savedHome === undefined) delete process.env.DYNWORK_HOME;
  else process.env.DYNWORK_HOME = savedHome;
});

const members = (n: number): MemberSpec[] => Array.from({ length: n }, (_, i) => ({ index: i + 1, host: `10.0.0.${i + 1}`, bindHost: '0.0.0.0', port: 5000, dataDir: '/var/lib/dynwork/queue' }));

describe('schema defaults', () => {
  test('a manager config needs only its index, data dir and tokens', () => {
    const c = managerConfigSchema.parse({ index: 1, dataDir: '/d', clientToken: CLIENT_TOKEN, workerToken: WORKER_TOKEN });
    assert.deepEqual(
      { cluster: c.cluster, host: c.host, port: c.port, peers: c.peers, leaseMs: c.leaseMs, maxAttempts: c.maxAttempts, logLevel: c.logLevel, autoscale: c.autoscale },
      { cluster: 'default', host: '127.0.0.1', port: 5000, peers: [], leaseMs: 30_000, maxAttempts: 5, logLevel: 'info', autoscale: undefined },
    );
    assert.deepEqual(c.limits, { maxDataBytes: 1024 * 1024, maxIterations: 10_000_000, maxTop: 10_000, maxBatch: 10_000, maxBodyBytes: 16 * 1024 * 1024 });
  });

  test('a worker config needs only its managers and token', () => {
    const w = workerConfigSchema.parse({ managers: [{ index: 1, url: 'http://127.0.0.1:5000' }], workerToken: WORKER_TOKEN });
    assert.deepEqual(
      { idleTimeoutMs: w.idleTimeoutMs, noManagerTimeoutMs: w.noManagerTimeoutMs, maxLifetimeMs: w.maxLifetimeMs, resultBatchMs: w.resultBatchMs },
      { idleTimeoutMs: 300_000, noManagerTimeoutMs: 600_000, maxLifetimeMs: 24 * 3600_000, resultBatchMs: 250 },
    );
  });

  test('autoscale settings take their timings from the provider: a local process starts in a blink, an EC2 machine in minutes', () => {
    const local = autoscaleSettingsSchema.parse({ provider: 'local', members: members(1), maxWorkers: 2 });
    const aws = autoscaleSettingsSchema.parse({ provider: 'aws', aws: demoSettings(), members: members(1), maxWorkers: 2 });
    const timings = (s: typeof local) => [
      s.scaleUpAfterMs,
      s.intervalMs,
      s.workerIdleTimeoutMs,
      s.workerThreads,
      s.launchDeadlineMs,
      s.heartbeatTimeoutMs,
      s.managerDeadAfterMs,
      s.workerNoManagerTimeoutMs,
      s.workerMaxLifetimeMs,
    ];
    assert.deepEqual(timings(local), [20_000, 5_000, 300_000, 1, 30_000, 30_000, 10_000, 600_000, 86_400_000]);
    assert.deepEqual(timings(aws), [20_000, 5_000, 300_000, 1, 900_000, 60_000, 300_000, 900_000, 86_400_000]);
    assert.equal(autoscaleSettingsSchema.safeParse({ provider: 'aws', members: members(1), maxWorkers: 2 }).success, false, 'aws settings need the aws part');
  });

  test('the autoscaler policy has a default for every field', () => {
    const p = policySchema.parse({});
    assert.equal(p.scaleUpAfterMs, 20_000);
    assert.equal(p.maxWorkers, 3);
    assert.equal(p.managerBootGraceMs, 30_000);
  });
});

describe('the cluster state file', () => {
  const write = (name: string, state: unknown) => {
    const dir = clusterDir(name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify(state));
  };
  const good = {
    provider: 'local',
    name: 'good',
    createdAt: '2026-01-01T00:00:00.000Z',
    clientToken: CLIENT_TOKEN,
    workerToken: WORKER_TOKEN,
    settings: { managers: 2, maxWorkers: 4, scaleUpAfterS: 20, idleTimeoutS: 300, port: 5000 },
    managers: [{ index: 1, url: 'https://127.0.0.1:5000', pid: 42, configHash: 'abc' }],
  };

  test('a good one reads back typed', () => {
    write('good', good);
    const s = readClusterState('good');
    assert.equal(s?.provider, 'local');
    assert.equal(s?.settings.managers, 2);
  });

  test('a hand-edited field is refused with a message naming it', () => {
    write('bad-count', { ...good, name: 'bad-count', settings: { ...good.settings, managers: 99 } });
    assert.throws(
      () => readClusterState('bad-count'),
      (err: DynworkError) => {
        assert.ok(err instanceof DynworkError);
        assert.match(err.message, /cluster\.json is corrupt: settings\.managers: /);
        assert.match(err.hint ?? '', /dynwork deploy --cluster bad-count/);
        return true;
      },
    );
    write('bad-index', { ...good, name: 'bad-index', managers: [{ index: 'one', url: 'x' }] });
    assert.throws(() => readClusterState('bad-index'), /managers\.0\.index: /);
    write('bad-provider', { ...good, name: 'bad-provider', provider: 'gcp' });
    assert.throws(() => readClusterState('bad-provider'), /provider: /);
  });

  test('settings a deploy did not record may be missing (the next deploy takes defaults)', () => {
    assert.equal(clusterStateSchema.safeParse({ ...good, settings: {} }).success, true);
  });
});

describe('autoscale settings from deploy options', () => {
  test('local deploy writes exactly what autoscaleSettingsFor makes of its options', async () => {
    const launched: LaunchSpec[] = [];
    // Enough of a provider to see the configs deploy launches with, stopping the deploy there.
    const provider: Provider = {
      name: 'local',
      launch: async (_role, spec) => {
        launched.push(spec);
        throw new Error('captured');
      },
      list: async () => [],
      terminate: async () => undefined,
      hourlyCost: async () => ({ usdPerHour: 0, basis: 'test' }),
    };
    await assert.rejects(deploy({ cluster: 'captured', provider: 'local', managers: 1, maxWorkers: 7, scaleUpAfterS: 2.5, idleTimeoutS: 45, port: 15990 }, provider, silentProgress), /captured/);
    const config = managerConfigSchema.parse(launched[0]!.config);
    assert.ok(config.autoscale);
    const expected = autoscaleSettingsFor({ provider: 'local', root: stateRoot(), members: config.autoscale.members, maxWorkers: 7, scaleUpAfterS: 2.5, idleTimeoutS: 45 });
    assert.deepEqual(config.autoscale, expected);
    assert.deepEqual([expected.scaleUpAfterMs, expected.intervalMs, expected.workerIdleTimeoutMs, expected.workerThreads], [2_500, 625, 45_000, 1]);
  });

  test('aws deploy writes exactly what autoscaleSettingsFor makes of its options', async () => {
    const fake = new FakeAws();
    const clients = createAwsClients({ region: 'us-east-1' });
    try {
      await deployAws(
        { cluster: 'demo', managers: 1, maxWorkers: 6, scaleUpAfterS: 30, idleTimeoutS: 120, instanceType: 't3.micro', workerInstanceType: 'c6i.xlarge' },
        {
          clients,
          publicIp: async () => '203.0.113.7',
          healthy: async () => true,
          pollMs: 1,
          pack: async () => ({ file: '/dev/null', sha256: createHash('sha256').digest('hex'), bytes: 0, name: 'dynwork', version: '0.1.0', cleanup: () => undefined }),
          bootLog: async () => '',
        },
        silentProgress,
      );
      const [run] = fake.calls('ec2:RunInstances');
      const script = Buffer.from(String(run!.UserData), 'base64').toString('utf8');
      const written: unknown = JSON.parse(Buffer.from(/^CONFIG_B64='([A-Za-z0-9+/=]+)'$/m.exec(script)![1]!, 'base64').toString('utf8'));
      const autoscale = autoscaleSettingsSchema.parse((written as { autoscale: unknown }).autoscale);
      assert.equal(autoscale.provider, 'aws');
      if (autoscale.provider !== 'aws') return;
      // c6i.xlarge: 4 vCPUs in the fake account, one hash thread each.
      const expected = autoscaleSettingsFor({ provider: 'aws', aws: autoscale.aws, members: autoscale.members, maxWorkers: 6, scaleUpAfterS: 30, idleTimeoutS: 120, workerThreads: 4 });
      assert.deepEqual(autoscale, expected);
    } finally {
      fake.restore();
      clients.destroy();
    }
  });
});

describe('did a manager config change?', () => {
  const base = (over: Partial<SharedManagerConfig> = {}, n = 2): SharedManagerConfig => ({
    cluster: 'demo',
    clientToken: CLIENT_TOKEN,
    workerToken: WORKER_TOKEN,
    tls: { ca: '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n' },
    autoscale: autoscaleSettingsFor({
      provider: 'aws',
      aws: demoSettings(),
      members: members(n).map((m) => ({ ...m, tls: { certFile: 'manager-cert', keyFile: 'manager-key', certSha256: 'aa' } })),
      maxWorkers: 4,
      scaleUpAfterS: 20,
      idleTimeoutS: 300,
      workerThreads: 2,
    }),
    ...over,
  });
  const config = managerConfigFor(base(), 1);
  const hash = managerConfigHash(config);

  test('no: the same config, with its defaults spelled out or new tokens', () => {
    assert.equal(managerConfigChanged(hash, managerConfigFor(base(), 1)), false);
    assert.equal(managerConfigChanged(hash, managerConfigSchema.parse(config)), false, 'a leader relaunching a peer spells the defaults out');
    assert.equal(managerConfigChanged(hash, managerConfigFor(base({ clientToken: 'c'.repeat(32), workerToken: 'w'.repeat(32) }), 1)), false, 'tokens are not part of it');
  });

  test('yes: a setting, the autoscaler, the members or the certificate changed, or nothing is known', () => {
    assert.equal(managerConfigChanged(hash, { ...config, leaseMs: 1000 }), true);
    assert.equal(managerConfigChanged(hash, managerConfigFor(base({ autoscale: { ...base().autoscale, maxWorkers: 5 } }), 1)), true);
    assert.equal(managerConfigChanged(hash, managerConfigFor(base({}, 3), 1)), true, 'a third manager is a new peer');
    const renewed = base();
    renewed.autoscale.members[0]!.tls!.certSha256 = 'bb';
    assert.equal(managerConfigChanged(hash, managerConfigFor(renewed, 1)), true, 'a new certificate');
    assert.equal(managerConfigChanged(undefined, config), true);
  });
});

describe('the CLI and the schemas share their bounds', () => {
  const intCases: [string, Range, keyof typeof DEPLOY_RANGES][] = [
    ['--managers', DEPLOY_RANGES.managers, 'managers'],
    ['--max-workers', DEPLOY_RANGES.maxWorkers, 'maxWorkers'],
    ['--port', DEPLOY_RANGES.port, 'port'],
  ];
  const defaults = { managers: 2, maxWorkers: 4, scaleUpAfterS: 20, idleTimeoutS: 300, port: 5000 };

  test('a whole-number flag the CLI accepts is one the state schema and deploy accept, and the edges are the same', () => {
    for (const [flag, range, key] of intCases) {
      const parse = intOption(flag, range);
      for (const v of [range.min, range.max]) {
        assert.equal(parse(String(v)), v);
        assert.equal(localDeploySettingsSchema.safeParse({ ...defaults, [key]: v }).success, true, `${flag} ${v}`);
        assert.deepEqual(deployProblems({ ...defaults, [key]: v }), []);
      }
      for (const v of [range.min - 1, range.max + 1]) {
        if (v >= 0) assert.throws(() => parse(String(v)), new RegExp(`${flag} must be an integer from ${range.min} to ${range.max}`));
        assert.equal(localDeploySettingsSchema.safeParse({ ...defaults, [key]: v }).success, false, `${flag} ${v}`);
        assert.deepEqual(deployProblems({ ...defaults, [key]: v }), [`${flag} must be an integer from ${range.min} to ${range.max}`]);
      }
    }
  });

  test('a seconds flag the CLI accepts is one the state schema, deploy and the autoscaler accept', () => {
    const cases: [string, Range, 'scaleUpAfterS' | 'idleTimeoutS'][] = [
      ['--scale-up-after', DEPLOY_RANGES.scaleUpAfterS, 'scaleUpAfterS'],
      ['--idle-timeout', DEPLOY_RANGES.idleTimeoutS, 'idleTimeoutS'],
    ];
    for (const [flag, range, key] of cases) {
      const parse = secondsOption(flag, range);
      for (const raw of [String(range.min), String(range.max), '2.005']) {
        const v = parse(raw);
        const s = { ...defaults, [key]: v };
        assert.equal(localDeploySettingsSchema.safeParse(s).success, true, `${flag} ${raw}`);
        assert.deepEqual(deployProblems(s), []);
        const settings = autoscaleSettingsFor({ provider: 'local', root: '/r', members: members(1), maxWorkers: 1, scaleUpAfterS: s.scaleUpAfterS, idleTimeoutS: s.idleTimeoutS });
        assert.doesNotThrow(() => autoscalePolicy(settings));
        assert.deepEqual(scalingTimes(s.scaleUpAfterS, s.idleTimeoutS).workerIdleTimeoutMs, settings.workerIdleTimeoutMs);
      }
      assert.throws(() => parse('0.0001'), new RegExp(`${flag} must be a number of seconds from 0\\.001 to ${range.max}`));
      assert.deepEqual(deployProblems({ ...defaults, [key]: 0.0001 }), [`${flag} must be a number of seconds from 0.001 to ${range.max} (at most 3 decimals)`]);
      assert.equal(localDeploySettingsSchema.safeParse({ ...defaults, [key]: range.max + 1 }).success, false);
    }
  });
});

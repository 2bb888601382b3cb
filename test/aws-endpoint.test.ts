import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAwsClients } from '../src/providers/aws/clients.js';
import { serveAws, type AwsWire } from './aws-wire.js';
import { spawn } from 'node:child_process';
import { CLI, dynwork } from './cli.js';
import { FakeAws } from './fake-aws.js';
import { tempDir } from './helpers.js';

describe('AWS_ENDPOINT_URL', () => {
  // An empty account, served on 127.0.0.1.
  let wire: AwsWire;
  let aws: FakeAws;
  const seen = () => wire.requests;
  const home = tempDir('dynwork-endpoint-');
  const env = () => ({
    AWS_ENDPOINT_URL: wire.url,
    AWS_ACCESS_KEY_ID: 'AKIDLOCALTEST',
    AWS_SECRET_ACCESS_KEY: 'local-secret-key',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(home.dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(home.dir, 'none'),
  });

  before(async () => {
    aws = new FakeAws({ mock: false });
    wire = await serveAws(aws, { AKIDLOCALTEST: 'local-secret-key', AKIDOPSPROFILE: 'ops-secret-key' });
  });
  after(async () => {
    await wire.close();
    home.cleanup();
  });

  test('not at a terminal, an AWS teardown without --yes removes nothing and says what to add', async () => {
    seen().length = 0;
    const r = await dynwork(home.dir, ['teardown', '--provider', 'aws', '--cluster', 'ghost'], { env: env() });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^dynwork: teardown of AWS cluster "ghost" deletes its machines and its queues' data volumes: add --yes to confirm when not at a terminal\nhint: see what it would remove with: dynwork teardown --cluster ghost --provider aws --dry-run\n$/,
    );
    assert.deepEqual(seen(), [], 'no request was made');
  });

  test('at a terminal, an AWS teardown lists what it removes and asks; "n" removes nothing, "y" removes it', async () => {
    aws.keyPairs.set('dynwork-tty', { KeyPairId: 'key-0tty', KeyName: 'dynwork-tty', Tags: [{ Key: 'dynwork:cluster', Value: 'tty' }] });
    const answer = (reply: string) =>
      new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const cmd = [process.execPath, CLI, 'teardown', '--provider', 'aws', '--cluster', 'tty'].map((a) => `'${a}'`).join(' ');
        const child = spawn('script', ['-qefc', `stty cols 100 rows 40; exec ${cmd}`, '/dev/null'], { env: { ...process.env, ...env(), DYNWORK_HOME: home.dir }, stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let asked = false;
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        const take = (d: Buffer) => {
          out += d.toString();
          if (!asked && out.includes('Remove them? [y/N]')) {
            asked = true;
            child.stdin.write(`${reply}\r`);
          }
        };
        child.stdout.on('data', take);
        child.stderr.on('data', take);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, out });
        });
      });
    const no = await answer('n');
    assert.match(no.out, /cluster "tty" in us-east-1: this removes 1 resource\(s\):\r?\n {2}key pair {2}dynwork-tty/);
    assert.match(no.out, /teardown cancelled: nothing was removed/);
    assert.equal(no.code, 2);
    assert.ok(aws.keyPairs.has('dynwork-tty'), 'still there');
    const yes = await answer('y');
    assert.equal(yes.code, 0, yes.out);
    assert.equal(aws.keyPairs.has('dynwork-tty'), false);
  });

  test('the CLI tears a cluster down against an EC2-compatible endpoint, with signed requests and no code change', async () => {
    seen().length = 0;
    const r = await dynwork(home.dir, ['teardown', '--provider', 'aws', '--cluster', 'ghost', '--yes', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { nothingToDo: boolean; region: string; removed: unknown[] };
    assert.deepEqual([out.nothingToDo, out.region, out.removed], [true, 'us-east-1', []]);
    const calls = seen().map((s) => `${s.service}:${s.action}`);
    for (const c of ['ec2:DescribeInstances', 'ec2:DescribeSecurityGroups', 'ec2:DescribeKeyPairs', 'ec2:DescribeVolumes', 'ssm:GetParameters', 'iam:GetInstanceProfile', 'iam:GetRole']) {
      assert.ok(calls.includes(c), `${c} reached the endpoint (saw ${calls.join(', ')})`);
    }
    assert.ok(
      seen().every((s) => s.signedBy === 'AKIDLOCALTEST'),
      'every request carries a valid SigV4 signature',
    );
    const sg = new URLSearchParams(seen().find((s) => s.action === 'DescribeSecurityGroups')!.body);
    assert.equal(sg.get('Filter.1.Name'), 'tag:dynwork:cluster');
    assert.equal(sg.get('Filter.1.Value.1'), 'ghost');
    assert.doesNotMatch(r.stdout + r.stderr, /local-secret-key/);
  });

  test('STS too: the account check of deploy goes to the endpoint', async () => {
    seen().length = 0;
    const saved = { ...process.env };
    Object.assign(process.env, env());
    const clients = createAwsClients();
    try {
      const id = await clients.sts.getCallerIdentity({});
      assert.equal(id.Account, '123456789012');
      assert.deepEqual(
        seen().map((s) => `${s.service}:${s.action}`),
        ['sts:GetCallerIdentity'],
      );
      assert.equal(await clients.region(), 'us-east-1');
    } finally {
      clients.destroy();
      for (const k of Object.keys(env())) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  test('a wrong secret or no credentials at all: one line saying so and how to fix it, exit 1, nothing created', async () => {
    seen().length = 0;
    const wrong = await dynwork(home.dir, ['deploy', '--provider', 'aws', '--cluster', 'creds', '--allow-cidr', '203.0.113.7/32'], { env: { ...env(), AWS_SECRET_ACCESS_KEY: 'not-the-secret' } });
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.stderr,
      /^dynwork: AWS rejected your credentials \(SignatureDoesNotMatch\)\nhint: check the access key \/ profile \(aws sts get-caller-identity\), and that the region is enabled for your account\n$/m,
    );
    assert.deepEqual(
      seen().map((q) => [`${q.service}:${q.action}`, q.signedBy]),
      [['sts:GetCallerIdentity', null]],
      'the account check comes first; nothing is created',
    );
    assert.doesNotMatch(wrong.stdout + wrong.stderr, /not-the-secret/);

    const none = await dynwork(home.dir, ['teardown', '--provider', 'aws', '--cluster', 'creds', '--yes'], { env: { ...env(), AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^dynwork: no AWS credentials found\nhint: configure them \(aws configure, aws sso login, or AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY\) or pass --profile NAME\n$/m);
    assert.equal(seen().length, 1, 'no request without credentials');

    // Every command says the same, status included (it printed a raw CredentialsProviderError).
    const dir = join(home.dir, 'clusters', 'creds');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const state = { provider: 'aws', name: 'creds', createdAt: new Date().toISOString(), clientToken: 'c'.repeat(32), workerToken: 'w'.repeat(32), settings: { region: 'us-east-1' }, managers: [] };
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify(state), { mode: 0o600 });
    const status = await dynwork(home.dir, ['status', '--cluster', 'creds'], { env: { ...env(), AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
    assert.equal(status.code, 1);
    assert.match(status.stderr, /^dynwork: no AWS credentials found\nhint: configure them .* or pass --profile NAME\n$/);
    rmSync(dir, { recursive: true, force: true });
  });

  test('--profile picks the credentials and region of a named profile; --region overrides the region', async () => {
    const config = join(home.dir, 'aws-config');
    const credentials = join(home.dir, 'aws-credentials');
    writeFileSync(config, '[profile ops]\nregion = eu-west-3\n');
    writeFileSync(credentials, '[ops]\naws_access_key_id = AKIDOPSPROFILE\naws_secret_access_key = ops-secret-key\n', { mode: 0o600 });
    // No keys or region in the environment: only the profile can supply them.
    const { AWS_REGION: _r, ...rest } = env();
    const profileEnv = { ...rest, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials };
    for (const [extra, region] of [
      [[], 'eu-west-3'],
      [['--region', 'ap-south-1'], 'ap-south-1'],
    ] as const) {
      seen().length = 0;
      const r = await dynwork(home.dir, ['teardown', '--provider', 'aws', '--cluster', 'prof', '--profile', 'ops', '--yes', ...extra, '--json'], { env: profileEnv });
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { region: string }).region, region);
      assert.ok(seen().length > 0);
      assert.deepEqual([...new Set(seen().map((q) => q.signedBy))], ['AKIDOPSPROFILE'], "every request signed with the profile's key");
      // IAM is global and always signs for us-east-1; every regional call goes to the chosen region.
      assert.deepEqual(
        [
          ...new Set(
            seen()
              .filter((q) => q.service !== 'iam')
              .map((q) => q.region),
          ),
        ],
        [region],
      );
    }
  });

  test("the AWS SDK's Node end-of-support warning never lands among the spinner lines", async () => {
    // The SDK warns (on Node < 22 only; newer Nodes pass trivially) a tick
    // after the first client is built, while the first spinner is up. A
    // wrong secret stops deploy after that spinner, before anything is made.
    // '' stands for "not set", whatever the test runner's environment holds.
    const r = await dynwork(home.dir, ['deploy', '--provider', 'aws', '--cluster', 'quiet', '--allow-cidr', '203.0.113.7/32'], {
      env: { ...env(), AWS_SECRET_ACCESS_KEY: 'not-the-secret', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '' },
    });
    assert.equal(r.code, 1);
    // Not a terminal: one plain line for the step, then the error and its hint, and nothing else.
    assert.match(r.stderr, /^✖ Checking AWS account \(us-east-1\)\ndynwork: AWS rejected your credentials \(SignatureDoesNotMatch\)\nhint: [^\n]+\n$/, `on ${process.version}`);
  });

  test('commands that do not need AWS never load the SDK', async () => {
    seen().length = 0;
    const r = await dynwork(home.dir, ['teardown', '--cluster', 'nothing-here'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /AWS SDK|NodeVersionSupportWarning/);
    assert.deepEqual(seen(), []);
  });

  test('aws options are checked before any AWS call: one line, exit 2', async () => {
    seen().length = 0;
    const cases: [string[], RegExp][] = [
      [['deploy', '--spot', '--region', 'eu-west-1'], /^dynwork: --region, --spot only apply to --provider aws\nhint: drop them, or add --provider aws\n$/],
      [['deploy', '--provider', 'aws', '--allow-cidr', '10.0.0.1'], /^dynwork: --allow-cidr "10\.0\.0\.1" is not an IPv4 CIDR \(e\.g\. 203\.0\.113\.7\/32\)\n/],
      [
        ['deploy', '--provider', 'aws', '--subnet', 'vpc-1', '--instance-type', 'huge'],
        /^dynwork: instance type "huge" does not look like one \(e\.g\. t3\.micro\); --subnet "vpc-1" is not a subnet id \(subnet-…\)\n/,
      ],
      [['teardown', '--dry-run'], /^dynwork: --region, --profile and --dry-run only apply to --provider aws\n/],
    ];
    for (const [args, stderr] of cases) {
      const r = await dynwork(home.dir, [...args, '--cluster', 'opts'], { env: env() });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, stderr);
      assert.doesNotMatch(r.stderr, /NodeVersionSupportWarning/, 'the SDK is not even loaded');
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(seen(), [], 'nothing reached AWS');
  });
});

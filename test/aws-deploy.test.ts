import assert from 'node:assert/strict';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import type { RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import type { Artifact } from '../src/cluster/artifact.js';
import { deployAws, type AwsDeployDeps, type AwsDeployOptions } from '../src/cluster/deploy-aws.js';
import { silentProgress } from '../src/cluster/progress.js';
import { teardownAws } from '../src/cluster/teardown-aws.js';
import { DynworkError } from '../src/errors.js';
import { createAwsClients, type AwsClients } from '../src/providers/aws/clients.js';
import { readClusterState } from '../src/state/cluster-state.js';
import { clusterDir } from '../src/state/paths.js';
import { VERSION } from '../src/version.js';
import type { ManagerPin } from '../src/protocol/tls-identity.js';
import type { AutoscaleSettings } from '../src/settings/autoscale.js';
import type { Endpoint, ManagerTls } from '../src/settings/manager.js';
import { createAwsProvider } from '../src/providers/aws/provider.js';
import { awsError, FakeAws } from './fake-aws.js';
import { tempDir } from './helpers.js';

const ALLOW = '203.0.113.7';
let fake: FakeAws;
let clients: AwsClients;
let home: { dir: string; cleanup: () => void };
let probed: string[];
let pins: ManagerPin[];
/** What each deploy was asked to pack: null for this build, else the --package spec. */
let packed: (string | null)[];
const savedHome = process.env.DYNWORK_HOME;

beforeEach(() => {
  fake = new FakeAws();
  clients = createAwsClients({ region: 'us-east-1' });
  home = tempDir('dynwork-aws-');
  process.env.DYNWORK_HOME = home.dir;
  probed = [];
  pins = [];
  packed = [];
});
afterEach(() => {
  fake.restore();
  clients.destroy();
  home.cleanup();
});
after(() => {
  if (savedHome === undefined) delete process.env.DYNWORK_HOME;
  else process.env.DYNWORK_HOME = savedHome;
});

/**
 * A small stand-in for the packed build (test/artifact.test.ts packs the real
 * one): its bytes, hence its hash, depend on what was asked for.
 */
async function fakePack(spec: string | null): Promise<Artifact> {
  packed.push(spec);
  const dir = mkdtempSync(join(tmpdir(), 'dynwork-fake-build-'));
  const body = Buffer.from(`the build of ${spec ?? 'this dynwork'}`);
  const file = join(dir, 'dynwork-0.1.0.tgz');
  writeFileSync(file, body);
  return { file, sha256: sha256(body), bytes: body.length, name: 'dynwork', version: '0.1.0', cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const BUILD_SHA = sha256('the build of this dynwork');
const BUCKET = 'dynwork-artifacts-123456789012-us-east-1';
const BUILD_KEY = `clusters/demo/dynwork-0.1.0-${BUILD_SHA}.tgz`;

function deploy(opts: Partial<AwsDeployOptions> = {}, healthy: (url: string) => boolean = () => true, over: Partial<AwsDeployDeps> = {}) {
  return deployAws(
    { cluster: 'demo', ...opts },
    {
      clients,
      publicIp: async () => ALLOW,
      healthy: async (url, token) => {
        probed.push(url);
        assert.equal(token.length >= 32, true);
        return healthy(url);
      },
      pollMs: 1,
      pack: fakePack,
      bootLog: async () => '',
      ...over,
    },
    silentProgress,
  );
}

const teardown = (opts: { keepData?: boolean; dryRun?: boolean } = {}) => teardownAws({ cluster: 'demo', ...opts }, { clients, pollMs: 1 }, silentProgress);

/** What these tests read of the config in a machine's user-data: a manager's, or (ca) a worker's. */
interface BootConfig {
  index: number;
  host: string;
  advertiseHost: string;
  clientTokenFile: string;
  workerTokenFile: string;
  peers: Endpoint[];
  tls: ManagerTls;
  autoscale: Extract<AutoscaleSettings, { provider: 'aws' }>;
  ca?: string;
}

/** An IAM policy document as the tests read it. */
interface Policy {
  Statement: { Sid?: string; Effect: string; Principal?: unknown; Action: string | string[]; Resource: string | string[]; Condition?: Record<string, Record<string, string | string[]>> }[];
}

function userDataOf(run: RunInstancesCommandInput): { script: string; config: BootConfig } {
  const script = Buffer.from(run.UserData as string, 'base64').toString('utf8');
  const b64 = /^CONFIG_B64='([A-Za-z0-9+/=]+)'$/m.exec(script)?.[1];
  assert.ok(b64, 'user-data carries the config');
  return { script, config: JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as BootConfig };
}

const tag = (tags: { Key?: string; Value?: string }[], key: string) => tags.find((t) => t.Key === key)?.Value;

describe('aws deploy', () => {
  test('a first deploy creates exactly the cluster, each call with the expected input', async () => {
    const r = await deploy();

    assert.deepEqual(fake.mutations(), [
      's3:CreateBucket',
      's3:PutBucketPolicy',
      's3:PutBucketEncryption',
      's3:PutBucketTagging',
      's3:PutObject',
      'ec2:CreateKeyPair',
      'ec2:CreateSecurityGroup',
      'ec2:AuthorizeSecurityGroupIngress',
      'ssm:PutParameter',
      'ssm:PutParameter',
      'iam:CreateRole',
      'iam:PutRolePolicy',
      'iam:CreateInstanceProfile',
      'iam:AddRoleToInstanceProfile',
      'iam:CreateRole',
      'iam:PutRolePolicy',
      'iam:CreateInstanceProfile',
      'iam:AddRoleToInstanceProfile',
      'ec2:CreateVolume',
      'ec2:CreateVolume',
      'ec2:AllocateAddress',
      'ec2:AllocateAddress',
      // The CA, then each manager's key and certificate.
      'ssm:PutParameter',
      'ssm:PutParameter',
      'ssm:PutParameter',
      'ssm:PutParameter',
      'ssm:PutParameter',
      'ec2:RunInstances',
      'ec2:RunInstances',
    ]);
    assert.equal(fake.calls('sts:GetCallerIdentity').length, 1, 'the account is looked up before anything is created');
    assert.equal(fake.log[0]?.action, 'sts:GetCallerIdentity');

    // The build: packed once, into the account's private bucket, named by its hash.
    assert.deepEqual(packed, [null], 'this very build, not a registry package');
    assert.deepEqual(fake.calls('s3:CreateBucket'), [{ Bucket: BUCKET, ObjectOwnership: 'BucketOwnerEnforced' }], 'us-east-1 takes no LocationConstraint');
    // New buckets block public access already (S3's default since 2023): checked, left alone.
    assert.deepEqual(fake.buckets.get(BUCKET)!.PublicAccessBlock, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    assert.equal(fake.calls('s3:GetPublicAccessBlock').length, 1);
    assert.deepEqual((JSON.parse(fake.calls('s3:PutBucketPolicy')[0]!.Policy as string) as Policy).Statement, [
      {
        Sid: 'RefuseInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
    assert.deepEqual(fake.calls('s3:PutBucketEncryption')[0]!.ServerSideEncryptionConfiguration!.Rules, [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: true }]);
    assert.deepEqual(fake.calls('s3:PutBucketTagging')[0]!.Tagging!.TagSet, [
      { Key: 'dynwork:role', Value: 'artifacts' },
      { Key: 'Name', Value: 'dynwork-artifacts' },
    ]);
    const [put] = fake.calls('s3:PutObject');
    assert.equal(put!.Bucket, BUCKET);
    assert.equal(put!.Key, BUILD_KEY);
    assert.equal(put!.ChecksumSHA256, Buffer.from(BUILD_SHA, 'hex').toString('base64'), 'S3 checks the bytes it stores');
    assert.deepEqual(put!.Metadata, { sha256: BUILD_SHA });
    assert.ok(fake.calls('s3:HeadObject').length >= 2, 'looked for before the upload, read back after');

    // Network: the default VPC's first default subnet (by zone).
    const [key] = fake.calls('ec2:CreateKeyPair');
    assert.equal(key!.KeyName, 'dynwork-demo');
    assert.equal(key!.KeyType, 'ed25519');
    const keyFile = join(clusterDir('demo'), 'ssh-key.pem');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the private key is readable by its owner only');

    const [sg] = fake.calls('ec2:CreateSecurityGroup');
    assert.equal(sg!.VpcId, 'vpc-0default');
    assert.equal(tag(sg!.TagSpecifications![0]!.Tags!, 'dynwork:cluster'), 'demo');
    const groupId = [...fake.groups.keys()][0]!;
    const [ingress] = fake.calls('ec2:AuthorizeSecurityGroupIngress');
    assert.deepEqual(
      ingress!.IpPermissions,
      [
        { IpProtocol: 'tcp', FromPort: 0, ToPort: 65535, UserIdGroupPairs: [{ GroupId: groupId }] },
        { IpProtocol: 'tcp', FromPort: 5000, ToPort: 5000, IpRanges: [{ CidrIp: `${ALLOW}/32` }] },
      ],
      'the API only from the deployer, everything only from the group itself, no SSH',
    );

    const params = fake.calls('ssm:PutParameter');
    assert.deepEqual(
      params.map((p) => [p.Name, p.Type, p.Overwrite]),
      [
        ['/dynwork/demo/client-token', 'SecureString', false],
        ['/dynwork/demo/worker-token', 'SecureString', false],
        ['/dynwork/demo/ca', 'String', false],
        ['/dynwork/demo/manager-1-key', 'SecureString', false],
        ['/dynwork/demo/manager-1-cert', 'String', false],
        ['/dynwork/demo/manager-2-key', 'SecureString', false],
        ['/dynwork/demo/manager-2-cert', 'String', false],
      ],
    );
    const clientToken = params[0]!.Value as string;
    const workerToken = params[1]!.Value as string;
    assert.notEqual(clientToken, workerToken);

    const roles = fake.calls('iam:CreateRole');
    assert.deepEqual(
      roles.map((x) => x.RoleName),
      ['dynwork-demo-us-east-1-manager', 'dynwork-demo-us-east-1-worker'],
    );
    assert.deepEqual((JSON.parse(roles[0]!.AssumeRolePolicyDocument!) as Policy).Statement[0]!.Principal, { Service: 'ec2.amazonaws.com' });
    const [managerPolicy, workerPolicy] = fake.calls('iam:PutRolePolicy').map((p) => JSON.parse(p.PolicyDocument as string) as Policy);
    const stmt = (sid: string) => managerPolicy!.Statement.find((x) => x.Sid === sid)!;
    // Launch: only the cluster's instance types, IMDSv2, encrypted volumes, the AMI deploy resolved, in the cluster's network.
    assert.deepEqual(stmt('LaunchOnlyClusterInstancesOfItsTypes'), {
      Sid: 'LaunchOnlyClusterInstancesOfItsTypes',
      Effect: 'Allow',
      Action: 'ec2:RunInstances',
      Resource: 'arn:aws:ec2:us-east-1:123456789012:instance/*',
      Condition: { StringEquals: { 'aws:RequestTag/dynwork:cluster': 'demo', 'ec2:InstanceType': ['t3.micro'], 'ec2:MetadataHttpTokens': 'required' } },
    });
    assert.deepEqual(stmt('LaunchOnlyEncryptedClusterVolumes').Condition, { StringEquals: { 'aws:RequestTag/dynwork:cluster': 'demo' }, Bool: { 'ec2:Encrypted': 'true' } });
    assert.deepEqual(stmt('LaunchOnlyClusterNetworkInterfaces').Condition, { StringEquals: { 'aws:RequestTag/dynwork:cluster': 'demo' } });
    assert.deepEqual(stmt('LaunchOnlyTheClusterImagesInItsNetwork').Resource, [
      'arn:aws:ec2:us-east-1::image/ami-0x86',
      'arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0a',
      `arn:aws:ec2:us-east-1:123456789012:security-group/${[...fake.groups.keys()][0]}`,
      'arn:aws:ec2:us-east-1:123456789012:key-pair/*',
      'arn:aws:ec2:us-east-1:123456789012:spot-instances-request/*',
    ]);
    const readBuilds = { Sid: 'ReadClusterBuilds', Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/clusters/demo/*` };
    assert.deepEqual(stmt('ReadClusterBuilds'), readBuilds, "the cluster's builds, nothing else in the bucket");
    assert.deepEqual(stmt('TerminateOnlyClusterInstances').Condition, { StringEquals: { 'aws:ResourceTag/dynwork:cluster': 'demo' } });
    assert.deepEqual(stmt('TagOnlyAtLaunch').Condition, { StringEquals: { 'ec2:CreateAction': 'RunInstances' } });
    assert.deepEqual(stmt('TakeOnlyClusterAddresses'), {
      Sid: 'TakeOnlyClusterAddresses',
      Effect: 'Allow',
      Action: 'ec2:AssociateAddress',
      Resource: ['arn:aws:ec2:us-east-1:123456789012:elastic-ip/*', 'arn:aws:ec2:us-east-1:123456789012:instance/*', 'arn:aws:ec2:us-east-1:123456789012:network-interface/*'],
      Condition: { StringEquals: { 'aws:ResourceTag/dynwork:cluster': 'demo' } },
    });
    assert.deepEqual(stmt('PassOnlyClusterRoles').Resource, [
      'arn:aws:iam::123456789012:role/dynwork/dynwork-demo-us-east-1-manager',
      'arn:aws:iam::123456789012:role/dynwork/dynwork-demo-us-east-1-worker',
    ]);
    const actions = managerPolicy!.Statement.flatMap((x) => [x.Action].flat()).sort();
    assert.deepEqual(actions, [
      'ec2:AssociateAddress',
      'ec2:AttachVolume',
      'ec2:CreateTags',
      'ec2:DescribeAddresses',
      'ec2:DescribeInstances',
      'ec2:DescribeVolumes',
      'ec2:RunInstances',
      'ec2:RunInstances',
      'ec2:RunInstances',
      'ec2:RunInstances',
      'ec2:TerminateInstances',
      'iam:PassRole',
      's3:GetObject',
      'ssm:GetParameter',
    ]);
    assert.deepEqual(workerPolicy!.Statement, [
      { Sid: 'ReadWorkerToken', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: 'arn:aws:ssm:us-east-1:123456789012:parameter/dynwork/demo/worker-token' },
      readBuilds,
    ]);

    const volumes = fake.calls('ec2:CreateVolume');
    for (const [k, v] of volumes.entries()) {
      assert.equal(v.Encrypted, true);
      assert.equal(v.VolumeType, 'gp3');
      assert.equal(v.AvailabilityZone, 'us-east-1a');
      assert.equal(tag(v.TagSpecifications![0]!.Tags!, 'dynwork:index'), String(k + 1));
    }
    // 172.31.15.254 is taken in the subnet: the next free addresses from the top.
    assert.deepEqual(
      volumes.map((v) => tag(v.TagSpecifications![0]!.Tags!, 'dynwork:address')),
      ['172.31.15.253', '172.31.15.252'],
    );

    // One Elastic IP per manager, tagged so teardown and a replacement machine find it.
    const allocations = fake.calls('ec2:AllocateAddress');
    assert.deepEqual(
      allocations.map((a) => [
        a.Domain,
        a.TagSpecifications![0]!.ResourceType,
        tag(a.TagSpecifications![0]!.Tags!, 'dynwork:cluster'),
        tag(a.TagSpecifications![0]!.Tags!, 'dynwork:role'),
        tag(a.TagSpecifications![0]!.Tags!, 'dynwork:index'),
      ]),
      [
        ['vpc', 'elastic-ip', 'demo', 'manager-address', '1'],
        ['vpc', 'elastic-ip', 'demo', 'manager-address', '2'],
      ],
    );
    const eip = (index: number) => [...fake.addresses.values()].find((a) => tag(a.Tags, 'dynwork:index') === String(index))!;

    const runs = fake.calls('ec2:RunInstances');
    for (const [k, run] of runs.entries()) {
      const index = k + 1;
      assert.equal(run.ImageId, 'ami-0x86');
      assert.equal(run.InstanceType, 't3.micro');
      assert.deepEqual(run.MetadataOptions, { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 });
      assert.deepEqual(run.IamInstanceProfile, { Name: 'dynwork-demo-us-east-1-manager' });
      assert.equal(run.InstanceInitiatedShutdownBehavior, 'stop');
      assert.deepEqual(run.MaintenanceOptions, { AutoRecovery: 'default' });
      assert.equal(run.KeyName, 'dynwork-demo');
      assert.equal(run.NetworkInterfaces![0]!.SubnetId, 'subnet-0a');
      assert.deepEqual(run.NetworkInterfaces![0]!.Groups, [groupId]);
      assert.equal(run.NetworkInterfaces![0]!.PrivateIpAddress, k === 0 ? '172.31.15.253' : '172.31.15.252');
      const tags = run.TagSpecifications!.find((t) => t.ResourceType === 'instance')!.Tags!;
      assert.equal(tag(tags, 'dynwork:cluster'), 'demo');
      assert.equal(tag(tags, 'dynwork:role'), 'manager');
      assert.equal(tag(tags, 'dynwork:index'), String(index));
      assert.equal(tag(tags, 'Name'), `dynwork-demo-manager-${index}`);

      const { script, config } = userDataOf(run);
      assert.ok(Buffer.byteLength(script) < 16 * 1024);
      assert.match(script, new RegExp(`^# dynwork machine bootstrap, rendered by dynwork ${VERSION.replace(/\./g, '\\.')} `, 'm'), 'the exact version the CLI runs');
      assert.match(script, new RegExp(`^ARTIFACT_URL='s3://${BUCKET}/${BUILD_KEY}'$`, 'm'), 'the build this CLI runs, where it was uploaded');
      assert.match(script, new RegExp(`^ARTIFACT_SHA256='${BUILD_SHA}'$`, 'm'), 'pinned by its hash');
      assert.deepEqual(run.BlockDeviceMappings, [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, DeleteOnTermination: true, VolumeType: 'gp3' } }], 'an encrypted root volume');
      const volumeId = [...fake.volumes.values()].find((v) => tag(v.Tags, 'dynwork:index') === String(index))!.VolumeId;
      assert.match(script, new RegExp(`^DATA_VOLUME='${volumeId}'$`, 'm'));
      assert.match(script, new RegExp(`^ADDRESS_ALLOCATION='${eip(index).AllocationId}'$`, 'm'), 'the machine takes its own Elastic IP at boot');
      for (const secret of [clientToken, workerToken]) assert.ok(!script.includes(secret) && !JSON.stringify(config).includes(secret), 'no token in user-data');
      assert.equal(config.clientTokenFile, 'client-token');
      assert.equal(config.workerTokenFile, 'worker-token');
      assert.equal(config.index, index);
      assert.equal(config.host, '0.0.0.0');
      assert.equal(config.advertiseHost, k === 0 ? '172.31.15.253' : '172.31.15.252');
      assert.deepEqual(config.peers, [{ index: 3 - index, url: `https://${k === 0 ? '172.31.15.252' : '172.31.15.253'}:5000` }], 'peers by their fixed private address, no endpoint file');
      assert.equal(config.autoscale.provider, 'aws');
      assert.equal(config.autoscale.maxWorkers, 6, '3 per manager');
      assert.equal(config.autoscale.aws.worker.profileName, 'dynwork-demo-us-east-1-worker');
    }

    assert.equal(r.changed, true);
    assert.deepEqual(
      r.managers.map((m) => m.action),
      ['created', 'created'],
    );
    assert.deepEqual(
      r.managers.map((m) => m.url),
      [`https://${eip(1).PublicIp}:5000`, `https://${eip(2).PublicIp}:5000`],
      'managers are reached on their Elastic IPs, over HTTPS',
    );
    assert.deepEqual(
      probed,
      r.managers.map((m) => m.url),
      'each manager asked for health at its public address',
    );
    const state = readClusterState('demo')!;
    assert.equal(state.provider, 'aws');
    assert.equal(state.clientToken, clientToken);
    assert.equal(statSync(join(clusterDir('demo'), 'cluster.json')).mode & 0o777, 0o600);
    assert.deepEqual(
      state.managers.map((m) => m.url),
      r.managers.map((m) => m.url),
    );
    assert.match(state.managers[0]!.url, /^https:\/\/203\.0\.113\.\d+:5000$/);
  });

  test('a bucket whose settings were loosened by hand is put back: public access blocked, TLS only', async () => {
    await deploy();
    const bucket = fake.buckets.get(BUCKET)!;
    bucket.PublicAccessBlock = null;
    bucket.Policy = null;
    fake.clearLog();
    await deploy();
    assert.deepEqual(fake.mutations(), ['s3:PutPublicAccessBlock', 's3:PutBucketPolicy']);
    assert.deepEqual(bucket.PublicAccessBlock, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    assert.match(bucket.Policy ?? '', /aws:SecureTransport/);
  });

  test("each manager's identity: its key only in a SecureString parameter, read at boot like the tokens; user-data holds no key; clients pin https", async () => {
    const r = await deploy({}, () => true, {
      healthy: async (url, _token, pin) => {
        probed.push(url);
        pins.push(pin);
        return true;
      },
    });
    const put = new Map(fake.calls('ssm:PutParameter').map((p) => [p.Name as string, p]));
    const caPem = readFileSync(join(clusterDir('demo'), 'ca.pem'), 'utf8');
    assert.equal(put.get('/dynwork/demo/ca')!.Value, caPem);
    assert.equal(statSync(join(clusterDir('demo'), 'ca-key.pem')).mode & 0o777, 0o600, 'the CA key stays with the cluster state, owner only');
    for (const index of [1, 2]) {
      const key = put.get(`/dynwork/demo/manager-${index}-key`)!;
      assert.equal(key.Type, 'SecureString');
      assert.match(key.Value as string, /^-----BEGIN PRIVATE KEY-----\n/);
      const cert = new X509Certificate(put.get(`/dynwork/demo/manager-${index}-cert`)!.Value as string);
      assert.ok(cert.checkIssued(new X509Certificate(caPem)) && cert.verify(new X509Certificate(caPem).publicKey), 'issued by the cluster CA');
      assert.ok(cert.checkPrivateKey(createPrivateKey(key.Value as string)), "the key in the parameter is the certificate's");
      assert.equal(cert.subject, `CN=dynwork-demo-manager-${index}\nO=dynwork`);
      const m = r.managers.find((x) => x.index === index)!;
      // Its name, its private address (peers, workers) and its Elastic IP (clients, curl).
      assert.equal(cert.subjectAltName, `DNS:dynwork-demo-manager-${index}, IP Address:${m.privateAddress}, IP Address:${new URL(m.url).hostname}`);
    }
    for (const run of fake.calls('ec2:RunInstances')) {
      const { script, config } = userDataOf(run);
      assert.doesNotMatch(script + JSON.stringify(config), /PRIVATE KEY/, 'no key in user-data');
      const index = Number(tag(run.TagSpecifications![0]!.Tags!, 'dynwork:index'));
      assert.match(
        script,
        new RegExp(
          `^TOKEN_PARAMETERS='client-token=/dynwork/demo/client-token worker-token=/dynwork/demo/worker-token cluster-ca=/dynwork/demo/ca manager-cert=/dynwork/demo/manager-${index}-cert manager-key=/dynwork/demo/manager-${index}-key'$`,
          'm',
        ),
      );
      assert.deepEqual({ caFile: config.tls.caFile, certFile: config.tls.certFile, keyFile: config.tls.keyFile }, { caFile: 'cluster-ca', certFile: 'manager-cert', keyFile: 'manager-key' });
      assert.equal(config.tls.ca, undefined);
    }
    // The CLI, the health probe and the peers reach https URLs, pinned to the cluster CA and the manager's name.
    assert.ok(r.managers.every((m) => m.url.startsWith('https://')));
    assert.deepEqual(pins.map((p) => p.identity).sort(), ['dynwork-demo-manager-1', 'dynwork-demo-manager-2']);
    assert.ok(pins.every((p) => p.ca === caPem));
    assert.equal(readClusterState('demo')!.ca, caPem);
    const { config } = userDataOf(fake.calls('ec2:RunInstances')[0]!);
    assert.ok(config.peers.every((p) => p.url.startsWith('https://')));
    // Workers get the CA itself (public, and the leader renders their user-data): launched by the provider, no key anywhere.
    fake.clearLog();
    await createAwsProvider({ clients, settings: config.autoscale.aws }).launch('worker', {
      cluster: 'demo',
      config: { cluster: 'demo', managers: config.peers, workerToken: readClusterState('demo')!.workerToken, ca: caPem },
    });
    const worker = userDataOf(fake.calls('ec2:RunInstances')[0]!);
    assert.equal(worker.config.ca, caPem);
    assert.match(worker.script, /^TOKEN_PARAMETERS='worker-token=\/dynwork\/demo\/worker-token'$/m);

    // A re-run reuses all of it; an added manager gets its own new certificate and key, the others stay.
    fake.clearLog();
    await deploy();
    assert.deepEqual(fake.mutations(), []);
    await deploy({ managers: 3 });
    assert.deepEqual(
      fake.calls('ssm:PutParameter').map((p) => p.Name),
      ['/dynwork/demo/manager-3-key', '/dynwork/demo/manager-3-cert'],
    );
  });

  test('a second deploy creates nothing', async () => {
    await deploy();
    fake.clearLog();
    const r = await deploy();
    assert.deepEqual(fake.mutations(), []);
    assert.equal(r.changed, false);
    assert.deepEqual(
      r.managers.map((m) => m.action),
      ['unchanged', 'unchanged'],
    );
  });

  test('a changed setting replaces the managers on the same volumes and addresses, and nothing else', async () => {
    await deploy();
    const before = [...fake.instances.keys()];
    fake.clearLog();
    const r = await deploy({ scaleUpAfterS: 5 });
    assert.deepEqual(fake.mutations(), ['ec2:TerminateInstances', 'ec2:RunInstances', 'ec2:TerminateInstances', 'ec2:RunInstances']);
    assert.deepEqual(
      r.managers.map((m) => m.action),
      ['replaced', 'replaced'],
    );
    assert.deepEqual(
      fake.calls('ec2:TerminateInstances').map((t) => t.InstanceIds),
      before.map((id) => [id]),
    );
    const runs = fake.calls('ec2:RunInstances');
    assert.deepEqual(
      runs.map((x) => x.NetworkInterfaces![0]!.PrivateIpAddress),
      ['172.31.15.253', '172.31.15.252'],
    );
    assert.equal(userDataOf(runs[0]!).config.autoscale.scaleUpAfterMs, 5000);
  });

  test('a rolling replace: one manager at a time, each answering before the next goes, so one always answers', async () => {
    await deploy();
    // A manager answers once its machine runs and has been probed twice (its boot); a terminated one never.
    const index = (url: string) => Number(tag([...fake.addresses.values()].find((a) => url.includes(`//${a.PublicIp}:`))!.Tags, 'dynwork:index'));
    const probes = new Map<string, number>();
    const answers = (i: number) => [...fake.instances.values()].some((x) => x.State.Name === 'running' && tag(x.Tags, 'dynwork:index') === String(i) && (probes.get(x.InstanceId) ?? 0) >= 2);
    const live = (i: number) => [...fake.instances.values()].find((x) => x.State.Name === 'running' && tag(x.Tags, 'dynwork:index') === String(i));
    for (const x of fake.instances.values()) probes.set(x.InstanceId, 2);
    const answeringAtTerminate: number[][] = [];
    const terminate = fake.handlers['ec2:TerminateInstances']!;
    fake.handlers['ec2:TerminateInstances'] = (input, ctx) => {
      answeringAtTerminate.push([1, 2].filter(answers));
      return terminate(input, ctx);
    };
    fake.clearLog();
    const r = await deploy({ scaleUpAfterS: 5 }, (url) => {
      const x = live(index(url));
      if (x) probes.set(x.InstanceId, (probes.get(x.InstanceId) ?? 0) + 1);
      return answers(index(url));
    });
    assert.deepEqual(fake.mutations(), ['ec2:TerminateInstances', 'ec2:RunInstances', 'ec2:TerminateInstances', 'ec2:RunInstances']);
    assert.deepEqual(
      answeringAtTerminate,
      [
        [1, 2],
        [1, 2],
      ],
      'both answered whenever one was about to go',
    );
    assert.deepEqual(
      r.managers.map((m) => [m.action, m.healthy]),
      [
        ['replaced', true],
        ['replaced', true],
      ],
    );
  });

  test('a manager whose boot failed is reported at once with the line from its console, not after the timeout', async () => {
    const console = [
      '[   12.345678] cloud-init[1201]: dynwork: bootstrapping a manager',
      '[   19.876543] cloud-init[1201]: dynwork: boot failed: package checksum mismatch (expected 1111, got 2222)',
      '',
    ].join('\n');
    const asked: string[] = [];
    await assert.rejects(
      deploy({ waitS: 3600 }, () => false, {
        bootLog: async (id) => {
          asked.push(id);
          return console;
        },
      }),
      (err: DynworkError) => {
        assert.equal(err.code, 'provider_error');
        assert.match(err.message, /^manager 1 \(i-[0-9a-f]+\) boot failed: package checksum mismatch \(expected 1111, got 2222\)$/);
        assert.match(err.hint ?? '', /aws ec2 get-console-output --region us-east-1 --instance-id i-[0-9a-f]+ --latest/);
        return true;
      },
    );
    assert.equal(asked[0], readClusterState('demo')!.managers[0]!.instanceId, "it read manager 1's own console");
  });

  test('a build that cannot be packed stops the deploy before anything is created', async () => {
    await assert.rejects(
      deploy({}, () => true, {
        pack: async () => {
          throw new DynworkError('usage', "cannot list dynwork's files with npm pack: npm not found", { hint: 'deploy to aws needs npm on PATH' });
        },
      }),
      /cannot list dynwork's files with npm pack/,
    );
    assert.deepEqual(fake.mutations(), []);
  });

  test('a lost manager is relaunched by a re-run on its own volume and address', async () => {
    await deploy();
    const lost = [...fake.instances.values()].find((i) => tag(i.Tags, 'dynwork:index') === '2')!;
    lost.State.Name = 'terminated';
    fake.clearLog();
    const urls = readClusterState('demo')!.managers.map((m) => m.url);
    const r = await deploy();
    assert.deepEqual(fake.mutations(), ['ec2:RunInstances']);
    assert.deepEqual(
      r.managers.map((m) => m.action),
      ['unchanged', 'created'],
    );
    const [run] = fake.calls('ec2:RunInstances');
    assert.equal(run!.NetworkInterfaces![0]!.PrivateIpAddress, lost.PrivateIpAddress);
    assert.match(userDataOf(run!).script, new RegExp(`^DATA_VOLUME='${[...fake.volumes.values()][1]!.VolumeId}'$`, 'm'));
    assert.match(userDataOf(run!).script, new RegExp(`^ADDRESS_ALLOCATION='${[...fake.addresses.values()][1]!.AllocationId}'$`, 'm'));
    assert.deepEqual(
      r.managers.map((m) => m.url),
      urls,
      'the replacement is reached at the same URL',
    );
  });

  test('Graviton workers (--worker-instance-type c7g.large) under x86 managers: the arm64 AMI, and the managers may launch exactly those', async () => {
    await deploy({ workerInstanceType: 'c7g.large' });
    const { config } = userDataOf(fake.calls('ec2:RunInstances')[0]!);
    assert.deepEqual(config.autoscale.aws.manager.imageId, 'ami-0x86');
    assert.deepEqual(config.autoscale.aws.worker, { instanceType: 'c7g.large', imageId: 'ami-0arm64', profileName: 'dynwork-demo-us-east-1-worker', spot: false });
    const policy = JSON.parse(fake.calls('iam:PutRolePolicy')[0]!.PolicyDocument as string) as Policy;
    const stmt = (sid: string) => policy.Statement.find((x) => x.Sid === sid)!;
    assert.deepEqual(stmt('LaunchOnlyClusterInstancesOfItsTypes').Condition!.StringEquals!['ec2:InstanceType'], ['t3.micro', 'c7g.large']);
    assert.deepEqual(stmt('LaunchOnlyTheClusterImagesInItsNetwork').Resource.slice(0, 2), ['arn:aws:ec2:us-east-1::image/ami-0x86', 'arn:aws:ec2:us-east-1::image/ami-0arm64']);
  });

  test('options: instance types, spot, subnet, allowed CIDRs, ssh, package', async () => {
    await deploy({
      instanceType: 't4g.small',
      workerInstanceType: 'c6i.xlarge',
      spot: true,
      subnet: 'subnet-0b',
      allowCidr: ['192.0.2.0/24'],
      ssh: true,
      packageSpec: 'https://example.test/dynwork-0.1.0.tgz',
      managers: 1,
    });
    const [run] = fake.calls('ec2:RunInstances');
    assert.equal(run!.InstanceType, 't4g.small');
    assert.equal(run!.ImageId, 'ami-0arm64', 'the AMI follows the architecture');
    assert.deepEqual(
      fake
        .calls('ssm:GetParameter')
        .map((p) => p.Name)
        .filter((n) => n!.startsWith('/aws/')),
      ['/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64', '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64'],
    );
    assert.equal(run!.NetworkInterfaces![0]!.SubnetId, 'subnet-0b');
    const { script, config } = userDataOf(run!);
    assert.deepEqual(packed, ['https://example.test/dynwork-0.1.0.tgz'], '--package is fetched, then pinned like a packed build');
    const pinned = sha256('the build of https://example.test/dynwork-0.1.0.tgz');
    assert.match(script, new RegExp(`^ARTIFACT_URL='s3://${BUCKET}/clusters/demo/dynwork-0\\.1\\.0-${pinned}\\.tgz'$`, 'm'));
    assert.match(script, new RegExp(`^ARTIFACT_SHA256='${pinned}'$`, 'm'));
    assert.deepEqual(config.autoscale.aws.worker, { instanceType: 'c6i.xlarge', imageId: 'ami-0x86', profileName: 'dynwork-demo-us-east-1-worker', spot: true });
    assert.equal(config.autoscale.workerThreads, 4, 'an EC2 worker hashes on all its vCPUs');
    const [ingress] = fake.calls('ec2:AuthorizeSecurityGroupIngress');
    assert.deepEqual(
      ingress!.IpPermissions!.filter((p) => p.IpRanges).map((p) => [p.FromPort, p.IpRanges![0]!.CidrIp]),
      [
        [5000, '192.0.2.0/24'],
        [22, '192.0.2.0/24'],
      ],
    );
    // Narrowing the CIDR later revokes the old rules.
    fake.clearLog();
    await deploy({ allowCidr: ['192.0.2.9/32'], ssh: false });
    const revoked = fake.calls('ec2:RevokeSecurityGroupIngress')[0]!.IpPermissions!.map((p) => [p.FromPort, p.IpRanges![0]!.CidrIp]);
    assert.deepEqual(revoked, [
      [5000, '192.0.2.0/24'],
      [22, '192.0.2.0/24'],
    ]);
  });

  test('a fresh instance profile that EC2 does not know yet is retried until it is', async () => {
    fake.fail('ec2:RunInstances', awsError('InvalidParameterValue', 'Value (dynwork-demo-us-east-1-manager) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name'));
    fake.fail('ec2:RunInstances', awsError('InvalidParameterValue', 'Value (dynwork-demo-us-east-1-manager) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name'));
    const r = await deploy();
    assert.equal(fake.calls('ec2:RunInstances').length, 4);
    assert.equal([...fake.instances.values()].length, 2, 'two managers, not more');
    assert.deepEqual(
      r.managers.map((m) => m.action),
      ['created', 'created'],
    );
  });

  test('a deploy that fails half way is completed by a re-run and cleaned by teardown', async () => {
    fake.fail(
      'ec2:CreateVolume',
      awsError(
        'UnauthorizedOperation',
        'You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/deployer is not authorized to perform: ec2:CreateVolume on resource: arn:aws:ec2:us-east-1:123456789012:volume/*',
      ),
    );
    await assert.rejects(deploy(), (err: DynworkError) => {
      assert.equal(err.code, 'provider_error');
      assert.equal(err.message, 'your AWS identity is not allowed to call ec2:CreateVolume');
      assert.match(err.hint ?? '', /docs\/aws\.md/);
      return true;
    });
    assert.equal(fake.instances.size, 0);
    fake.clearLog();
    const r = await deploy();
    assert.deepEqual(fake.mutations(), [
      'ec2:CreateVolume',
      'ec2:CreateVolume',
      'ec2:AllocateAddress',
      'ec2:AllocateAddress',
      ...Array<string>(5).fill('ssm:PutParameter'),
      'ec2:RunInstances',
      'ec2:RunInstances',
    ]);
    assert.equal(r.managers.length, 2);
    await teardown();
    assert.deepEqual(fake.leftovers(), []);
  });

  test('a manager that never answers: a clear timeout naming the instance, with the state written', async () => {
    await assert.rejects(deployAws({ cluster: 'demo', waitS: 0.05 }, { clients, publicIp: async () => ALLOW, healthy: async () => false, pollMs: 1 }, silentProgress), (err: DynworkError) => {
      assert.equal(err.code, 'timeout');
      assert.match(err.message, /^manager 1 \(i-[0-9a-f]+\) did not answer at https:\/\/203\.0\.113\.\d+:5000 within 0\.05 s$/);
      assert.match(err.hint ?? '', /aws ec2 get-console-output --region us-east-1 --instance-id i-/);
      return true;
    });
    assert.equal(readClusterState('demo')?.managers.length, 2, 'status and teardown still know the cluster');
  });

  test('--no-wait returns once the instances run, without asking for health', async () => {
    const r = await deploy({ wait: false }, () => assert.fail('no health probe with --no-wait'));
    assert.deepEqual(probed, []);
    assert.deepEqual(
      r.managers.map((m) => m.healthy),
      [null, null],
    );
  });
});

describe('aws errors users will hit', () => {
  const cases: [string, () => void, Partial<AwsDeployOptions>, RegExp, RegExp][] = [
    [
      'no credentials',
      () => fake.fail('sts:GetCallerIdentity', awsError('CredentialsProviderError', 'Could not load credentials from any providers')),
      {},
      /^no AWS credentials found$/,
      /aws configure|--profile/,
    ],
    [
      'expired token',
      () => fake.fail('sts:GetCallerIdentity', awsError('ExpiredToken', 'The security token included in the request is expired')),
      {},
      /session token has expired/,
      /refresh your credentials/,
    ],
    [
      'missing permission',
      () =>
        fake.fail(
          'ec2:RunInstances',
          awsError(
            'UnauthorizedOperation',
            'You are not authorized to perform this operation. User: x is not authorized to perform: ec2:RunInstances on resource: y. Encoded authorization failure message: abc',
          ),
        ),
      {},
      /^your AWS identity is not allowed to call ec2:RunInstances$/,
      /grant ec2:RunInstances/,
    ],
    [
      'vCPU quota',
      () => fake.fail('ec2:RunInstances', awsError('VcpuLimitExceeded', 'You have requested more vCPU capacity than your current vCPU limit of 0 allows.')),
      {},
      /^AWS quota reached/,
      /Service Quotas/,
    ],
    ['no default VPC', () => void (fake.defaultVpc = null), {}, /^us-east-1 has no default VPC$/, /--subnet/],
    ['region without the AMI parameter', () => fake.fail('ssm:no-ami', new Error('marker')), {}, /has no Amazon Linux 2023 AMI parameter/, /--region/],
    ['unknown instance type', () => undefined, { instanceType: 'q9.huge' }, /invalid instance type|q9\.huge/, /describe-instance-type-offerings/],
    ['a --subnet that does not exist', () => undefined, { subnet: 'subnet-0bad' }, /^subnet subnet-0bad not found in us-east-1$/, /--subnet/],
    [
      'an AMI parameter that resolves to nothing',
      () => fake.fail('ssm:empty-ami', new Error('marker')),
      {},
      /^the Amazon Linux 2023 AMI for x86_64 did not resolve in us-east-1/,
      /aws ssm get-parameter/,
    ],
  ];
  for (const [name, arrange, opts, message, hint] of cases) {
    test(name, async () => {
      arrange();
      await assert.rejects(deploy(opts), (err: DynworkError) => {
        assert.ok(err instanceof DynworkError, `a DynworkError, got ${String(err)}`);
        assert.match(err.message, message);
        assert.ok(!err.message.includes('\n'), 'one line');
        assert.match(err.hint ?? '', hint);
        return true;
      });
    });
  }
});

describe('aws teardown', () => {
  test('removes everything in order, waiting out DependencyViolation; a second run has nothing to do', async () => {
    await deploy();
    // A worker the leader launched.
    const { createAwsProvider } = await import('../src/providers/aws/provider.js');
    const state = readClusterState('demo')!;
    const config = userDataOf(fake.calls('ec2:RunInstances')[0]!).config;
    await createAwsProvider({ clients, settings: config.autoscale.aws }).launch('worker', { cluster: 'demo', count: 2, config: { cluster: 'demo', managers: [], workerToken: state.workerToken } });
    assert.equal(fake.instances.size, 4);
    fake.fail('ec2:DeleteSecurityGroup', awsError('DependencyViolation', 'resource has a dependent object'), awsError('DependencyViolation', 'resource has a dependent object'));
    fake.clearLog();

    const r = await teardown();
    assert.deepEqual(fake.leftovers(), []);
    const m = fake.mutations();
    assert.deepEqual(m, [
      'ec2:TerminateInstances',
      'ec2:TerminateInstances',
      'ec2:DeleteSecurityGroup',
      'ec2:DeleteSecurityGroup',
      'ec2:DeleteSecurityGroup',
      'ec2:DeleteKeyPair',
      'ec2:ReleaseAddress',
      'ec2:ReleaseAddress',
      'ec2:DeleteVolume',
      'ec2:DeleteVolume',
      'ssm:DeleteParameters',
      'iam:RemoveRoleFromInstanceProfile',
      'iam:DeleteInstanceProfile',
      'iam:DeleteRolePolicy',
      'iam:DeleteRole',
      'iam:RemoveRoleFromInstanceProfile',
      'iam:DeleteInstanceProfile',
      'iam:DeleteRolePolicy',
      'iam:DeleteRole',
      's3:DeleteObjects',
      's3:DeleteBucket',
    ]);
    assert.deepEqual(fake.calls('s3:DeleteObjects')[0]!.Delete!.Objects, [{ Key: BUILD_KEY }], "only the cluster's build");
    assert.deepEqual(fake.calls('ssm:DeleteParameters')[0]!.Names, [
      '/dynwork/demo/client-token',
      '/dynwork/demo/worker-token',
      '/dynwork/demo/ca',
      '/dynwork/demo/manager-1-key',
      '/dynwork/demo/manager-1-cert',
      '/dynwork/demo/manager-2-key',
      '/dynwork/demo/manager-2-cert',
    ]);
    const [managers, workers] = fake.calls('ec2:TerminateInstances').map((t) => t.InstanceIds as string[]);
    assert.equal(managers!.length, 2, 'managers first, so no leader launches more');
    assert.equal(workers!.length, 2);
    const waitedIndex = fake.log.findIndex((l) => l.action === 'ec2:DescribeInstances' && (l.input.InstanceIds as string[] | undefined)?.length === 4);
    assert.ok(waitedIndex > 0 && waitedIndex < fake.log.findIndex((l) => l.action === 'ec2:DeleteSecurityGroup'), 'waited for termination before deleting the group');
    assert.equal(
      r.removed.length,
      4 + 1 + 1 + 2 + 2 + 7 + 4 + 2,
      'instances, group, key, addresses, volumes, parameters (tokens, CA, certificates and keys), profiles and roles, the build and its bucket',
    );
    assert.deepEqual(r.removed.slice(-2), [
      { kind: 'S3 object', id: `s3://${BUCKET}/${BUILD_KEY}` },
      { kind: 'S3 bucket', id: BUCKET },
    ]);
    assert.equal(existsSync(clusterDir('demo')), false, 'local state and key removed');

    fake.clearLog();
    const again = await teardown();
    assert.equal(again.nothingToDo, true);
    assert.deepEqual(fake.mutations(), []);
  });

  test("the account's bucket stays while another cluster keeps a build in it; --dry-run lists the build", async () => {
    await deploy();
    const other = await deployAws(
      { cluster: 'other', managers: 1, subnet: 'subnet-0b' },
      { clients, publicIp: async () => ALLOW, healthy: async () => true, pollMs: 1, pack: fakePack, bootLog: async () => '' },
      silentProgress,
    );
    assert.equal(other.managers.length, 1);
    const dry = await teardown({ dryRun: true });
    assert.deepEqual(
      dry.removed.filter((x) => x.kind.startsWith('S3')),
      [{ kind: 'S3 object', id: `s3://${BUCKET}/${BUILD_KEY}` }],
      'the bucket is not listed: "other" uses it',
    );
    fake.clearLog();
    await teardown();
    assert.deepEqual(fake.calls('s3:DeleteObjects')[0]!.Delete!.Objects, [{ Key: BUILD_KEY }]);
    assert.deepEqual(fake.calls('s3:DeleteBucket'), []);
    await teardownAws({ cluster: 'other' }, { clients, pollMs: 1 }, silentProgress);
    assert.deepEqual(fake.calls('s3:DeleteBucket'), [{ Bucket: BUCKET }], 'the last cluster out removes the bucket');
  });

  test('works without the state file, finding everything by tag and name', async () => {
    await deploy();
    rmSync(clusterDir('demo'), { recursive: true });
    await teardown();
    assert.deepEqual(fake.leftovers(), []);
  });

  test('--dry-run lists what would go and deletes nothing; --keep-data keeps the volumes', async () => {
    await deploy();
    const before = fake.leftovers();
    fake.clearLog();
    const dry = await teardown({ dryRun: true });
    assert.deepEqual(fake.mutations(), []);
    assert.deepEqual(fake.leftovers(), before);
    assert.deepEqual(
      [...new Set(dry.removed.map((x) => x.kind))],
      ['manager instance', 'security group', 'key pair', 'Elastic IP', 'data volume', 'parameter', 'instance profile', 'role', 'S3 object', 'S3 bucket'],
    );
    assert.ok(readClusterState('demo'));

    const kept = await teardown({ keepData: true });
    assert.deepEqual(
      fake.leftovers().filter((x) => !x.startsWith('volume')),
      [],
    );
    assert.equal(kept.kept.length, 2);
    assert.equal(fake.volumes.size, 2);
  });

  test("IAM's eventual consistency: a role briefly still in use is deleted once it settles", async () => {
    await deploy();
    fake.fail('iam:DeleteRole', awsError('DeleteConflictException', 'Cannot delete entity, must remove roles from instance profile first.'));
    fake.clearLog();
    await teardown();
    assert.deepEqual(fake.leftovers(), []);
    assert.equal(fake.calls('iam:DeleteRole').length, 3, 'the first try retried once, then the second role');
  });

  test('resources already gone half way through are skipped', async () => {
    await deploy();
    // Someone deleted the worker role's profile and the key pair by hand.
    fake.profiles.delete('dynwork-demo-us-east-1-worker');
    fake.keyPairs.clear();
    await teardown();
    assert.deepEqual(fake.leftovers(), []);
  });
});

describe('docs/aws.md', () => {
  test('the deployer policy it shows grants every call deploy, status and teardown make, and is valid JSON', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../docs/aws.md', import.meta.url), 'utf8');
    const json = /```json\n([\s\S]*?)\n```/.exec(doc)?.[1];
    assert.ok(json, 'the policy is in a json block');
    const policy = JSON.parse(json) as { Statement: { Action: string | string[] }[] };
    const granted = new Set(policy.Statement.flatMap((s) => [s.Action].flat()));
    await deploy({ ssh: true });
    await deploy({ allowCidr: ['192.0.2.0/24'], spot: true });
    // status prices what runs: the managers on-demand, and a spot worker the leader launched.
    const { createAwsProvider } = await import('../src/providers/aws/provider.js');
    const config = userDataOf(fake.calls('ec2:RunInstances').at(-1)!).config;
    await createAwsProvider({ clients, settings: config.autoscale.aws }).launch('worker', { cluster: 'demo', config: { cluster: 'demo', managers: [], workerToken: 'w' } });
    const provider = createAwsProvider({ clients });
    const cost = await provider.hourlyCost(await provider.list({ cluster: 'demo' }));
    assert.match(cost.basis, /^2 × t3\.micro on-demand at \$0\.0104\/h, 1 × t3\.micro spot at \$0\.0037\/h; machines only$/);
    await teardown();
    // GetCallerIdentity needs no permission; tagging on create needs its own; S3 names some actions apart from their calls.
    const s3Iam: Record<string, string> = {
      's3:HeadBucket': 's3:ListBucket',
      's3:ListObjectsV2': 's3:ListBucket',
      's3:HeadObject': 's3:GetObject',
      's3:DeleteObjects': 's3:DeleteObject',
      's3:PutPublicAccessBlock': 's3:PutBucketPublicAccessBlock',
      's3:GetPublicAccessBlock': 's3:GetBucketPublicAccessBlock',
      's3:PutBucketEncryption': 's3:PutEncryptionConfiguration',
    };
    const used = new Set([
      ...fake.log.map((l) => s3Iam[l.action] ?? l.action).filter((a) => a !== 'sts:GetCallerIdentity'),
      'ec2:CreateTags',
      'iam:TagRole',
      'iam:TagInstanceProfile',
      'ssm:AddTagsToResource',
    ]);
    assert.deepEqual(
      [...used].filter((a) => !granted.has(a)),
      [],
    );
  });
});

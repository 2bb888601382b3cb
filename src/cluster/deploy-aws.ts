import { randomBytes } from 'node:crypto';
import {
  AllocateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  CreateVolumeCommand,
  DescribeAddressesCommand,
  DescribeInstanceTypesCommand,
  DescribeKeyPairsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  RevokeSecurityGroupIngressCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  type Address,
  type IpPermission,
  type SecurityGroup,
  type Subnet,
  type Volume,
} from '@aws-sdk/client-ec2';
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  PutRolePolicyCommand,
  type InstanceProfile,
  type Role as IamRole,
} from '@aws-sdk/client-iam';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { join } from 'node:path';
import { ManagerClient } from '../client/manager-client.js';
import { DynworkError } from '../errors.js';
import { pickAddresses } from '../providers/aws/addresses.js';
import { call, type AwsClients } from '../providers/aws/clients.js';
import { IAM_NOT_FOUND, ifExists, toDynworkError } from '../providers/aws/errors.js';
import { bootFailure, consoleOutput } from '../providers/aws/boot-log.js';
import { artifactBucketName, artifactKey, ensureArtifactBucket, uploadArtifact } from '../providers/aws/artifacts.js';
import { EC2_TRUST_POLICY, managerPolicy, workerPolicy } from '../providers/aws/iam-policies.js';
import { createAwsProvider, managerConfigHash } from '../providers/aws/provider.js';
import type { AwsClusterSettings } from '../providers/aws/settings.js';
import { clusterFilters, clusterTags, resourceNames, TAG, tagSpec, tagValue } from '../providers/aws/tags.js';
import { clusterDir, ensureClusterDir, readClusterState, writeClusterState, writePrivateFile, type ClusterState } from '../state/cluster-state.js';
import { VERSION } from '../version.js';
import { resolveAwsSettings, type AwsDeployOptions, type ResolvedAwsSettings } from './aws-settings.js';
import { managerConfigFor, type AutoscaleSettings, type MemberSpec } from './manager-configs.js';

export type { AwsDeployOptions };
import { withStep, type Progress } from './progress.js';
import { fetchPackageSpec, packArtifact, type Artifact } from './artifact.js';
import { discoverPublicIp } from './public-ip.js';

export interface AwsDeployDeps {
  clients: AwsClients;
  /** The deployer's public IPv4, for the default --allow-cidr. */
  publicIp?: () => Promise<string>;
  /** Does a manager answer? @default GET /healthz with the client token */
  healthy?: (url: string, clientToken: string) => Promise<boolean>;
  /** Pause between health probes and IAM retries. @default 5000 */
  pollMs?: number;
  /** The build the machines run. @default this dynwork packed, or --package fetched */
  pack?: (packageSpec: string | null) => Promise<Artifact>;
  /** A manager's boot log so far (its console output), to tell a failed boot from a slow one. @default ec2:GetConsoleOutput */
  bootLog?: (instanceId: string) => Promise<string>;
}

export interface AwsDeployResult {
  cluster: string;
  provider: 'aws';
  region: string;
  account: string;
  managers: { index: number; url: string; instanceId: string; privateAddress: string; action: 'created' | 'replaced' | 'unchanged'; healthy: boolean | null }[];
  created: string[];
  changed: boolean;
}

const DATA_VOLUME_GIB = 8;
const AMI_PARAMETER = (arch: string) => `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${arch}`;

/**
 * Converges an EC2 cluster on `opts`. Every step finds what exists (by name
 * or tag) before it creates anything, so a re-run completes a deploy that
 * failed half way and a second run creates nothing.
 */
export async function deployAws(opts: AwsDeployOptions, deps: AwsDeployDeps, progress: Progress): Promise<AwsDeployResult> {
  try {
    return await converge(opts, deps, progress);
  } catch (err) {
    throw toDynworkError(err, {});
  }
}

async function converge(opts: AwsDeployOptions, deps: AwsDeployDeps, progress: Progress): Promise<AwsDeployResult> {
  const { clients } = deps;
  const { ec2, iam, ssm, sts } = clients;
  const pollMs = deps.pollMs ?? 5000;
  const previous = readClusterState(opts.cluster);
  if (previous && previous.provider !== 'aws') {
    throw new DynworkError('usage', `cluster "${opts.cluster}" runs on ${previous.provider}, not aws`, { hint: `tear it down first (dynwork teardown --cluster ${opts.cluster}) or pick another --cluster` });
  }
  const s = resolveAwsSettings(opts, previous?.settings as Partial<ResolvedAwsSettings> | undefined);
  const created: string[] = [];

  const region = await clients.region();
  const identity = await withStep(progress, `Checking AWS account (${region})`, () => call<{ Account?: string; Arn?: string }>(sts, new GetCallerIdentityCommand({})), (id) => `AWS account ${id.Account} as ${id.Arn} in ${region}`);
  const account = identity.Account ?? '';
  const partition = identity.Arn?.split(':')[1] ?? 'aws';
  const names = resourceNames(opts.cluster, region);

  const subnet = await withStep(progress, 'Finding the subnet', () => findSubnet(clients, s.subnet, region), (sn) => `Subnet ${sn.SubnetId} (${sn.AvailabilityZone}, ${sn.VpcId})`);
  const subnetId = subnet.SubnetId!;
  const vpcId = subnet.VpcId!;
  const zone = subnet.AvailabilityZone!;

  const types = await withStep(progress, 'Looking up instance types and the Amazon Linux 2023 AMI', async () => {
    const wanted = [...new Set([s.instanceType, s.workerInstanceType])];
    const out = await call<{ InstanceTypes?: { InstanceType?: string; VCpuInfo?: { DefaultVCpus?: number }; ProcessorInfo?: { SupportedArchitectures?: string[] } }[] }>(
      ec2,
      new DescribeInstanceTypesCommand({ InstanceTypes: wanted as never }),
    );
    const info = new Map<string, { arch: string; vcpus: number; imageId: string }>();
    const amis = new Map<string, string>();
    for (const t of wanted) {
      const found = out.InstanceTypes?.find((x) => x.InstanceType === t);
      if (!found) throw new DynworkError('usage', `instance type ${t} is not offered in ${region}`, { hint: `see aws ec2 describe-instance-type-offerings --region ${region}` });
      const archs = found.ProcessorInfo?.SupportedArchitectures ?? [];
      const arch = archs.includes('x86_64') ? 'x86_64' : archs.includes('arm64') ? 'arm64' : '';
      if (!arch) throw new DynworkError('usage', `instance type ${t} has no architecture Amazon Linux 2023 supports`, { hint: 'pick an x86_64 or arm64 type' });
      if (!amis.has(arch)) {
        const p = await call<{ Parameter?: { Value?: string } }>(ssm, new GetParameterCommand({ Name: AMI_PARAMETER(arch) }));
        const ami = p.Parameter?.Value ?? '';
        if (!/^ami-\w+$/.test(ami)) {
          throw new DynworkError('provider_error', `the Amazon Linux 2023 AMI for ${arch} did not resolve in ${region} (${AMI_PARAMETER(arch)} = "${ami}")`, {
            hint: `check aws ssm get-parameter --region ${region} --name ${AMI_PARAMETER(arch)}`,
          });
        }
        amis.set(arch, ami);
      }
      info.set(t, { arch, vcpus: found.VCpuInfo?.DefaultVCpus ?? 1, imageId: amis.get(arch)! });
    }
    return info;
  });
  const managerType = types.get(s.instanceType)!;
  const workerType = types.get(s.workerInstanceType)!;

  // Packed before anything is created: a build that cannot be packed stops the deploy here.
  const artifact = await withStep(
    progress,
    s.packageSpec ? `Fetching ${s.packageSpec} for the machines` : 'Packing this dynwork for the machines',
    () => (deps.pack ?? defaultPack)(s.packageSpec),
    (a) => `Build ${a.name}@${a.version}, ${(a.bytes / 1e6).toFixed(1)} MB, sha256 ${a.sha256.slice(0, 12)}…`,
  );
  const bucket = artifactBucketName(account, region);
  const key = artifactKey(opts.cluster, artifact);
  try {
    await withStep(
      progress,
      `Uploading the build to s3://${bucket}/${key}`,
      async () => {
        await ensureArtifactBucket(clients, bucket, region, partition, created);
        return uploadArtifact(clients, bucket, key, artifact);
      },
      (r) => `Build in s3://${bucket}/${key} (${r === 'present' ? 'already there' : 'uploaded, read back'})`,
    );
  } finally {
    artifact.cleanup();
  }

  ensureClusterDir(opts.cluster);
  const keyName = await withStep(progress, `Key pair ${names.keyPair}`, async () => {
    if (await ifExists(['InvalidKeyPair.NotFound'], () => call(ec2, new DescribeKeyPairsCommand({ KeyNames: [names.keyPair] })))) return names.keyPair;
    const key = await call<{ KeyMaterial?: string }>(
      ec2,
      new CreateKeyPairCommand({ KeyName: names.keyPair, KeyType: 'ed25519', KeyFormat: 'pem', TagSpecifications: [tagSpec('key-pair', clusterTags(opts.cluster, 'key-pair'))] }),
    );
    writePrivateFile(join(clusterDir(opts.cluster), 'ssh-key.pem'), key.KeyMaterial ?? '');
    created.push(`key pair ${names.keyPair}`);
    return names.keyPair;
  });

  const allowCidr = s.allowCidr ?? [await withStep(progress, 'Finding your public IP address', async () => `${await (deps.publicIp ?? discoverPublicIp)()}/32`, (c) => `API open to ${c} (--allow-cidr to change)`)];
  const groupId = await withStep(progress, `Security group ${names.securityGroup}`, () => ensureSecurityGroup(clients, opts.cluster, names.securityGroup, vpcId, s.port, allowCidr, s.ssh, created));

  const tokens = await withStep(progress, 'Cluster tokens (SSM SecureString)', async () => ({
    clientToken: await ensureToken(clients, names.clientTokenParameter, previous?.clientToken, opts.cluster, created),
    workerToken: await ensureToken(clients, names.workerTokenParameter, previous?.workerToken, opts.cluster, created),
  }));

  const profiles = await withStep(progress, 'IAM roles and instance profiles', async () => {
    const managerArn = `arn:${partition}:iam::${account}:role${names.iamPath}${names.managerRole}`;
    const workerArn = `arn:${partition}:iam::${account}:role${names.iamPath}${names.workerRole}`;
    const scope = {
      cluster: opts.cluster,
      region,
      account,
      partition,
      managerRoleArn: managerArn,
      workerRoleArn: workerArn,
      subnetId,
      securityGroupId: groupId,
      imageIds: [managerType.imageId, workerType.imageId],
      instanceTypes: [...new Set([s.instanceType, s.workerInstanceType])],
      artifactBucket: bucket,
    };
    await ensureRole(clients, names.managerRole, names.iamPath, names.policyName, managerPolicy(scope), opts.cluster, created);
    await ensureRole(clients, names.workerRole, names.iamPath, names.policyName, workerPolicy(scope), opts.cluster, created);
    return { manager: names.managerRole, worker: names.workerRole };
  });

  const members = await withStep(progress, `Data volumes for ${s.managers} managers`, () => ensureVolumes(clients, opts.cluster, s.managers, subnet, s.port, created));
  const publicIps = await withStep(
    progress,
    `Elastic IPs for ${s.managers} managers`,
    () => ensureAddresses(clients, opts.cluster, members.map((m) => m.index), created),
    (ips) => `Elastic IPs ${[...ips.values()].join(', ')} (a replaced manager keeps its own)`,
  );

  const aws: AwsClusterSettings = {
    region,
    subnetId,
    securityGroupId: groupId,
    keyName,
    artifact: { url: `s3://${bucket}/${key}`, sha256: artifact.sha256 },
    version: VERSION,
    clientTokenParameter: names.clientTokenParameter,
    workerTokenParameter: names.workerTokenParameter,
    manager: { instanceType: s.instanceType, imageId: managerType.imageId, profileName: profiles.manager },
    worker: { instanceType: s.workerInstanceType, imageId: workerType.imageId, profileName: profiles.worker, spot: s.spot },
  };
  const autoscale: AutoscaleSettings = {
    provider: 'aws',
    aws,
    members,
    maxWorkers: s.maxWorkers,
    scaleUpAfterMs: s.scaleUpAfterS * 1000,
    intervalMs: Math.min(5000, Math.max(500, (s.scaleUpAfterS * 1000) / 4)),
    workerIdleTimeoutMs: s.idleTimeoutS * 1000,
    workerThreads: workerType.vcpus,
    // A machine boots, installs Node and dynwork, then checks in: minutes, not seconds.
    launchDeadlineMs: 15 * 60_000,
    heartbeatTimeoutMs: 60_000,
    managerDeadAfterMs: 5 * 60_000,
    workerNoManagerTimeoutMs: 15 * 60_000,
    workerMaxLifetimeMs: 24 * 3600_000,
  };
  const base = { cluster: opts.cluster, ...tokens, autoscale };
  const provider = createAwsProvider({ clients, settings: aws, profileRetryMs: pollMs });

  const running = await provider.list({ cluster: opts.cluster, role: 'manager' });
  const out: AwsDeployResult['managers'] = [];
  const hashes = new Map<number, string>();
  const replacements: { m: MemberSpec; config: Record<string, unknown>; current: { id: string } }[] = [];
  const urlOf = (index: number) => `http://${publicIps.get(index)!}:${s.port}`;
  const healthy = deps.healthy ?? probeHealth;
  const bootLog = deps.bootLog ?? ((id: string) => consoleOutput(clients, id));
  const deadline = Date.now() + s.waitS * 1000;

  /** Until the manager answers; a boot that failed (its console says so) ends the wait at once. */
  const answered = async (o: AwsDeployResult['managers'][number]): Promise<void> => {
    for (let probe = 1; ; probe++) {
      if (await healthy(o.url, tokens.clientToken)) break;
      // The console is cheap to read but not free: every few probes is soon enough.
      const failed = probe % 4 === 0 ? bootFailure(await bootLog(o.instanceId).catch(() => '')) : null;
      if (failed) {
        throw new DynworkError('provider_error', `manager ${o.index} (${o.instanceId}) ${failed}`, {
          hint: `the whole boot log: aws ec2 get-console-output --region ${region} --instance-id ${o.instanceId} --latest --output text; fix the cause and deploy again (it replaces that manager)`,
        });
      }
      if (Date.now() >= deadline) {
        throw new DynworkError('timeout', `manager ${o.index} (${o.instanceId}) did not answer at ${o.url} within ${s.waitS} s`, {
          hint: `see its boot log: aws ec2 get-console-output --region ${region} --instance-id ${o.instanceId} --latest --output text (a re-run of deploy picks up from here)`,
        });
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
    o.healthy = true;
  };
  const waitRunning = (ids: string[]) => waitUntilInstanceRunning({ client: ec2, maxWaitTime: 600, minDelay: Math.max(1, pollMs / 1000) }, { InstanceIds: ids }).then(() => undefined);
  const launch = async (m: MemberSpec, config: Record<string, unknown>, action: 'created' | 'replaced') => {
    const [inst] = await provider.launch('manager', { cluster: opts.cluster, index: m.index, config });
    if (!inst) throw new DynworkError('provider_error', `EC2 started no manager ${m.index}`);
    created.push(`manager ${m.index} ${inst.id}`);
    const o = { index: m.index, url: urlOf(m.index), instanceId: inst.id, privateAddress: m.host, action, healthy: null };
    out.push(o);
    return o;
  };
  const saveState = () =>
    writeClusterState({
      provider: 'aws',
      name: opts.cluster,
      createdAt: previous?.createdAt ?? new Date().toISOString(),
      clientToken: tokens.clientToken,
      workerToken: tokens.workerToken,
      settings: { ...s, region } as unknown as Record<string, unknown>,
      managers: [...out]
        .sort((a, b) => a.index - b.index)
        .map((o) => ({ index: o.index, url: o.url, instanceId: o.instanceId, privateAddress: o.privateAddress, configHash: hashes.get(o.index)! })),
    });

  for (const m of members) {
    const config = managerConfigFor(base, m.index);
    const hash = managerConfigHash(config);
    hashes.set(m.index, hash);
    const current = running.find((i) => i.index === m.index);
    if (current && current.configHash === hash) {
      out.push({ index: m.index, url: urlOf(m.index), instanceId: current.id, privateAddress: m.host, action: 'unchanged', healthy: null });
    } else if (current) {
      replacements.push({ m, config, current });
    } else {
      await withStep(progress, `Launching manager ${m.index} (${s.instanceType}, ${m.host})`, () => launch(m, config, 'created'));
    }
  }
  const fresh = out.filter((o) => o.action === 'created').map((o) => o.instanceId);
  if (fresh.length > 0) await withStep(progress, `Waiting for ${fresh.length} new manager instance${fresh.length === 1 ? '' : 's'} to run`, () => waitRunning(fresh));
  // Written before any wait for health, so status and teardown know the cluster even if that wait fails.
  saveState();

  // One at a time, each answering before the next goes: the other managers
  // serve meanwhile, so a changed config never takes the API down. (Each
  // machine must let go of its volume and address before its successor can
  // take them, so a lone manager cannot be replaced without a gap.)
  for (const [k, { m, config, current }] of replacements.entries()) {
    await withStep(progress, `Replacing manager ${m.index} (${s.instanceType}, ${m.host})`, async (step) => {
      await provider.terminate([current.id]);
      step.update(`Waiting for the old manager ${m.index} (${current.id}) to terminate`);
      await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 600, minDelay: Math.max(1, pollMs / 1000) }, { InstanceIds: [current.id] });
      const o = await launch(m, config, 'replaced');
      saveState();
      step.update(`Waiting for the new manager ${m.index} (${o.instanceId}) to run`);
      await waitRunning([o.instanceId]);
      if (s.wait || k < replacements.length - 1) {
        step.update(`Waiting for the new manager ${m.index} to answer at ${o.url} before the next one goes`);
        await answered(o);
      }
    });
  }

  const pending = out.filter((o) => o.healthy === null).sort((a, b) => a.index - b.index);
  if (s.wait && pending.length > 0) {
    await withStep(progress, `Waiting for ${pending.length} manager${pending.length === 1 ? '' : 's'} to answer (a first boot installs Node and dynwork: a few minutes)`, async (step) => {
      for (const o of pending) {
        step.update(`Waiting for manager ${o.index} to answer at ${o.url}`);
        await answered(o);
      }
    });
  }
  out.sort((a, b) => a.index - b.index);
  return { cluster: opts.cluster, provider: 'aws', region, account, managers: out, created, changed: created.length > 0 };
}

/** One Elastic IP per manager, found by tag or allocated: index → public IP. */
async function ensureAddresses(clients: AwsClients, cluster: string, indexes: number[], created: string[]): Promise<Map<number, string>> {
  const out = await call<{ Addresses?: Address[] }>(clients.ec2, new DescribeAddressesCommand({ Filters: clusterFilters(cluster, 'manager-address') }));
  const ips = new Map<number, string>();
  for (const a of out.Addresses ?? []) {
    const index = Number(tagValue(a.Tags, TAG.index));
    if (a.PublicIp && !ips.has(index)) ips.set(index, a.PublicIp);
  }
  for (const index of indexes) {
    if (ips.has(index)) continue;
    const a = await call<{ PublicIp?: string }>(
      clients.ec2,
      new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: [tagSpec('elastic-ip', clusterTags(cluster, 'manager-address', index))] }),
    );
    ips.set(index, a.PublicIp!);
    created.push(`Elastic IP ${a.PublicIp} (manager ${index})`);
  }
  return ips;
}

async function findSubnet(clients: AwsClients, subnetId: string | null, region: string): Promise<Subnet> {
  if (subnetId) {
    // EC2 answers an unknown id with an error, not an empty list.
    const out = await ifExists(['InvalidSubnetID.NotFound'], () => call<{ Subnets?: Subnet[] }>(clients.ec2, new DescribeSubnetsCommand({ SubnetIds: [subnetId] })));
    const sn = out?.Subnets?.[0];
    if (!sn) throw new DynworkError('usage', `subnet ${subnetId} not found in ${region}`, { hint: 'pass a subnet of this region (--subnet) or another --region' });
    return sn;
  }
  const vpcs = await call<{ Vpcs?: { VpcId?: string }[] }>(clients.ec2, new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }));
  const vpc = vpcs.Vpcs?.[0]?.VpcId;
  if (!vpc) throw new DynworkError('usage', `${region} has no default VPC`, { hint: 'pass --subnet subnet-… (a public subnet of one of your VPCs)' });
  const out = await call<{ Subnets?: Subnet[] }>(
    clients.ec2,
    new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc] }, { Name: 'default-for-az', Values: ['true'] }] }),
  );
  const sn = [...(out.Subnets ?? [])].sort((a, b) => (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? ''))[0];
  if (!sn) throw new DynworkError('usage', `the default VPC of ${region} has no default subnet`, { hint: 'pass --subnet subnet-…' });
  return sn;
}

function sameRule(a: IpPermission, b: IpPermission): boolean {
  if (a.IpProtocol !== b.IpProtocol || a.FromPort !== b.FromPort || a.ToPort !== b.ToPort) return false;
  const cidrs = (p: IpPermission) => (p.IpRanges ?? []).map((r) => r.CidrIp).sort().join();
  const groups = (p: IpPermission) => (p.UserIdGroupPairs ?? []).map((g) => g.GroupId).sort().join();
  return cidrs(a) === cidrs(b) && groups(a) === groups(b);
}

/** Splits permissions into one rule per source, the form EC2 compares and we reason about. */
function perSource(perms: IpPermission[]): IpPermission[] {
  const out: IpPermission[] = [];
  for (const p of perms) {
    const base = { IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort };
    for (const r of p.IpRanges ?? []) out.push({ ...base, IpRanges: [{ CidrIp: r.CidrIp }] });
    for (const g of p.UserIdGroupPairs ?? []) out.push({ ...base, UserIdGroupPairs: [{ GroupId: g.GroupId }] });
  }
  return out;
}

async function ensureSecurityGroup(clients: AwsClients, cluster: string, name: string, vpcId: string, port: number, allowCidr: string[], ssh: boolean, created: string[]): Promise<string> {
  const found = await call<{ SecurityGroups?: SecurityGroup[] }>(
    clients.ec2,
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [name] }, { Name: 'vpc-id', Values: [vpcId] }] }),
  );
  let group = found.SecurityGroups?.[0];
  let groupId = group?.GroupId;
  if (!groupId) {
    const out = await call<{ GroupId?: string }>(
      clients.ec2,
      new CreateSecurityGroupCommand({
        GroupName: name,
        Description: `dynwork cluster ${cluster}: API from the deployer, all TCP within the group`,
        VpcId: vpcId,
        TagSpecifications: [tagSpec('security-group', clusterTags(cluster, 'security-group'))],
      }),
    );
    groupId = out.GroupId!;
    created.push(`security group ${groupId}`);
    group = { GroupId: groupId, IpPermissions: [] };
  }
  const tcp = (from: number, to: number) => ({ IpProtocol: 'tcp', FromPort: from, ToPort: to });
  const wanted: IpPermission[] = [
    { ...tcp(0, 65535), UserIdGroupPairs: [{ GroupId: groupId }] },
    ...allowCidr.map((c) => ({ ...tcp(port, port), IpRanges: [{ CidrIp: c }] })),
    ...(ssh ? allowCidr.map((c) => ({ ...tcp(22, 22), IpRanges: [{ CidrIp: c }] })) : []),
  ];
  const have = perSource(group?.IpPermissions ?? []);
  const missing = wanted.filter((w) => !have.some((h) => sameRule(h, w)));
  const stale = have.filter((h) => !wanted.some((w) => sameRule(h, w)));
  if (stale.length > 0) await call(clients.ec2, new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: stale }));
  if (missing.length > 0) {
    await call(clients.ec2, new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: missing }));
    created.push(`${missing.length} ingress rule(s) on ${groupId}`);
  }
  return groupId;
}

async function ensureToken(clients: AwsClients, name: string, known: string | undefined, cluster: string, created: string[]): Promise<string> {
  const found = await ifExists(['ParameterNotFound'], () => call<{ Parameter?: { Value?: string } }>(clients.ssm, new GetParameterCommand({ Name: name, WithDecryption: true })));
  if (found?.Parameter?.Value) return found.Parameter.Value;
  const value = known ?? randomBytes(32).toString('base64url');
  await call(
    clients.ssm,
    new PutParameterCommand({
      Name: name,
      Value: value,
      Type: 'SecureString',
      Overwrite: false,
      Description: `dynwork cluster ${cluster}`,
      Tags: clusterTags(cluster, 'iam').map((t) => ({ Key: t.Key!, Value: t.Value! })),
    }),
  );
  created.push(`parameter ${name}`);
  return value;
}

async function ensureRole(clients: AwsClients, roleName: string, path: string, policyName: string, policy: object, cluster: string, created: string[]): Promise<void> {
  const { iam } = clients;
  const tags = clusterTags(cluster, 'iam').map((t) => ({ Key: t.Key!, Value: t.Value! }));
  const role = (await ifExists(IAM_NOT_FOUND, () => call<{ Role?: IamRole }>(iam, new GetRoleCommand({ RoleName: roleName }))))?.Role;
  if (!role) {
    await call(iam, new CreateRoleCommand({ RoleName: roleName, Path: path, AssumeRolePolicyDocument: JSON.stringify(EC2_TRUST_POLICY), Description: `dynwork cluster ${cluster}`, Tags: tags }));
    created.push(`role ${roleName}`);
  }
  const document = JSON.stringify(policy);
  const existing = await ifExists(IAM_NOT_FOUND, () => call<{ PolicyDocument?: string }>(iam, new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })));
  const current = existing?.PolicyDocument ? decodeURIComponent(existing.PolicyDocument) : null;
  if (current === null || !sameJson(current, document)) {
    await call(iam, new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: document }));
    if (current === null) created.push(`policy ${roleName}/${policyName}`);
  }
  const profile = (await ifExists(IAM_NOT_FOUND, () => call<{ InstanceProfile?: InstanceProfile }>(iam, new GetInstanceProfileCommand({ InstanceProfileName: roleName }))))?.InstanceProfile;
  if (!profile) {
    await call(iam, new CreateInstanceProfileCommand({ InstanceProfileName: roleName, Path: path, Tags: tags }));
    created.push(`instance profile ${roleName}`);
  }
  if (!profile?.Roles?.some((r) => r.RoleName === roleName)) {
    await call(iam, new AddRoleToInstanceProfileCommand({ InstanceProfileName: roleName, RoleName: roleName }));
  }
}

function sameJson(a: string, b: string): boolean {
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}

/** One encrypted data volume per manager, each tagged with the private address that manager always gets. */
async function ensureVolumes(clients: AwsClients, cluster: string, managers: number, subnet: Subnet, port: number, created: string[]): Promise<MemberSpec[]> {
  const { ec2 } = clients;
  const out = await call<{ Volumes?: Volume[] }>(ec2, new DescribeVolumesCommand({ Filters: clusterFilters(cluster, 'manager-data') }));
  const byIndex = new Map<number, Volume>();
  for (const v of out.Volumes ?? []) byIndex.set(Number(tagValue(v.Tags, TAG.index)), v);
  const missing: number[] = [];
  for (let i = 1; i <= managers; i++) {
    const v = byIndex.get(i);
    if (!v) missing.push(i);
    else if (v.AvailabilityZone !== subnet.AvailabilityZone) {
      throw new DynworkError('usage', `manager ${i}'s data volume ${v.VolumeId} is in ${v.AvailabilityZone}, the subnet in ${subnet.AvailabilityZone}`, {
        hint: `pass a --subnet in ${v.AvailabilityZone} (or teardown first to start over)`,
      });
    }
  }
  if (missing.length > 0) {
    const enis = await call<{ NetworkInterfaces?: { PrivateIpAddresses?: { PrivateIpAddress?: string }[] }[] }>(
      ec2,
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'subnet-id', Values: [subnet.SubnetId!] }] }),
    );
    const used = new Set<string>();
    for (const e of enis.NetworkInterfaces ?? []) for (const a of e.PrivateIpAddresses ?? []) if (a.PrivateIpAddress) used.add(a.PrivateIpAddress);
    for (const v of byIndex.values()) {
      const a = tagValue(v.Tags, TAG.address);
      if (a) used.add(a);
    }
    const addresses = pickAddresses(subnet.CidrBlock!, used, missing.length);
    for (const [k, index] of missing.entries()) {
      const tags = [...clusterTags(cluster, 'manager-data', index), { Key: TAG.address, Value: addresses[k]! }];
      const v = await call<Volume>(
        ec2,
        new CreateVolumeCommand({ AvailabilityZone: subnet.AvailabilityZone!, Size: DATA_VOLUME_GIB, VolumeType: 'gp3', Encrypted: true, TagSpecifications: [tagSpec('volume', tags)] }),
      );
      byIndex.set(index, { ...v, Tags: tags, AvailabilityZone: subnet.AvailabilityZone! });
      created.push(`data volume ${v.VolumeId} (manager ${index})`);
    }
  }
  return Array.from({ length: managers }, (_, k) => {
    const v = byIndex.get(k + 1)!;
    const dataDir = '/var/lib/dynwork/queue';
    return { index: k + 1, host: tagValue(v.Tags, TAG.address)!, bindHost: '0.0.0.0', port, dataDir };
  });
}

function defaultPack(packageSpec: string | null): Promise<Artifact> {
  return packageSpec ? fetchPackageSpec(packageSpec) : packArtifact();
}

async function probeHealth(url: string, clientToken: string): Promise<boolean> {
  const client = new ManagerClient({ endpoint: url, token: clientToken, timeoutMs: 3000 });
  try {
    return (await client.healthz()).ok;
  } catch {
    return false;
  } finally {
    await client.close();
  }
}

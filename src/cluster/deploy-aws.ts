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
import { discoverPublicIp } from './public-ip.js';

export interface AwsDeployDeps {
  clients: AwsClients;
  /** The deployer's public IPv4, for the default --allow-cidr. */
  publicIp?: () => Promise<string>;
  /** Does a manager answer? @default GET /healthz with the client token */
  healthy?: (url: string, clientToken: string) => Promise<boolean>;
  /** Pause between health probes and IAM retries. @default 5000 */
  pollMs?: number;
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
        amis.set(arch, p.Parameter?.Value ?? '');
      }
      info.set(t, { arch, vcpus: found.VCpuInfo?.DefaultVCpus ?? 1, imageId: amis.get(arch)! });
    }
    return info;
  });
  const managerType = types.get(s.instanceType)!;
  const workerType = types.get(s.workerInstanceType)!;

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
    const scope = { cluster: opts.cluster, region, account, partition, managerRoleArn: managerArn, workerRoleArn: workerArn, subnetId, securityGroupId: groupId };
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
    // TODO(#10): wired by the artifact upload. Until then a placeholder that
    // passes renderUserData's checks (so deploy runs) but can never be
    // fetched: machines report "boot failed: download …" rather than run
    // something unverified.
    artifact: { url: 'https://dynwork.invalid/TODO-10/dynwork.tgz', sha256: '0'.repeat(64) },
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
  for (const m of members) {
    const config = managerConfigFor(base, m.index);
    const hash = managerConfigHash(config);
    hashes.set(m.index, hash);
    const current = running.find((i) => i.index === m.index);
    if (current && current.configHash === hash) {
      out.push({ index: m.index, url: '', instanceId: current.id, privateAddress: m.host, action: 'unchanged', healthy: null });
      continue;
    }
    await withStep(progress, `${current ? 'Replacing' : 'Launching'} manager ${m.index} (${s.instanceType}, ${m.host})`, async (step) => {
      if (current) {
        await provider.terminate([current.id]);
        step.update(`Waiting for the old manager ${m.index} (${current.id}) to terminate`);
        await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 600, minDelay: Math.max(1, pollMs / 1000) }, { InstanceIds: [current.id] });
      }
      const [inst] = await provider.launch('manager', { cluster: opts.cluster, index: m.index, config });
      if (!inst) throw new DynworkError('provider_error', `EC2 started no manager ${m.index}`);
      created.push(`manager ${m.index} ${inst.id}`);
      out.push({ index: m.index, url: '', instanceId: inst.id, privateAddress: m.host, action: current ? 'replaced' : 'created', healthy: null });
    });
  }

  const ids = out.map((o) => o.instanceId);
  await withStep(progress, `Waiting for ${ids.length} manager instance${ids.length === 1 ? '' : 's'} to run`, () =>
    waitUntilInstanceRunning({ client: ec2, maxWaitTime: 600, minDelay: Math.max(1, pollMs / 1000) }, { InstanceIds: ids }).then(() => undefined),
  );
  // Each manager takes its Elastic IP as it boots, so the URL is known now and outlives the machine.
  for (const o of out) o.url = `http://${publicIps.get(o.index)!}:${s.port}`;

  const state: ClusterState = {
    provider: 'aws',
    name: opts.cluster,
    createdAt: previous?.createdAt ?? new Date().toISOString(),
    clientToken: tokens.clientToken,
    workerToken: tokens.workerToken,
    settings: { ...s, region } as unknown as Record<string, unknown>,
    managers: out.map((o) => ({ index: o.index, url: o.url, instanceId: o.instanceId, privateAddress: o.privateAddress, configHash: hashes.get(o.index)! })),
  };
  // Written before the health wait, so status and teardown know the cluster even if that wait fails.
  writeClusterState(state);

  if (s.wait) {
    const healthy = deps.healthy ?? probeHealth;
    const deadline = Date.now() + s.waitS * 1000;
    await withStep(progress, `Waiting for ${out.length} managers to answer (first boot installs Node and dynwork: a few minutes)`, async (step) => {
      for (const o of out) {
        step.update(`Waiting for manager ${o.index} to answer at ${o.url}`);
        for (;;) {
          if (await healthy(o.url, tokens.clientToken)) break;
          if (Date.now() >= deadline) {
            throw new DynworkError('timeout', `manager ${o.index} (${o.instanceId}) did not answer at ${o.url} within ${s.waitS} s`, {
              hint: `see its boot log: aws ec2 get-console-output --region ${region} --instance-id ${o.instanceId} --latest --output text (a re-run of deploy picks up from here)`,
            });
          }
          await new Promise((r) => setTimeout(r, pollMs));
        }
        o.healthy = true;
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
    const out = await call<{ Subnets?: Subnet[] }>(clients.ec2, new DescribeSubnetsCommand({ SubnetIds: [subnetId] }));
    const sn = out.Subnets?.[0];
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

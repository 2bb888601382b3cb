/**
 * Get-or-create for each AWS resource a cluster needs besides its machines:
 * each finds what exists (by name or tag) and creates only what is missing,
 * so deploy converges and a second run creates nothing.
 */
import { randomBytes } from 'node:crypto';
import type { IpPermission, Subnet, Volume } from '@aws-sdk/client-ec2';
import { DynworkError } from '../errors.js';
import { pickAddresses } from '../providers/aws/addresses.js';
import type { AwsClients } from '../providers/aws/clients.js';
import { IAM_NOT_FOUND, ifExists } from '../providers/aws/errors.js';
import { EC2_TRUST_POLICY } from '../providers/aws/iam-policies.js';
import { clusterFilters, clusterTags, TAG, tagSpec, tagValue } from '../providers/aws/tags.js';
import type { MemberSpec } from '../settings/autoscale.js';

const DATA_VOLUME_GIB = 8;

/** One Elastic IP per manager, found by tag or allocated: index → public IP. */
export async function ensureAddresses(clients: AwsClients, cluster: string, indexes: number[], created: string[]): Promise<Map<number, string>> {
  const out = await clients.ec2.describeAddresses({ Filters: clusterFilters(cluster, 'manager-address') });
  const ips = new Map<number, string>();
  for (const a of out.Addresses ?? []) {
    const index = Number(tagValue(a.Tags, TAG.index));
    if (a.PublicIp && !ips.has(index)) ips.set(index, a.PublicIp);
  }
  for (const index of indexes) {
    if (ips.has(index)) continue;
    const a = await clients.ec2.allocateAddress({ Domain: 'vpc', TagSpecifications: [tagSpec('elastic-ip', clusterTags(cluster, 'manager-address', index))] });
    ips.set(index, a.PublicIp!);
    created.push(`Elastic IP ${a.PublicIp} (manager ${index})`);
  }
  return ips;
}

export async function findSubnet(clients: AwsClients, subnetId: string | null, region: string): Promise<Subnet> {
  if (subnetId) {
    // EC2 answers an unknown id with an error, not an empty list.
    const out = await ifExists(['InvalidSubnetID.NotFound'], () => clients.ec2.describeSubnets({ SubnetIds: [subnetId] }));
    const sn = out?.Subnets?.[0];
    if (!sn) throw new DynworkError('usage', `subnet ${subnetId} not found in ${region}`, { hint: 'pass a subnet of this region (--subnet) or another --region' });
    return sn;
  }
  const vpcs = await clients.ec2.describeVpcs({ Filters: [{ Name: 'is-default', Values: ['true'] }] });
  const vpc = vpcs.Vpcs?.[0]?.VpcId;
  if (!vpc) throw new DynworkError('usage', `${region} has no default VPC`, { hint: 'pass --subnet subnet-… (a public subnet of one of your VPCs)' });
  const out = await clients.ec2.describeSubnets({
    Filters: [
      { Name: 'vpc-id', Values: [vpc] },
      { Name: 'default-for-az', Values: ['true'] },
    ],
  });
  const sn = [...(out.Subnets ?? [])].sort((a, b) => (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? ''))[0];
  if (!sn) throw new DynworkError('usage', `the default VPC of ${region} has no default subnet`, { hint: 'pass --subnet subnet-…' });
  return sn;
}

function sameRule(a: IpPermission, b: IpPermission): boolean {
  if (a.IpProtocol !== b.IpProtocol || a.FromPort !== b.FromPort || a.ToPort !== b.ToPort) return false;
  const cidrs = (p: IpPermission) =>
    (p.IpRanges ?? [])
      .map((r) => r.CidrIp)
      .sort()
      .join();
  const groups = (p: IpPermission) =>
    (p.UserIdGroupPairs ?? [])
      .map((g) => g.GroupId)
      .sort()
      .join();
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

export async function ensureSecurityGroup(clients: AwsClients, cluster: string, name: string, vpcId: string, port: number, allowCidr: string[], ssh: boolean, created: string[]): Promise<string> {
  const found = await clients.ec2.describeSecurityGroups({
    Filters: [
      { Name: 'group-name', Values: [name] },
      { Name: 'vpc-id', Values: [vpcId] },
    ],
  });
  let group = found.SecurityGroups?.[0];
  let groupId = group?.GroupId;
  if (!groupId) {
    const out = await clients.ec2.createSecurityGroup({
      GroupName: name,
      Description: `dynwork cluster ${cluster}: API from the deployer, all TCP within the group`,
      VpcId: vpcId,
      TagSpecifications: [tagSpec('security-group', clusterTags(cluster, 'security-group'))],
    });
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
  if (stale.length > 0) await clients.ec2.revokeSecurityGroupIngress({ GroupId: groupId, IpPermissions: stale });
  if (missing.length > 0) {
    await clients.ec2.authorizeSecurityGroupIngress({ GroupId: groupId, IpPermissions: missing });
    created.push(`${missing.length} ingress rule(s) on ${groupId}`);
  }
  return groupId;
}

export async function ensureToken(clients: AwsClients, name: string, known: string | undefined, cluster: string, created: string[]): Promise<string> {
  const found = await ifExists(['ParameterNotFound'], () => clients.ssm.getParameter({ Name: name, WithDecryption: true }));
  if (found?.Parameter?.Value) return found.Parameter.Value;
  const value = known ?? randomBytes(32).toString('base64url');
  await clients.ssm.putParameter({
    Name: name,
    Value: value,
    Type: 'SecureString',
    Overwrite: false,
    Description: `dynwork cluster ${cluster}`,
    Tags: clusterTags(cluster, 'iam').map((t) => ({ Key: t.Key!, Value: t.Value! })),
  });
  created.push(`parameter ${name}`);
  return value;
}

export async function ensureRole(clients: AwsClients, roleName: string, path: string, policyName: string, policy: object, cluster: string, created: string[]): Promise<void> {
  const { iam } = clients;
  const tags = clusterTags(cluster, 'iam').map((t) => ({ Key: t.Key!, Value: t.Value! }));
  const role = (await ifExists(IAM_NOT_FOUND, () => iam.getRole({ RoleName: roleName })))?.Role;
  if (!role) {
    await iam.createRole({ RoleName: roleName, Path: path, AssumeRolePolicyDocument: JSON.stringify(EC2_TRUST_POLICY), Description: `dynwork cluster ${cluster}`, Tags: tags });
    created.push(`role ${roleName}`);
  }
  const document = JSON.stringify(policy);
  const existing = await ifExists(IAM_NOT_FOUND, () => iam.getRolePolicy({ RoleName: roleName, PolicyName: policyName }));
  const current = existing?.PolicyDocument ? decodeURIComponent(existing.PolicyDocument) : null;
  if (current === null || !sameJson(current, document)) {
    await iam.putRolePolicy({ RoleName: roleName, PolicyName: policyName, PolicyDocument: document });
    if (current === null) created.push(`policy ${roleName}/${policyName}`);
  }
  const profile = (await ifExists(IAM_NOT_FOUND, () => iam.getInstanceProfile({ InstanceProfileName: roleName })))?.InstanceProfile;
  if (!profile) {
    await iam.createInstanceProfile({ InstanceProfileName: roleName, Path: path, Tags: tags });
    created.push(`instance profile ${roleName}`);
  }
  if (!profile?.Roles?.some((r) => r.RoleName === roleName)) {
    await iam.addRoleToInstanceProfile({ InstanceProfileName: roleName, RoleName: roleName });
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
export async function ensureVolumes(clients: AwsClients, cluster: string, managers: number, subnet: Subnet, port: number, created: string[]): Promise<MemberSpec[]> {
  const { ec2 } = clients;
  const out = await ec2.describeVolumes({ Filters: clusterFilters(cluster, 'manager-data') });
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
    const enis = await ec2.describeNetworkInterfaces({ Filters: [{ Name: 'subnet-id', Values: [subnet.SubnetId!] }] });
    const used = new Set<string>();
    for (const e of enis.NetworkInterfaces ?? []) for (const a of e.PrivateIpAddresses ?? []) if (a.PrivateIpAddress) used.add(a.PrivateIpAddress);
    for (const v of byIndex.values()) {
      const a = tagValue(v.Tags, TAG.address);
      if (a) used.add(a);
    }
    const addresses = pickAddresses(subnet.CidrBlock!, used, missing.length);
    for (const [k, index] of missing.entries()) {
      const tags = [...clusterTags(cluster, 'manager-data', index), { Key: TAG.address, Value: addresses[k]! }];
      const v = await ec2.createVolume({ AvailabilityZone: subnet.AvailabilityZone!, Size: DATA_VOLUME_GIB, VolumeType: 'gp3', Encrypted: true, TagSpecifications: [tagSpec('volume', tags)] });
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

/**
 * A small in-memory AWS account behind aws-sdk-client-mock: enough of EC2,
 * IAM, SSM and STS for dynwork's deploy, provider and teardown, with state,
 * so a second deploy can be seen to create nothing and a teardown to leave
 * nothing. Every call is logged in order with its input; `fail` queues errors
 * (by action name) to inject faults.
 */
import * as ec2 from '@aws-sdk/client-ec2';
import * as iam from '@aws-sdk/client-iam';
import * as pricing from '@aws-sdk/client-pricing';
import * as ssm from '@aws-sdk/client-ssm';
import * as sts from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type { AwsClusterSettings } from '../src/providers/aws/settings.js';
import type { UserDataInput } from '../src/providers/aws/userdata.js';

type Tag = { Key?: string; Value?: string };
type Filter = { Name?: string; Values?: string[] };
interface FakeInstance {
  InstanceId: string;
  State: { Name: string };
  Tags: Tag[];
  PrivateIpAddress: string;
  PublicIpAddress: string;
  LaunchTime: Date;
  input: ec2.RunInstancesCommandInput;
}

/** Launch settings of cluster "demo" as deploy would record them; workers spot c6i.xlarge unless told. */
export function demoSettings(worker: Partial<AwsClusterSettings['worker']> = {}): AwsClusterSettings {
  return {
    region: 'us-east-1',
    subnetId: 'subnet-0a',
    securityGroupId: 'sg-0cluster',
    keyName: 'dynwork-demo',
    artifact: { url: 's3://dynwork-123456789012-us-east-1/clusters/demo/dynwork-0.1.0-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.tgz', sha256: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' },
    version: '0.1.0',
    clientTokenParameter: '/dynwork/demo/client-token',
    workerTokenParameter: '/dynwork/demo/worker-token',
    manager: { instanceType: 't3.micro', imageId: 'ami-0x86', profileName: 'dynwork-demo-us-east-1-manager' },
    worker: { instanceType: 'c6i.xlarge', imageId: 'ami-0x86', profileName: 'dynwork-demo-us-east-1-worker', spot: true, ...worker },
  };
}

/** A manager's user-data input, with a config value that would break careless shell quoting. */
export const managerUserData: UserDataInput = {
  role: 'manager',
  region: 'eu-west-1',
  artifactUrl: 's3://dynwork-123456789012-eu-west-1/clusters/demo/dynwork-0.1.0-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.tgz',
  artifactSha256: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
  version: '0.1.0',
  tokenParameters: { 'client-token': '/dynwork/demo/client-token', 'worker-token': '/dynwork/demo/worker-token' },
  dataVolumeId: 'vol-0123456789abcdef0',
  addressAllocationId: 'eipalloc-0123456789abcdef0',
  config: { cluster: 'demo', index: 1, clientTokenFile: 'client-token', workerTokenFile: 'worker-token', note: "it's $(not run)" },
};

export function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

export class FakeAws {
  readonly account = '123456789012';
  readonly log: { action: string; input: Record<string, unknown> }[] = [];
  readonly instances = new Map<string, FakeInstance>();
  readonly groups = new Map<string, { GroupId: string; GroupName: string; VpcId: string; Tags: Tag[]; IpPermissions: ec2.IpPermission[] }>();
  readonly keyPairs = new Map<string, { KeyPairId: string; KeyName: string; Tags: Tag[] }>();
  readonly volumes = new Map<string, { VolumeId: string; AvailabilityZone: string; Tags: Tag[]; Encrypted?: boolean; State: string }>();
  readonly addresses = new Map<string, { AllocationId: string; PublicIp: string; Domain: string; Tags: Tag[] }>();
  readonly parameters = new Map<string, { Value: string; Type: string }>();
  readonly roles = new Map<string, { RoleName: string; Path: string; Arn: string; policies: Map<string, string> }>();
  readonly profiles = new Map<string, { InstanceProfileName: string; Roles: string[] }>();
  /** Errors to throw, by action ("ec2:RunInstances"), first in first out. */
  readonly faults = new Map<string, Error[]>();
  defaultVpc: string | null = 'vpc-0default';
  /** USD per hour, us-east-1 Linux. */
  readonly prices = { onDemand: { 't3.micro': 0.0104, 'c7g.large': 0.0725, 'c6i.xlarge': 0.17 } as Record<string, number>, spot: { 'c6i.xlarge': 0.0651, 't3.micro': 0.0037 } as Record<string, number> };
  private seq = 0;
  private readonly mocks: { restore(): void }[] = [];

  /** By action ("ec2:RunInstances"); a test may wrap one to look at the account at that moment. */
  readonly handlers: Record<string, (input: never) => unknown> = {};

  /** `mock: false` leaves the SDK alone, for serving the account over HTTP (test/aws-wire.ts). */
  constructor({ mock = true }: { mock?: boolean } = {}) {
    const services: [string, Record<string, (input: never) => unknown>, Record<string, unknown>, unknown][] = [
      ['ec2', this.ec2Handlers() as never, ec2 as never, ec2.EC2Client],
      ['iam', this.iamHandlers() as never, iam as never, iam.IAMClient],
      ['ssm', this.ssmHandlers() as never, ssm as never, ssm.SSMClient],
      ['pricing', this.pricingHandlers() as never, pricing as never, pricing.PricingClient],
      ['sts', { GetCallerIdentity: () => ({ Account: this.account, Arn: `arn:aws:iam::${this.account}:user/deployer`, UserId: 'AIDA' }) }, sts as never, sts.STSClient],
    ];
    for (const [prefix, handlers, module, Client] of services) {
      for (const [name, fn] of Object.entries(handlers)) this.handlers[`${prefix}:${name}`] = fn;
      if (!mock) continue;
      const m = mockClient(Client as never) as unknown as { on(c: never): { callsFake(fn: (input: never) => unknown): unknown }; restore(): void };
      this.mocks.push(m);
      for (const name of Object.keys(handlers)) {
        const Cmd = module[`${name}Command`];
        if (!Cmd) throw new Error(`no ${name}Command`);
        m.on(Cmd as never).callsFake((input: never) => this.handle(`${prefix}:${name}`, input));
      }
    }
  }

  /** One call to the account ("ec2:RunInstances"): logged, then an injected fault or the handler's answer. */
  async handle(action: string, input: Record<string, unknown>): Promise<unknown> {
    const fn = this.handlers[action];
    if (!fn) throw awsError('InvalidAction', `fake: ${action} is not implemented`);
    this.log.push({ action, input: structuredClone(input) });
    const fault = this.faults.get(action)?.shift();
    if (fault) throw fault;
    return fn(input as never);
  }

  restore(): void {
    for (const m of this.mocks) m.restore();
  }

  fail(action: string, ...errors: Error[]): void {
    this.faults.set(action, [...(this.faults.get(action) ?? []), ...errors]);
  }

  /** Actions that change something, in order. */
  mutations(): string[] {
    return this.log.map((l) => l.action).filter((a) => !/:(Describe|Get|List)/.test(a));
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  calls(action: string): Record<string, any>[] {
    return this.log.filter((l) => l.action === action).map((l) => l.input);
  }

  clearLog(): void {
    this.log.length = 0;
  }

  /** Resources left in the account (what a teardown must bring to zero). */
  leftovers(): string[] {
    return [
      ...[...this.instances.values()].filter((i) => i.State.Name !== 'terminated').map((i) => `instance ${i.InstanceId}`),
      ...[...this.groups.keys()].map((g) => `group ${g}`),
      ...[...this.keyPairs.keys()].map((k) => `key ${k}`),
      ...[...this.volumes.keys()].map((v) => `volume ${v}`),
      ...[...this.addresses.values()].map((a) => `address ${a.PublicIp}`),
      ...[...this.parameters.keys()].map((p) => `parameter ${p}`),
      ...[...this.roles.keys()].map((r) => `role ${r}`),
      ...[...this.profiles.keys()].map((p) => `profile ${p}`),
    ];
  }

  private id(prefix: string): string {
    this.seq++;
    return `${prefix}-${this.seq.toString(16).padStart(8, '0')}`;
  }

  private ec2Handlers() {
    const matches = (tags: Tag[], filters: Filter[] | undefined, extra: Record<string, string | undefined> = {}) =>
      (filters ?? []).every((f) => {
        if (f.Name?.startsWith('tag:')) {
          const v = tags.find((t) => t.Key === f.Name!.slice(4))?.Value;
          return v !== undefined && (f.Values ?? []).includes(v);
        }
        const v = extra[f.Name ?? ''];
        if (v === undefined) throw awsError('InvalidParameterValue', `fake: unsupported filter ${f.Name}`);
        return (f.Values ?? []).includes(v);
      });
    return {
      DescribeVpcs: (input: ec2.DescribeVpcsCommandInput) => {
        const wantsDefault = input.Filters?.some((f) => f.Name === 'is-default');
        return { Vpcs: wantsDefault && this.defaultVpc ? [{ VpcId: this.defaultVpc, IsDefault: true }] : [] };
      },
      DescribeSubnets: (input: ec2.DescribeSubnetsCommandInput) => {
        const subnets = [
          { SubnetId: 'subnet-0b', VpcId: 'vpc-0default', AvailabilityZone: 'us-east-1b', CidrBlock: '172.31.16.0/20', DefaultForAz: true },
          { SubnetId: 'subnet-0a', VpcId: 'vpc-0default', AvailabilityZone: 'us-east-1a', CidrBlock: '172.31.0.0/20', DefaultForAz: true },
        ];
        if (input.SubnetIds) {
          const found = subnets.filter((sn) => input.SubnetIds!.includes(sn.SubnetId));
          if (found.length === 0) throw awsError('InvalidSubnetID.NotFound', `The subnet ID '${input.SubnetIds[0]}' does not exist`);
          return { Subnets: found };
        }
        return { Subnets: this.defaultVpc ? subnets : [] };
      },
      DescribeInstanceTypes: (input: ec2.DescribeInstanceTypesCommandInput) => ({
        InstanceTypes: (input.InstanceTypes ?? []).map((t) => {
          if (!/^(t3|t4g|c7g|c6i)\./.test(t)) throw awsError('InvalidInstanceType', `The following supplied instance types do not exist: [${t}]`);
          const arm = /^(t4g|c7g)\./.test(t);
          return { InstanceType: t, VCpuInfo: { DefaultVCpus: t.endsWith('.micro') ? 2 : 4 }, ProcessorInfo: { SupportedArchitectures: [arm ? 'arm64' : 'x86_64'] } };
        }),
      }),
      DescribeKeyPairs: (input: ec2.DescribeKeyPairsCommandInput) => {
        if (input.KeyNames) {
          const found = input.KeyNames.map((n) => this.keyPairs.get(n));
          if (found.some((k) => !k)) throw awsError('InvalidKeyPair.NotFound', `The key pair '${input.KeyNames[0]}' does not exist`);
          return { KeyPairs: found };
        }
        return { KeyPairs: [...this.keyPairs.values()].filter((k) => matches(k.Tags, input.Filters)) };
      },
      CreateKeyPair: (input: ec2.CreateKeyPairCommandInput) => {
        if (this.keyPairs.has(input.KeyName!)) throw awsError('InvalidKeyPair.Duplicate');
        const k = { KeyPairId: this.id('key'), KeyName: input.KeyName!, Tags: input.TagSpecifications?.[0]?.Tags ?? [] };
        this.keyPairs.set(k.KeyName, k);
        return { ...k, KeyMaterial: '-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n' };
      },
      DeleteKeyPair: (input: ec2.DeleteKeyPairCommandInput) => {
        for (const [n, k] of this.keyPairs) if (k.KeyPairId === input.KeyPairId) this.keyPairs.delete(n);
        return {};
      },
      DescribeSecurityGroups: (input: ec2.DescribeSecurityGroupsCommandInput) => ({
        SecurityGroups: [...this.groups.values()].filter((g) => matches(g.Tags, input.Filters, { 'group-name': g.GroupName, 'vpc-id': g.VpcId })).map((g) => structuredClone(g)),
      }),
      CreateSecurityGroup: (input: ec2.CreateSecurityGroupCommandInput) => {
        const g = { GroupId: this.id('sg'), GroupName: input.GroupName!, VpcId: input.VpcId!, Tags: input.TagSpecifications?.[0]?.Tags ?? [], IpPermissions: [] };
        this.groups.set(g.GroupId, g);
        return { GroupId: g.GroupId };
      },
      AuthorizeSecurityGroupIngress: (input: ec2.AuthorizeSecurityGroupIngressCommandInput) => {
        this.groups.get(input.GroupId!)!.IpPermissions.push(...(input.IpPermissions ?? []));
        return { Return: true };
      },
      RevokeSecurityGroupIngress: (input: ec2.RevokeSecurityGroupIngressCommandInput) => {
        const g = this.groups.get(input.GroupId!)!;
        const key = (p: ec2.IpPermission) => JSON.stringify([p.IpProtocol, p.FromPort, p.ToPort, p.IpRanges?.map((r) => r.CidrIp), p.UserIdGroupPairs?.map((x) => x.GroupId)]);
        const gone = new Set((input.IpPermissions ?? []).map(key));
        g.IpPermissions = g.IpPermissions.filter((p) => !gone.has(key(p)));
        return { Return: true };
      },
      DeleteSecurityGroup: (input: ec2.DeleteSecurityGroupCommandInput) => {
        if (!this.groups.has(input.GroupId!)) throw awsError('InvalidGroup.NotFound');
        if ([...this.instances.values()].some((i) => i.State.Name !== 'terminated')) throw awsError('DependencyViolation', 'resource sg has a dependent object');
        this.groups.delete(input.GroupId!);
        return {};
      },
      DescribeNetworkInterfaces: () => ({ NetworkInterfaces: [{ PrivateIpAddresses: [{ PrivateIpAddress: '172.31.15.254' }] }] }),
      DescribeVolumes: (input: ec2.DescribeVolumesCommandInput) => ({ Volumes: [...this.volumes.values()].filter((v) => matches(v.Tags, input.Filters)).map((v) => structuredClone(v)) }),
      CreateVolume: (input: ec2.CreateVolumeCommandInput) => {
        const v = { VolumeId: this.id('vol'), AvailabilityZone: input.AvailabilityZone!, Tags: input.TagSpecifications?.[0]?.Tags ?? [], Encrypted: input.Encrypted, State: 'available' };
        this.volumes.set(v.VolumeId, v);
        return { VolumeId: v.VolumeId, AvailabilityZone: v.AvailabilityZone, State: 'creating' };
      },
      DeleteVolume: (input: ec2.DeleteVolumeCommandInput) => {
        if (!this.volumes.has(input.VolumeId!)) throw awsError('InvalidVolume.NotFound');
        this.volumes.delete(input.VolumeId!);
        return {};
      },
      AllocateAddress: (input: ec2.AllocateAddressCommandInput) => {
        const a = { AllocationId: this.id('eipalloc'), PublicIp: `203.0.113.${100 + this.addresses.size}`, Domain: input.Domain ?? 'vpc', Tags: input.TagSpecifications?.[0]?.Tags ?? [] };
        this.addresses.set(a.AllocationId, a);
        return { AllocationId: a.AllocationId, PublicIp: a.PublicIp, Domain: a.Domain };
      },
      DescribeAddresses: (input: ec2.DescribeAddressesCommandInput) => ({ Addresses: [...this.addresses.values()].filter((a) => matches(a.Tags, input.Filters)).map((a) => structuredClone(a)) }),
      ReleaseAddress: (input: ec2.ReleaseAddressCommandInput) => {
        if (!this.addresses.delete(input.AllocationId!)) throw awsError('InvalidAllocationID.NotFound', `The allocation ID '${input.AllocationId}' does not exist`);
        return {};
      },
      RunInstances: (input: ec2.RunInstancesCommandInput) => {
        const profile = input.IamInstanceProfile?.Name;
        if (profile && !this.profiles.has(profile)) throw awsError('InvalidParameterValue', `Value (${profile}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`);
        const asked = input.NetworkInterfaces?.[0]?.PrivateIpAddress;
        if (asked && [...this.instances.values()].some((i) => i.PrivateIpAddress === asked && i.State.Name !== 'terminated')) throw awsError('InvalidIPAddress.InUse', `Address ${asked} is in use`);
        const tags = input.TagSpecifications?.find((t) => t.ResourceType === 'instance')?.Tags ?? [];
        const out: FakeInstance[] = [];
        for (let k = 0; k < (input.MaxCount ?? 1); k++) {
          const n = this.seq + 1;
          const inst: FakeInstance = {
            InstanceId: this.id('i'),
            State: { Name: 'pending' },
            Tags: tags,
            PrivateIpAddress: asked ?? `172.31.0.${10 + (n % 200)}`,
            PublicIpAddress: `198.51.100.${n % 250}`,
            LaunchTime: new Date(),
            input,
          };
          this.instances.set(inst.InstanceId, inst);
          out.push(inst);
        }
        return { Instances: out.map((i) => ({ InstanceId: i.InstanceId, State: { ...i.State }, Tags: i.Tags, PrivateIpAddress: i.PrivateIpAddress, LaunchTime: i.LaunchTime })) };
      },
      DescribeInstances: (input: ec2.DescribeInstancesCommandInput) => {
        // Time passes between calls: pending machines are up, terminating ones gone.
        for (const i of this.instances.values()) {
          if (i.State.Name === 'pending') i.State.Name = 'running';
          if (i.State.Name === 'shutting-down') i.State.Name = 'terminated';
        }
        const found = [...this.instances.values()].filter(
          (i) => (!input.InstanceIds || input.InstanceIds.includes(i.InstanceId)) && matches(i.Tags, input.Filters, { 'instance-state-name': i.State.Name }),
        );
        return {
          Reservations: found.map((i) => ({
            Instances: [
              {
                InstanceId: i.InstanceId,
                State: { ...i.State },
                Tags: i.Tags,
                PrivateIpAddress: i.PrivateIpAddress,
                PublicIpAddress: i.PublicIpAddress,
                LaunchTime: i.LaunchTime,
                InstanceType: i.input.InstanceType,
                ...(i.input.InstanceMarketOptions?.MarketType === 'spot' ? { InstanceLifecycle: 'spot' as const } : {}),
                Placement: { AvailabilityZone: 'us-east-1a' },
              },
            ],
          })),
        };
      },
      DescribeSpotPriceHistory: (input: ec2.DescribeSpotPriceHistoryCommandInput) => ({
        SpotPriceHistory: (input.InstanceTypes ?? []).flatMap((t) => {
          const usd = this.prices.spot[t];
          return usd === undefined
            ? []
            : [
                { InstanceType: t, AvailabilityZone: input.AvailabilityZone, ProductDescription: 'Linux/UNIX', SpotPrice: (usd * 1.1).toFixed(6), Timestamp: new Date(Date.now() - 3_600_000) },
                { InstanceType: t, AvailabilityZone: input.AvailabilityZone, ProductDescription: 'Linux/UNIX', SpotPrice: usd.toFixed(6), Timestamp: new Date(Date.now() - 60_000) },
              ];
        }),
      }),
      TerminateInstances: (input: ec2.TerminateInstancesCommandInput) => {
        const missing = (input.InstanceIds ?? []).filter((id) => !this.instances.has(id));
        if (missing.length > 0) throw awsError('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
        for (const id of input.InstanceIds ?? []) {
          const i = this.instances.get(id)!;
          if (i.State.Name !== 'terminated') i.State.Name = 'shutting-down';
        }
        return { TerminatingInstances: (input.InstanceIds ?? []).map((id) => ({ InstanceId: id })) };
      },
    };
  }

  private iamHandlers() {
    const noSuch = (what: string) => awsError('NoSuchEntityException', `The ${what} cannot be found.`);
    return {
      GetRole: (input: iam.GetRoleCommandInput) => {
        const r = this.roles.get(input.RoleName!);
        if (!r) throw noSuch(`role with name ${input.RoleName}`);
        return { Role: { RoleName: r.RoleName, Arn: r.Arn, Path: r.Path } };
      },
      CreateRole: (input: iam.CreateRoleCommandInput) => {
        const r = { RoleName: input.RoleName!, Path: input.Path ?? '/', Arn: `arn:aws:iam::${this.account}:role${input.Path ?? '/'}${input.RoleName}`, policies: new Map<string, string>() };
        this.roles.set(r.RoleName, r);
        return { Role: { RoleName: r.RoleName, Arn: r.Arn } };
      },
      GetRolePolicy: (input: iam.GetRolePolicyCommandInput) => {
        const p = this.roles.get(input.RoleName!)?.policies.get(input.PolicyName!);
        if (!p) throw noSuch(`role policy with name ${input.PolicyName}`);
        return { RoleName: input.RoleName, PolicyName: input.PolicyName, PolicyDocument: encodeURIComponent(p) };
      },
      PutRolePolicy: (input: iam.PutRolePolicyCommandInput) => {
        const r = this.roles.get(input.RoleName!);
        if (!r) throw noSuch(`role with name ${input.RoleName}`);
        r.policies.set(input.PolicyName!, input.PolicyDocument!);
        return {};
      },
      ListRolePolicies: (input: iam.ListRolePoliciesCommandInput) => ({ PolicyNames: [...(this.roles.get(input.RoleName!)?.policies.keys() ?? [])] }),
      DeleteRolePolicy: (input: iam.DeleteRolePolicyCommandInput) => {
        this.roles.get(input.RoleName!)?.policies.delete(input.PolicyName!);
        return {};
      },
      DeleteRole: (input: iam.DeleteRoleCommandInput) => {
        const r = this.roles.get(input.RoleName!);
        if (!r) throw noSuch(`role with name ${input.RoleName}`);
        if (r.policies.size > 0) throw awsError('DeleteConflictException', 'Cannot delete entity, must delete policies first.');
        if ([...this.profiles.values()].some((p) => p.Roles.includes(r.RoleName))) throw awsError('DeleteConflictException', 'Cannot delete entity, must remove roles from instance profile first.');
        this.roles.delete(r.RoleName);
        return {};
      },
      GetInstanceProfile: (input: iam.GetInstanceProfileCommandInput) => {
        const p = this.profiles.get(input.InstanceProfileName!);
        if (!p) throw noSuch(`Instance Profile ${input.InstanceProfileName}`);
        return { InstanceProfile: { InstanceProfileName: p.InstanceProfileName, Roles: p.Roles.map((RoleName) => ({ RoleName })) } };
      },
      CreateInstanceProfile: (input: iam.CreateInstanceProfileCommandInput) => {
        this.profiles.set(input.InstanceProfileName!, { InstanceProfileName: input.InstanceProfileName!, Roles: [] });
        return { InstanceProfile: { InstanceProfileName: input.InstanceProfileName } };
      },
      AddRoleToInstanceProfile: (input: iam.AddRoleToInstanceProfileCommandInput) => {
        this.profiles.get(input.InstanceProfileName!)!.Roles.push(input.RoleName!);
        return {};
      },
      RemoveRoleFromInstanceProfile: (input: iam.RemoveRoleFromInstanceProfileCommandInput) => {
        const p = this.profiles.get(input.InstanceProfileName!);
        if (!p) throw noSuch(`Instance Profile ${input.InstanceProfileName}`);
        p.Roles = p.Roles.filter((r) => r !== input.RoleName);
        return {};
      },
      DeleteInstanceProfile: (input: iam.DeleteInstanceProfileCommandInput) => {
        const p = this.profiles.get(input.InstanceProfileName!);
        if (!p) throw noSuch(`Instance Profile ${input.InstanceProfileName}`);
        if (p.Roles.length > 0) throw awsError('DeleteConflictException', 'Cannot delete entity, must remove roles from instance profile first.');
        this.profiles.delete(p.InstanceProfileName);
        return {};
      },
    };
  }

  /** The Price List API: one product per known instance type, in the shape AWS returns (each item a JSON string). */
  private pricingHandlers() {
    return {
      GetProducts: (input: pricing.GetProductsCommandInput) => {
        const f = Object.fromEntries((input.Filters ?? []).map((x) => [x.Field, x.Value]));
        const usd = this.prices.onDemand[f.instanceType ?? ''];
        if (input.ServiceCode !== 'AmazonEC2' || f.regionCode !== 'us-east-1' || f.operatingSystem !== 'Linux' || usd === undefined) return { PriceList: [] };
        const item = {
          product: { productFamily: 'Compute Instance', attributes: { instanceType: f.instanceType, regionCode: f.regionCode, operatingSystem: 'Linux' }, sku: 'SKU1' },
          serviceCode: 'AmazonEC2',
          terms: {
            OnDemand: {
              'SKU1.JRTCKXETXF': { priceDimensions: { 'SKU1.JRTCKXETXF.6YS6EN2CT7': { unit: 'Hrs', pricePerUnit: { USD: usd.toFixed(10) }, description: `$${usd} per On Demand Linux ${f.instanceType} Instance Hour` } } },
            },
          },
        };
        return { FormatVersion: 'aws_v1', PriceList: [JSON.stringify(item)] };
      },
    };
  }

  private ssmHandlers() {
    return {
      GetParameter: (input: ssm.GetParameterCommandInput) => {
        if (input.Name!.startsWith('/aws/service/ami-amazon-linux-latest/')) {
          if (this.faults.has('ssm:no-ami')) throw awsError('ParameterNotFound');
          if (this.faults.has('ssm:empty-ami')) return { Parameter: { Name: input.Name, Value: '' } };
          return { Parameter: { Name: input.Name, Value: input.Name!.endsWith('arm64') ? 'ami-0arm64' : 'ami-0x86' } };
        }
        const p = this.parameters.get(input.Name!);
        if (!p) throw awsError('ParameterNotFound');
        return { Parameter: { Name: input.Name, Type: p.Type, Value: input.WithDecryption ? p.Value : 'AQICAHencrypted' } };
      },
      GetParameters: (input: ssm.GetParametersCommandInput) => ({
        Parameters: (input.Names ?? []).filter((n) => this.parameters.has(n)).map((Name) => ({ Name })),
        InvalidParameters: (input.Names ?? []).filter((n) => !this.parameters.has(n)),
      }),
      PutParameter: (input: ssm.PutParameterCommandInput) => {
        if (this.parameters.has(input.Name!) && !input.Overwrite) throw awsError('ParameterAlreadyExists');
        this.parameters.set(input.Name!, { Value: input.Value!, Type: input.Type! });
        return { Version: 1 };
      },
      DeleteParameters: (input: ssm.DeleteParametersCommandInput) => {
        for (const n of input.Names ?? []) this.parameters.delete(n);
        return { DeletedParameters: input.Names };
      },
    };
  }
}

/**
 * A small in-memory AWS account behind aws-sdk-client-mock: enough of EC2,
 * IAM, SSM, STS and S3 for dynwork's deploy, provider and teardown, with
 * state, so a second deploy can be seen to create nothing and a teardown to
 * leave nothing. Every call is logged in order with its input; `fail` queues
 * errors (by action name) to inject faults.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import * as ec2 from '@aws-sdk/client-ec2';
import * as iam from '@aws-sdk/client-iam';
import * as pricing from '@aws-sdk/client-pricing';
import * as s3 from '@aws-sdk/client-s3';
import * as ssm from '@aws-sdk/client-ssm';
import * as sts from '@aws-sdk/client-sts';
import { sdkStreamMixin } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';
import type { AwsClusterSettings } from '../src/settings/aws.js';
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
    artifact: {
      url: 's3://dynwork-123456789012-us-east-1/clusters/demo/dynwork-0.1.0-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.tgz',
      sha256: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    },
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

/**
 * An S3 error as the SDK raises it: the modelled class when S3 has one
 * (NoSuchBucket, NoSuchKey, NotFound, BucketAlreadyOwnedByYou…), otherwise an
 * S3ServiceException named after the code; `extra` are the error's other
 * XML fields (BucketName, Key…).
 */
export function s3Error(name: string, status: number, message: string, extra: Record<string, string> = {}): Error {
  const opts = { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message };
  const Modelled = (s3 as unknown as Record<string, unknown>)[name];
  const err =
    typeof Modelled === 'function' && Modelled.prototype instanceof s3.S3ServiceException
      ? new (Modelled as new (o: typeof opts) => Error)(opts)
      : new s3.S3ServiceException(opts as ConstructorParameters<typeof s3.S3ServiceException>[0]);
  return Object.assign(err, extra);
}

/** What a handler knows of the call besides its input: the region the client was configured (and signed) for. */
export interface CallContext {
  region?: string;
}

const CHECKSUMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
type ChecksumAlgorithm = (typeof CHECKSUMS)[number];
export interface FakeObject {
  Key: string;
  Body: Buffer;
  ContentLength: number;
  /** Quoted hex MD5 of the body, as S3 gives a single-part upload. */
  ETag: string;
  LastModified: Date;
  ContentType: string;
  Metadata: Record<string, string>;
  /** The object's checksum (base64), as sent or, when none was, the CRC64NVME S3 computes itself. */
  Checksum: { algorithm: ChecksumAlgorithm; value: string };
}
export interface FakeBucket {
  Name: string;
  Region: string;
  CreationDate: Date;
  Tags: Tag[] | null;
  PublicAccessBlock: s3.PublicAccessBlockConfiguration | null;
  Encryption: s3.ServerSideEncryptionConfiguration;
  Policy: string | null;
  Objects: Map<string, FakeObject>;
}

/** An object's checksum the way S3 writes it: the big-endian digest in base64. */
export function checksum(algorithm: ChecksumAlgorithm, data: Uint8Array): string {
  const be32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  switch (algorithm) {
    case 'SHA256':
    case 'SHA1':
      return createHash(algorithm.toLowerCase()).update(data).digest('base64');
    case 'CRC32':
      return be32(crc32(data)).toString('base64');
    case 'CRC32C': {
      let c = ~0;
      for (const b of data) c = CRC32C[(c ^ b) & 255]! ^ (c >>> 8);
      return be32(~c >>> 0).toString('base64');
    }
    case 'CRC64NVME': {
      // 64 bits as two 32-bit halves: BigInt per byte is too slow for a build upload.
      let [hi, lo] = [~0 >>> 0, ~0 >>> 0];
      for (const b of data) {
        const i = (lo ^ b) & 255;
        lo = (((lo >>> 8) | (hi << 24)) ^ CRC64NVME_LO[i]!) >>> 0;
        hi = ((hi >>> 8) ^ CRC64NVME_HI[i]!) >>> 0;
      }
      return Buffer.concat([be32(~hi >>> 0), be32(~lo >>> 0)]).toString('base64');
    }
  }
}

// Reflected CRC tables: CRC-32C (Castagnoli) and CRC-64/NVME.
const CRC32C = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});
const [CRC64NVME_HI, CRC64NVME_LO] = (() => {
  const poly = 0x9a6c9329ac4bc9b5n; // 0xad93d23594c93659, bit-reversed
  const hi = new Uint32Array(256);
  const lo = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = BigInt(n);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    hi[n] = Number(c >> 32n);
    lo[n] = Number(c & 0xffffffffn);
  }
  return [hi, lo];
})();

/** The object without its undefined members: what the SDK gives for members the answer did not carry. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The region of a mocked client's config (a provider or a string); undefined when it has none. */
async function regionOf(region: unknown): Promise<string | undefined> {
  try {
    const r = typeof region === 'function' ? await (region as () => unknown)() : region;
    return typeof r === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** A request body in any form the SDK accepts (string, bytes, Node or web stream, Blob), as bytes. */
async function bodyBytes(body: unknown): Promise<Buffer> {
  if (body == null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (body instanceof Blob) return Buffer.from(await body.arrayBuffer());
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    const chunks: Buffer[] = [];
    for await (const c of body as AsyncIterable<string | Uint8Array>) chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
    return Buffer.concat(chunks);
  }
  throw new TypeError(`fake: cannot read a Body of type ${Object.prototype.toString.call(body)}`);
}

/** "ec2:RunInstances" → the input its handler takes. */
type InputsOf<P extends string, H> = { [K in keyof H & string as `${P}:${K}`]: H[K] extends (input: infer I, ...rest: never[]) => unknown ? I : never };
type ActionInputs = InputsOf<'ec2', ReturnType<FakeAws['ec2Handlers']>> &
  InputsOf<'iam', ReturnType<FakeAws['iamHandlers']>> &
  InputsOf<'ssm', ReturnType<FakeAws['ssmHandlers']>> &
  InputsOf<'pricing', ReturnType<FakeAws['pricingHandlers']>> &
  InputsOf<'s3', ReturnType<FakeAws['s3Handlers']>> & { 'sts:GetCallerIdentity': sts.GetCallerIdentityCommandInput };

export class FakeAws {
  readonly account = '123456789012';
  readonly log: { action: string; input: Record<string, unknown> }[] = [];
  readonly instances = new Map<string, FakeInstance>();
  readonly groups = new Map<string, { GroupId: string; GroupName: string; VpcId: string; Tags: Tag[]; IpPermissions: ec2.IpPermission[] }>();
  readonly keyPairs = new Map<string, { KeyPairId: string; KeyName: string; Tags: Tag[] }>();
  readonly volumes = new Map<string, { VolumeId: string; AvailabilityZone: string; Tags: Tag[]; Encrypted?: boolean; State: string }>();
  readonly addresses = new Map<string, { AllocationId: string; PublicIp: string; Domain: string; Tags: Tag[] }>();
  /** Each instance's serial console so far (its boot log), by instance id. */
  readonly consoles = new Map<string, string>();
  readonly parameters = new Map<string, { Value: string; Type: string }>();
  readonly roles = new Map<string, { RoleName: string; Path: string; Arn: string; policies: Map<string, string> }>();
  readonly profiles = new Map<string, { InstanceProfileName: string; Roles: string[] }>();
  readonly buckets = new Map<string, FakeBucket>();
  /** Bucket names some other account holds (S3 names are global): CreateBucket gets BucketAlreadyExists, anything else AccessDenied. */
  readonly foreignBuckets = new Set<string>();
  /** Errors to throw, by action ("ec2:RunInstances"), first in first out. */
  readonly faults = new Map<string, Error[]>();
  defaultVpc: string | null = 'vpc-0default';
  /** How many DescribeInstances a pending or shutting-down instance stays so through: real EC2 takes a while, and "resolves once gone" only shows when it does. */
  settleAfterDescribes = 1;
  /** DescribeInstances seen per instance in its current unsettled state ("<id> <state>"). */
  private readonly unsettled = new Map<string, number>();
  /** USD per hour, us-east-1 Linux. */
  readonly prices = {
    onDemand: { 't3.micro': 0.0104, 'c7g.large': 0.0725, 'c6i.xlarge': 0.17 } as Record<string, number>,
    spot: { 'c6i.xlarge': 0.0651, 't3.micro': 0.0037 } as Record<string, number>,
  };
  private seq = 0;
  private readonly mocks: { restore(): void }[] = [];

  /** By action ("ec2:RunInstances"); a test may wrap one to look at the account at that moment. */
  readonly handlers: Record<string, (input: never, ctx: CallContext) => unknown> = {};

  /** `mock: false` leaves the SDK alone, for serving the account over HTTP (test/aws-wire.ts). */
  constructor({ mock = true }: { mock?: boolean } = {}) {
    const services: [string, Record<string, (input: never, ctx: CallContext) => unknown>, Record<string, unknown>, unknown][] = [
      ['ec2', this.ec2Handlers(), ec2, ec2.EC2Client],
      ['iam', this.iamHandlers(), iam, iam.IAMClient],
      ['ssm', this.ssmHandlers(), ssm, ssm.SSMClient],
      ['pricing', this.pricingHandlers(), pricing, pricing.PricingClient],
      ['sts', { GetCallerIdentity: () => ({ Account: this.account, Arn: `arn:aws:iam::${this.account}:user/deployer`, UserId: 'AIDA' }) }, sts, sts.STSClient],
      ['s3', this.s3Handlers(), s3, s3.S3Client],
    ];
    for (const [prefix, handlers, module, Client] of services) {
      for (const [name, fn] of Object.entries(handlers)) this.handlers[`${prefix}:${name}`] = fn;
      if (!mock) continue;
      type Fake = (input: never, getClient: () => { config: { region?: unknown } }) => unknown;
      const m = mockClient(Client as never) as unknown as { on(c: never): { callsFake(fn: Fake): unknown }; restore(): void };
      this.mocks.push(m);
      for (const name of Object.keys(handlers)) {
        const Cmd = module[`${name}Command`];
        if (!Cmd) throw new Error(`no ${name}Command`);
        m.on(Cmd as never).callsFake(async (input, getClient) => this.handle(`${prefix}:${name}`, input, { region: await regionOf(getClient().config.region) }));
      }
    }
  }

  /**
   * One call to the account ("ec2:RunInstances"): logged, then an injected
   * fault or the handler's answer. A streamed Body (S3) is read into bytes
   * first, so the log holds what was sent.
   */
  async handle(action: string, input: Record<string, unknown>, ctx: CallContext = {}): Promise<unknown> {
    const fn = this.handlers[action];
    if (!fn) throw awsError('InvalidAction', `fake: ${action} is not implemented`);
    if ('Body' in input && typeof input.Body !== 'string' && !(input.Body instanceof Uint8Array)) input = { ...input, Body: await bodyBytes(input.Body) };
    this.log.push({ action, input: structuredClone(input) });
    const fault = this.faults.get(action)?.shift();
    if (fault) throw fault;
    return fn(input as never, ctx);
  }

  restore(): void {
    for (const m of this.mocks) m.restore();
  }

  fail(action: string, ...errors: Error[]): void {
    this.faults.set(action, [...(this.faults.get(action) ?? []), ...errors]);
  }

  /** Actions that change something, in order. */
  mutations(): string[] {
    return this.log.map((l) => l.action).filter((a) => !/:(Describe|Get|List|Head)/.test(a));
  }

  /** The inputs the account got for one action, typed as its handler takes them (the SDK's XCommandInput). */
  calls<A extends keyof ActionInputs>(action: A): ActionInputs[A][] {
    return this.log.filter((l) => l.action === action).map((l) => l.input as ActionInputs[A]);
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
      ...[...this.buckets.values()].map((b) => `bucket ${b.Name}${b.Objects.size > 0 ? ` (${b.Objects.size} objects)` : ''}`),
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
        const inGroup = (i: FakeInstance) => i.input.NetworkInterfaces?.some((n) => n.Groups?.includes(input.GroupId!)) ?? true;
        if ([...this.instances.values()].some((i) => i.State.Name !== 'terminated' && inGroup(i))) throw awsError('DependencyViolation', 'resource sg has a dependent object');
        this.groups.delete(input.GroupId!);
        return {};
      },
      GetConsoleOutput: (input: ec2.GetConsoleOutputCommandInput) => {
        if (!this.instances.has(input.InstanceId!)) throw awsError('InvalidInstanceID.NotFound');
        const text = this.consoles.get(input.InstanceId!);
        return { InstanceId: input.InstanceId, ...(text === undefined ? {} : { Output: Buffer.from(text).toString('base64') }) };
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
        // Time passes between calls: pending machines come up, terminating ones go.
        for (const i of this.instances.values()) {
          const next = ({ pending: 'running', 'shutting-down': 'terminated' } as Record<string, string>)[i.State.Name];
          if (!next) continue;
          const key = `${i.InstanceId} ${i.State.Name}`;
          const seen = (this.unsettled.get(key) ?? 0) + 1;
          this.unsettled.set(key, seen);
          if (seen < this.settleAfterDescribes) continue;
          this.unsettled.delete(key);
          i.State.Name = next;
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
        const f = Object.fromEntries((input.Filters ?? []).map((x) => [String(x.Field), x.Value] as const));
        const usd = this.prices.onDemand[f.instanceType ?? ''];
        if (input.ServiceCode !== 'AmazonEC2' || f.regionCode !== 'us-east-1' || f.operatingSystem !== 'Linux' || usd === undefined) return { PriceList: [] };
        const item = {
          product: { productFamily: 'Compute Instance', attributes: { instanceType: f.instanceType, regionCode: f.regionCode, operatingSystem: 'Linux' }, sku: 'SKU1' },
          serviceCode: 'AmazonEC2',
          terms: {
            OnDemand: {
              'SKU1.JRTCKXETXF': {
                priceDimensions: { 'SKU1.JRTCKXETXF.6YS6EN2CT7': { unit: 'Hrs', pricePerUnit: { USD: usd.toFixed(10) }, description: `$${usd} per On Demand Linux ${f.instanceType} Instance Hour` } },
              },
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

  /**
   * S3, as a bucket in one account sees it. Buckets live in a region: a
   * request signed for another region is redirected (301), as S3 does. New
   * buckets block public access and encrypt with SSE-S3 by default (S3 since
   * 2023); an object uploaded without a checksum gets the CRC64NVME S3
   * computes itself. HEAD requests have no error body, so their errors carry
   * only the status: the SDK names a 404 "NotFound".
   */
  private s3Handlers() {
    const ACCESS_DENIED = 'Access Denied';
    // What the SDK makes of a bodiless HEAD error: 404 is NotFound, anything else Unknown; the headers stay.
    const head = (e: Error & { $metadata?: { httpStatusCode?: number }; $response?: unknown }) => {
      const status = e.$metadata?.httpStatusCode ?? 400;
      const err = s3Error(status === 404 ? 'NotFound' : 'Unknown', status, 'UnknownError');
      return e.$response ? Object.assign(err, { $response: e.$response }) : err;
    };
    const bucket = (name: string | undefined, ctx: CallContext) => {
      const b = this.buckets.get(name ?? '');
      if (!b) {
        if (this.foreignBuckets.has(name ?? '')) throw s3Error('AccessDenied', 403, ACCESS_DENIED);
        throw s3Error('NoSuchBucket', 404, 'The specified bucket does not exist', { BucketName: name ?? '' });
      }
      if (ctx.region && ctx.region !== b.Region) {
        const redirect = s3Error(
          'PermanentRedirect',
          301,
          'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
          {
            Bucket: b.Name,
            Endpoint: `s3.${b.Region}.amazonaws.com`,
          },
        );
        // S3 names the bucket's region in a header too (x-amz-bucket-region), which the SDK can follow (followRegionRedirects).
        throw Object.assign(redirect, { $response: { statusCode: 301, headers: { 'x-amz-bucket-region': b.Region } } });
      }
      return b;
    };
    const object = (b: FakeBucket, key: string | undefined) => {
      const o = b.Objects.get(key ?? '');
      if (!o) throw s3Error('NoSuchKey', 404, 'The specified key does not exist.', { Key: key ?? '' });
      return o;
    };
    /** The object's description, shared by HeadObject, GetObject; its checksum only when asked for (x-amz-checksum-mode: ENABLED). */
    const describe = (o: FakeObject, checksumMode: string | undefined) => ({
      AcceptRanges: 'bytes',
      LastModified: o.LastModified,
      ContentLength: o.ContentLength,
      ETag: o.ETag,
      ContentType: o.ContentType,
      Metadata: { ...o.Metadata },
      ServerSideEncryption: 'AES256' as const,
      ...(checksumMode === 'ENABLED' ? { [`Checksum${o.Checksum.algorithm}`]: o.Checksum.value, ChecksumType: 'FULL_OBJECT' as const } : {}),
    });
    const malformed = () => s3Error('MalformedXML', 400, 'The XML you provided was not well-formed or did not validate against our published schema');
    const listToken = (after: string, isPrefix: boolean) => Buffer.from(JSON.stringify({ after, isPrefix })).toString('base64');
    const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    return {
      CreateBucket: (input: s3.CreateBucketCommandInput, ctx: CallContext) => {
        const name = input.Bucket ?? '';
        if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) || name.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(name)) {
          throw s3Error('InvalidBucketName', 400, 'The specified bucket is not valid.', { BucketName: name });
        }
        // The SDK (locationConstraintMiddleware) fills in the client's region when it is not us-east-1; mocked, nothing has.
        const asked = (input.CreateBucketConfiguration?.LocationConstraint as string | undefined) || (ctx.region !== 'us-east-1' ? ctx.region : undefined);
        if (asked === 'us-east-1') throw s3Error('InvalidLocationConstraint', 400, 'The specified location-constraint is not valid', { LocationConstraint: asked });
        const region = asked ?? 'us-east-1';
        // The us-east-1 endpoint creates buckets anywhere; a regional one only in its own region.
        if (ctx.region && ctx.region !== 'us-east-1' && ctx.region !== region) {
          throw s3Error('IllegalLocationConstraintException', 400, `The ${asked ?? 'unspecified'} location constraint is incompatible for the region specific endpoint this request was sent to.`);
        }
        if (this.foreignBuckets.has(name)) {
          throw s3Error(
            'BucketAlreadyExists',
            409,
            'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
            { BucketName: name },
          );
        }
        const existing = this.buckets.get(name);
        if (existing) {
          // Legacy us-east-1: creating a bucket you own there again succeeds and changes nothing.
          if (existing.Region === 'us-east-1' && region === 'us-east-1') return { Location: `/${name}` };
          throw s3Error('BucketAlreadyOwnedByYou', 409, 'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: name });
        }
        const now = new Date();
        now.setUTCMilliseconds(0);
        this.buckets.set(name, {
          Name: name,
          Region: region,
          CreationDate: now,
          Tags: null,
          PublicAccessBlock: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
          Encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false }] },
          Policy: null,
          Objects: new Map(),
        });
        return { Location: region === 'us-east-1' ? `/${name}` : `http://${name}.s3.amazonaws.com/` };
      },
      HeadBucket: (input: s3.HeadBucketCommandInput, ctx: CallContext) => {
        try {
          const b = bucket(input.Bucket, ctx);
          return { BucketRegion: b.Region, AccessPointAlias: false };
        } catch (e) {
          throw head(e as Error);
        }
      },
      DeleteBucket: (input: s3.DeleteBucketCommandInput, ctx: CallContext) => {
        const b = bucket(input.Bucket, ctx);
        if (b.Objects.size > 0) throw s3Error('BucketNotEmpty', 409, 'The bucket you tried to delete is not empty', { BucketName: b.Name });
        this.buckets.delete(b.Name);
        return {};
      },
      PutPublicAccessBlock: (input: s3.PutPublicAccessBlockCommandInput, ctx: CallContext) => {
        const b = bucket(input.Bucket, ctx);
        if (!input.PublicAccessBlockConfiguration) throw malformed();
        const c = input.PublicAccessBlockConfiguration;
        b.PublicAccessBlock = {
          BlockPublicAcls: !!c.BlockPublicAcls,
          IgnorePublicAcls: !!c.IgnorePublicAcls,
          BlockPublicPolicy: !!c.BlockPublicPolicy,
          RestrictPublicBuckets: !!c.RestrictPublicBuckets,
        };
        return {};
      },
      GetPublicAccessBlock: (input: s3.GetPublicAccessBlockCommandInput, ctx: CallContext) => {
        const b = bucket(input.Bucket, ctx);
        if (!b.PublicAccessBlock) throw s3Error('NoSuchPublicAccessBlockConfiguration', 404, 'The public access block configuration was not found', { BucketName: b.Name });
        return { PublicAccessBlockConfiguration: { ...b.PublicAccessBlock } };
      },
      PutBucketEncryption: (input: s3.PutBucketEncryptionCommandInput, ctx: CallContext) => {
        const b = bucket(input.Bucket, ctx);
        const rules = input.ServerSideEncryptionConfiguration?.Rules ?? [];
        const algorithms = ['AES256', 'aws:kms', 'aws:kms:dsse'];
        if (rules.length !== 1 || !algorithms.includes(rules[0]!.ApplyServerSideEncryptionByDefault?.SSEAlgorithm ?? '')) throw malformed();
        b.Encryption = structuredClone(input.ServerSideEncryptionConfiguration!);
        return {};
      },
      GetBucketEncryption: (input: s3.GetBucketEncryptionCommandInput, ctx: CallContext) => ({ ServerSideEncryptionConfiguration: structuredClone(bucket(input.Bucket, ctx).Encryption) }),
      PutBucketPolicy: (input: s3.PutBucketPolicyCommandInput, ctx: CallContext) => {
        const b = bucket(input.Bucket, ctx);
        let policy: { Statement?: unknown };
        try {
          if (!input.Policy?.trimStart().startsWith('{')) throw new Error();
          policy = JSON.parse(input.Policy) as { Statement?: unknown };
        } catch {
          throw s3Error('MalformedPolicy', 400, "Policies must be valid JSON and the first byte must be '{'");
        }
        // Block Public Access refuses a policy that grants anyone access (Principal "*" not narrowed to an account, VPC or source).
        type Statement = { Effect?: string; Principal?: unknown; Condition?: Record<string, Record<string, unknown>> };
        const narrowing = /^aws:(SourceVpce?|PrincipalAccount|PrincipalOrgID|PrincipalArn|SourceAccount|SourceArn|SourceOwner|userid)$/i;
        const anyone = (p: unknown) => p === '*' || (typeof p === 'object' && p !== null && [(p as { AWS?: unknown }).AWS].flat().includes('*'));
        const isPublic = [policy.Statement ?? []]
          .flat()
          .some((st: Statement) => st.Effect === 'Allow' && anyone(st.Principal) && !Object.values(st.Condition ?? {}).some((c) => Object.keys(c).some((k) => narrowing.test(k))));
        if (isPublic && b.PublicAccessBlock?.BlockPublicPolicy) throw s3Error('AccessDenied', 403, ACCESS_DENIED);
        b.Policy = input.Policy;
        return {};
      },
      GetBucketPolicy: (input: s3.GetBucketPolicyCommandInput, ctx: CallContext) => {
        const b = bucket(input.Bucket, ctx);
        if (b.Policy === null) throw s3Error('NoSuchBucketPolicy', 404, 'The bucket policy does not exist', { BucketName: b.Name });
        return { Policy: b.Policy };
      },
      PutBucketTagging: (input: s3.PutBucketTaggingCommandInput, ctx: CallContext) => {
        const b = bucket(input.Bucket, ctx);
        const tags = input.Tagging?.TagSet;
        if (!tags) throw malformed();
        if (new Set(tags.map((t) => t.Key)).size !== tags.length) throw s3Error('InvalidTag', 400, 'Cannot provide multiple Tags with the same key');
        if (tags.length > 50) throw s3Error('InvalidTag', 400, 'Object tags cannot be greater than 50');
        b.Tags = tags.map((t) => ({ Key: t.Key, Value: t.Value }));
        return {};
      },
      GetBucketTagging: (input: s3.GetBucketTaggingCommandInput, ctx: CallContext) => {
        const b = bucket(input.Bucket, ctx);
        if (!b.Tags) throw s3Error('NoSuchTagSet', 404, 'The TagSet does not exist', { BucketName: b.Name });
        return { TagSet: b.Tags.map((t) => ({ ...t })) };
      },
      PutObject: (input: s3.PutObjectCommandInput, ctx: CallContext) => {
        const b = bucket(input.Bucket, ctx);
        const key = input.Key ?? '';
        if (Buffer.byteLength(key) > 1024) throw s3Error('KeyTooLongError', 400, 'Your key is too long');
        const body = Buffer.from(input.Body as string | Uint8Array);
        if (input.ContentLength !== undefined && input.ContentLength !== body.length) {
          throw s3Error('IncompleteBody', 400, 'You did not provide the number of bytes specified by the Content-Length HTTP header');
        }
        const md5 = createHash('md5').update(body);
        if (input.ContentMD5 !== undefined && input.ContentMD5 !== md5.copy().digest('base64')) throw s3Error('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.');
        const sent = CHECKSUMS.filter((a) => input[`Checksum${a}`] !== undefined);
        if (sent.length > 1) throw s3Error('InvalidRequest', 400, 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
        const declared = input.ChecksumAlgorithm as ChecksumAlgorithm | undefined;
        if (declared && sent.length === 1 && sent[0] !== declared) {
          throw s3Error('InvalidRequest', 400, `Value for x-amz-sdk-checksum-algorithm header is invalid.`);
        }
        // Without a value the SDK computes the declared algorithm's checksum (in mock mode nothing has): compute it here.
        const algorithm = sent[0] ?? declared ?? 'CRC64NVME';
        const value = checksum(algorithm, body);
        if (sent[0] && input[`Checksum${sent[0]}`] !== value) throw s3Error('BadDigest', 400, `The ${algorithm} you specified did not match the calculated checksum.`);
        const existing = b.Objects.get(key);
        if (input.IfNoneMatch === '*' && existing) throw s3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-None-Match' });
        if (input.IfMatch !== undefined) {
          if (!existing) throw s3Error('NoSuchKey', 404, 'The specified key does not exist.', { Key: key });
          if (input.IfMatch !== existing.ETag && input.IfMatch !== '*')
            throw s3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' });
        }
        const now = new Date();
        now.setUTCMilliseconds(0);
        const o: FakeObject = {
          Key: key,
          Body: body,
          ContentLength: body.length,
          ETag: `"${md5.digest('hex')}"`,
          LastModified: now,
          ContentType: input.ContentType ?? 'binary/octet-stream',
          Metadata: Object.fromEntries(Object.entries(input.Metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
          Checksum: { algorithm, value },
        };
        b.Objects.set(key, o);
        return { ETag: o.ETag, [`Checksum${algorithm}`]: value, ChecksumType: 'FULL_OBJECT', ServerSideEncryption: 'AES256', Size: o.ContentLength };
      },
      HeadObject: (input: s3.HeadObjectCommandInput, ctx: CallContext) => {
        try {
          return describe(object(bucket(input.Bucket, ctx), input.Key), input.ChecksumMode);
        } catch (e) {
          throw head(e as Error);
        }
      },
      GetObject: (input: s3.GetObjectCommandInput, ctx: CallContext) => {
        const o = object(bucket(input.Bucket, ctx), input.Key);
        if (input.Range !== undefined || input.PartNumber !== undefined) throw s3Error('NotImplemented', 501, 'fake: ranged GetObject is not implemented');
        return { ...describe(o, input.ChecksumMode), Body: sdkStreamMixin(Readable.from([Buffer.from(o.Body)])) };
      },
      ListObjectsV2: (input: s3.ListObjectsV2CommandInput, ctx: CallContext) => {
        const b = bucket(input.Bucket, ctx);
        if (input.EncodingType !== undefined) throw s3Error('NotImplemented', 501, 'fake: EncodingType is not implemented');
        const max = input.MaxKeys ?? 1000;
        if (max < 0) throw s3Error('InvalidArgument', 400, 'Provided max-keys not an integer or within integer range');
        const prefix = input.Prefix ?? '';
        let from = { after: input.StartAfter ?? '', isPrefix: false };
        if (input.ContinuationToken !== undefined) {
          try {
            from = JSON.parse(Buffer.from(input.ContinuationToken, 'base64').toString()) as typeof from;
            if (typeof from.after !== 'string') throw new Error();
          } catch {
            throw s3Error('InvalidArgument', 400, 'The continuation token provided is incorrect');
          }
        }
        const keys = [...b.Objects.keys()].filter((k) => k.startsWith(prefix) && bytewise(k, from.after) > 0 && !(from.isPrefix && k.startsWith(from.after))).sort(bytewise);
        const contents: FakeObject[] = [];
        const prefixes: string[] = [];
        let last = from;
        let truncated = false;
        for (const k of keys) {
          const cut = input.Delimiter ? k.indexOf(input.Delimiter, prefix.length) : -1;
          const common = cut >= 0 ? k.slice(0, cut + input.Delimiter!.length) : undefined;
          if (common !== undefined && prefixes.at(-1) === common) continue;
          if (contents.length + prefixes.length >= max) {
            truncated = max > 0;
            break;
          }
          if (common !== undefined) prefixes.push(common);
          else contents.push(b.Objects.get(k)!);
          last = { after: common ?? k, isPrefix: common !== undefined };
        }
        return defined({
          Name: b.Name,
          Prefix: prefix,
          Delimiter: input.Delimiter,
          MaxKeys: max,
          KeyCount: contents.length + prefixes.length,
          IsTruncated: truncated,
          Contents: contents.length
            ? contents.map((o) => ({
                Key: o.Key,
                LastModified: o.LastModified,
                ETag: o.ETag,
                ChecksumAlgorithm: [o.Checksum.algorithm],
                ChecksumType: 'FULL_OBJECT',
                Size: o.ContentLength,
                StorageClass: 'STANDARD',
              }))
            : undefined,
          CommonPrefixes: prefixes.length ? prefixes.map((Prefix) => ({ Prefix })) : undefined,
          ContinuationToken: input.ContinuationToken,
          NextContinuationToken: truncated ? listToken(last.after, last.isPrefix) : undefined,
          StartAfter: input.StartAfter,
        });
      },
      DeleteObjects: (input: s3.DeleteObjectsCommandInput, ctx: CallContext) => {
        const b = bucket(input.Bucket, ctx);
        const objects = input.Delete?.Objects ?? [];
        if (objects.length === 0 || objects.length > 1000) throw malformed();
        // S3 reports a key as deleted whether or not it was there.
        for (const o of objects) b.Objects.delete(o.Key ?? '');
        return input.Delete?.Quiet ? {} : { Deleted: objects.map((o) => ({ Key: o.Key })) };
      },
      DeleteObject: (input: s3.DeleteObjectCommandInput, ctx: CallContext) => {
        bucket(input.Bucket, ctx).Objects.delete(input.Key ?? '');
        return {};
      },
    };
  }
}

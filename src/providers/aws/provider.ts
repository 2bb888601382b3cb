import { randomUUID } from 'node:crypto';
import type { Instance as Ec2Instance, RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import pRetry from 'p-retry';
import { DynworkError } from '../../errors.js';
import { managerConfigHash } from '../../settings/manager-configs.js';
import type { HourlyCost, Instance, InstanceState, LaunchSpec, ListFilter, Provider, Role } from '../types.js';
import type { AwsClients } from './clients.js';
import { bootFailure as bootFailureIn, consoleOutput } from './boot-log.js';
import { AwsCallError, isAwsError } from './errors.js';
import { launchableType } from './sdk.js';
import type { AwsClusterSettings } from '../../settings/aws.js';
import { clusterFilters, clusterTags, resourceNames, TAG, tagSpec, tagValue } from './tags.js';
import { renderUserData } from './userdata.js';

export interface AwsProviderOptions {
  clients: AwsClients;
  /** Where and how to launch; without it the provider can only list and terminate (status, teardown). */
  settings?: AwsClusterSettings;
  /**
   * Retries of a launch refused because a just-created instance profile is not
   * visible to EC2 yet (IAM is eventually consistent). @default 10
   */
  profileRetries?: number;
  /** @default 3000 */
  profileRetryMs?: number;
  /** How long `terminate` waits for its machines to be terminated. @default 600 */
  terminateWaitS?: number;
  /** First pause between its checks, growing to 30 s. @default 5 */
  terminatePollS?: number;
}

const LIVE = ['pending', 'running'];
const ALL = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];

/**
 * EC2 machines for one cluster. Every instance is tagged with the cluster,
 * role and (managers) index; tokens never travel in user-data: the config
 * names credential files that the boot script fills from SSM.
 */
export function createAwsProvider(opts: AwsProviderOptions): Provider {
  const { clients } = opts;

  async function launch(role: Role, spec: LaunchSpec): Promise<Instance[]> {
    const s = opts.settings;
    if (!s) throw new DynworkError('internal', 'this aws provider has no launch settings');
    const count = spec.count ?? 1;
    const config = withoutSecrets(spec.config, role);
    const tags = clusterTags(spec.cluster, role, role === 'manager' ? spec.index : undefined);
    let dataVolumeId: string | undefined;
    let address: string | undefined;
    let addressAllocationId: string | undefined;
    if (role === 'manager') {
      if (spec.index === undefined) throw new DynworkError('internal', 'a manager launch needs its index');
      await clearStoppedManager(spec.cluster, spec.index);
      const [volume, allocation] = await Promise.all([dataVolume(spec.cluster, spec.index), publicAddress(spec.cluster, spec.index)]);
      dataVolumeId = volume.id;
      address = volume.address;
      addressAllocationId = allocation;
      tags.push({ Key: TAG.config, Value: managerConfigHash(spec.config) });
    }
    const part = role === 'manager' ? s.manager : s.worker;
    const userData = renderUserData({
      role,
      region: s.region,
      artifactUrl: s.artifact.url,
      artifactSha256: s.artifact.sha256,
      version: s.version,
      tokenParameters:
        role === 'manager'
          ? {
              'client-token': s.clientTokenParameter,
              'worker-token': s.workerTokenParameter,
              // The manager's identity: its config names these credentials (tls.caFile, certFile, keyFile).
              ...(spec.config.tls ? tlsParameters(spec.cluster, s.region, spec.index!) : {}),
            }
          : { 'worker-token': s.workerTokenParameter },
      ...(dataVolumeId ? { dataVolumeId } : {}),
      ...(addressAllocationId ? { addressAllocationId } : {}),
      config,
    });
    const input: RunInstancesCommandInput = {
      ImageId: part.imageId,
      InstanceType: launchableType(part.instanceType),
      MinCount: 1,
      MaxCount: count,
      // Same token on the SDK's own retries: one launch never starts twice.
      ClientToken: randomUUID(),
      NetworkInterfaces: [
        {
          DeviceIndex: 0,
          SubnetId: s.subnetId,
          Groups: [s.securityGroupId],
          AssociatePublicIpAddress: true,
          DeleteOnTermination: true,
          ...(address ? { PrivateIpAddress: address } : {}),
        },
      ],
      IamInstanceProfile: { Name: part.profileName },
      // Amazon Linux 2023's root device; the manager policy launches only encrypted volumes.
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, DeleteOnTermination: true, VolumeType: 'gp3' } }],
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
      UserData: Buffer.from(userData).toString('base64'),
      // The manager policy lets RunInstances create only tagged instances, volumes and network interfaces.
      TagSpecifications: [tagSpec('instance', tags), tagSpec('volume', tags), tagSpec('network-interface', tags)],
      ...(s.keyName ? { KeyName: s.keyName } : {}),
      ...(role === 'worker'
        ? {
            InstanceInitiatedShutdownBehavior: 'terminate' as const,
            ...(s.worker.spot
              ? { InstanceMarketOptions: { MarketType: 'spot' as const, SpotOptions: { SpotInstanceType: 'one-time' as const, InstanceInterruptionBehavior: 'terminate' as const } } }
              : {}),
          }
        : { InstanceInitiatedShutdownBehavior: 'stop' as const, MaintenanceOptions: { AutoRecovery: 'default' as const } }),
    };
    const out = await runWithProfileRetry(input);
    return (out.Instances ?? []).map(toInstance);
  }

  /** A fresh instance profile is refused for a few seconds (IAM is eventually consistent); nothing else is retried here, the SDK already retried throttling. */
  function runWithProfileRetry(input: RunInstancesCommandInput) {
    return pRetry(() => clients.ec2.runInstances(input), {
      retries: opts.profileRetries ?? 10,
      minTimeout: opts.profileRetryMs ?? 3000,
      factor: 1.3,
      shouldRetry: ({ error }) => error instanceof AwsCallError && error.code === 'InvalidParameterValue' && /iamInstanceProfile|instance profile/i.test(error.awsMessage),
    });
  }

  /**
   * A stopped (or stopping) predecessor still holds the manager's address and
   * volume: it goes first, or the replacement could never take them.
   */
  async function clearStoppedManager(cluster: string, index: number): Promise<void> {
    const old = (await list({ cluster, role: 'manager', includeStopped: true })).filter((i) => i.index === index && i.state !== 'running' && i.state !== 'pending');
    if (old.length === 0) return;
    await terminate(old.map((i) => i.id));
  }

  async function dataVolume(cluster: string, index: number): Promise<{ id: string; address: string }> {
    const out = await clients.ec2.describeVolumes({ Filters: [...clusterFilters(cluster, 'manager-data'), { Name: `tag:${TAG.index}`, Values: [String(index)] }] });
    const v = out.Volumes?.[0];
    const address = tagValue(v?.Tags, TAG.address);
    if (!v?.VolumeId || !address) {
      throw new DynworkError('provider_error', `manager ${index} of cluster "${cluster}" has no data volume`, { hint: `run dynwork deploy --provider aws --cluster ${cluster} to recreate it` });
    }
    return { id: v.VolumeId, address };
  }

  /** The manager's Elastic IP (allocation id), which its machine takes at boot; none for clusters deployed before there were any. */
  async function publicAddress(cluster: string, index: number): Promise<string | undefined> {
    const out = await clients.ec2.describeAddresses({ Filters: [...clusterFilters(cluster, 'manager-address'), { Name: `tag:${TAG.index}`, Values: [String(index)] }] });
    return out.Addresses?.[0]?.AllocationId;
  }

  async function list(filter: ListFilter): Promise<Instance[]> {
    const filters = [...clusterFilters(filter.cluster, filter.role), { Name: 'instance-state-name', Values: filter.includeStopped ? ALL : LIVE }];
    const found: Instance[] = [];
    let token: string | undefined;
    do {
      const page = await clients.ec2.describeInstances({ Filters: filters, ...(token ? { NextToken: token } : {}) });
      for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) found.push(toInstance(i));
      token = page.NextToken;
    } while (token);
    return found.filter((i) => i.role === 'manager' || i.role === 'worker').sort((a, b) => a.id.localeCompare(b.id));
  }

  /** EC2 accepts a termination long before the machine is gone (shutting-down holds its address, volume and cost): wait for terminated. */
  async function terminate(ids: string[]): Promise<void> {
    const going = await requestTermination(ids);
    if (going.length === 0) return;
    const maxWaitS = opts.terminateWaitS ?? 600;
    const minDelay = Math.min(opts.terminatePollS ?? 5, maxWaitS / 2);
    try {
      await clients.ec2.waitUntilInstanceTerminated({ InstanceIds: going }, { maxWaitTime: maxWaitS, minDelay, maxDelay: Math.max(minDelay, 30) });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new DynworkError(timedOut ? 'timeout' : 'provider_error', `instance(s) ${going.join(', ')} ${timedOut ? `not terminated within ${maxWaitS} s` : 'did not terminate'}`, { cause: err });
    }
  }

  /** The ids EC2 accepted; ids already gone are skipped. */
  async function requestTermination(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    try {
      await clients.ec2.terminateInstances({ InstanceIds: ids });
      return ids;
    } catch (err) {
      if (!isAwsError(err, 'InvalidInstanceID.NotFound')) throw err;
      // One unknown id fails the whole call: the others go one by one.
      const accepted: string[] = [];
      if (ids.length > 1) for (const id of ids) accepted.push(...(await requestTermination([id])));
      return accepted;
    }
  }

  async function hourlyCost(instances: Instance[]): Promise<HourlyCost> {
    const { hourlyCost: price } = await import('./pricing.js');
    return price(clients, instances);
  }

  async function bootFailure(instanceId: string): Promise<string | null> {
    return bootFailureIn(await consoleOutput(clients, instanceId));
  }

  return { name: 'aws', launch, list, terminate, hourlyCost, bootFailure };
}

/**
 * The config a machine gets: tokens replaced by the names of the credentials
 * systemd hands the service, and a manager's CA too (it is public, but its
 * PEM would crowd EC2's 16 KiB of user-data; the certificate and key are
 * named by credential already).
 */
export function withoutSecrets(config: Record<string, unknown>, role: Role): Record<string, unknown> {
  const { clientToken: _c, workerToken: _w, instanceId: _i, ...rest } = config;
  if (role !== 'manager') return { ...rest, workerTokenFile: 'worker-token' };
  const tls = rest.tls as Record<string, unknown> | undefined;
  const { ca: _ca, ...tlsRest } = tls ?? {};
  return { ...rest, ...(tls ? { tls: { ...tlsRest, caFile: 'cluster-ca' } } : {}), clientTokenFile: 'client-token', workerTokenFile: 'worker-token' };
}

/** Where a manager's boot script reads its identity: credential name → SSM parameter. */
function tlsParameters(cluster: string, region: string, index: number): Record<string, string> {
  const names = resourceNames(cluster, region);
  return { 'cluster-ca': names.caParameter, 'manager-cert': names.managerCertParameter(index), 'manager-key': names.managerKeyParameter(index) };
}

const STATE: Record<string, InstanceState> = { pending: 'pending', running: 'running', 'shutting-down': 'stopping', stopping: 'stopping', stopped: 'stopped' };

function toInstance(i: Ec2Instance): Instance {
  const role = tagValue(i.Tags, TAG.role) as Role;
  const index = tagValue(i.Tags, TAG.index);
  return {
    id: i.InstanceId ?? '',
    cluster: tagValue(i.Tags, TAG.cluster) ?? '',
    role,
    ...(index !== undefined && role === 'manager' ? { index: Number(index) } : {}),
    state: STATE[i.State?.Name ?? ''] ?? 'stopped',
    launchedAt: (i.LaunchTime ?? new Date()).toISOString(),
    ...(i.PrivateIpAddress ? { address: i.PrivateIpAddress } : {}),
    ...(i.PublicIpAddress ? { publicAddress: i.PublicIpAddress } : {}),
    ...(tagValue(i.Tags, TAG.config) ? { configHash: tagValue(i.Tags, TAG.config)! } : {}),
    ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
    spot: i.InstanceLifecycle === 'spot',
    ...(i.Placement?.AvailabilityZone ? { zone: i.Placement.AvailabilityZone } : {}),
  };
}

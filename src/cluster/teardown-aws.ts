import pRetry from 'p-retry';
import { artifactBucketName, removeClusterArtifacts } from '../providers/aws/artifacts.js';
import type { AwsClients } from '../providers/aws/clients.js';
import { IAM_NOT_FOUND, ifExists, isAwsError, toDynworkError } from '../providers/aws/errors.js';
import { createAwsProvider } from '../providers/aws/provider.js';
import { clusterFilters, resourceNames } from '../providers/aws/tags.js';
import { readClusterState, removeClusterState } from '../state/cluster-state.js';
import { withClusterLock } from './cluster-lock.js';
import { withStep, type Progress } from './progress.js';

export interface AwsTeardownOptions {
  cluster: string;
  /** Keep the managers' data volumes (their queues) for the next deploy. */
  keepData?: boolean;
  /** List what would go, delete nothing. */
  dryRun?: boolean;
}

export interface AwsTeardownResult {
  cluster: string;
  region: string;
  /** What was (or, with dryRun, would be) deleted, in order. */
  removed: { kind: string; id: string }[];
  kept: { kind: string; id: string }[];
  dryRun: boolean;
  nothingToDo: boolean;
}

export interface AwsTeardownDeps {
  clients: AwsClients;
  /** Pause between retries of a delete EC2 refuses while instances are still going. @default 5000 */
  pollMs?: number;
  /** How long those retries go on. @default 600000 */
  retryForMs?: number;
}

/**
 * Removes everything a cluster made in one region, found by tag and by its
 * deterministic names, so it works without the state file. Instances go
 * first (managers, so no leader launches more, then workers), then what they
 * depended on. Anything already gone is skipped; a second run finds nothing.
 */
export async function teardownAws(opts: AwsTeardownOptions, deps: AwsTeardownDeps, progress: Progress): Promise<AwsTeardownResult> {
  try {
    return await withClusterLock(opts.cluster, 'teardown', progress, () => run(opts, deps, progress));
  } catch (err) {
    throw toDynworkError(err);
  }
}

async function run(opts: AwsTeardownOptions, deps: AwsTeardownDeps, progress: Progress): Promise<AwsTeardownResult> {
  const { clients } = deps;
  const { ec2, iam, ssm } = clients;
  const pollMs = deps.pollMs ?? 5000;
  const region = await clients.region();
  const names = resourceNames(opts.cluster, region);
  const removed: AwsTeardownResult['removed'] = [];
  const kept: AwsTeardownResult['kept'] = [];
  const dry = opts.dryRun ?? false;
  const provider = createAwsProvider({ clients });

  for (let round = 0; round < 3; round++) {
    const found = await provider.list({ cluster: opts.cluster, includeStopped: true });
    const managers = found.filter((i) => i.role === 'manager');
    const workers = found.filter((i) => i.role === 'worker');
    const going = [...managers, ...workers].filter((i) => !removed.some((r) => r.id === i.id));
    if (going.length === 0) break;
    for (const i of going) removed.push({ kind: `${i.role} instance`, id: i.id });
    if (dry) break;
    await withStep(progress, `Terminating ${managers.length} manager(s) and ${workers.length} worker(s)`, async (step) => {
      await provider.terminate(managers.map((i) => i.id));
      await provider.terminate(workers.map((i) => i.id));
      step.update(`Waiting for ${going.length} instance(s) to terminate`);
      await ec2.waitUntilInstanceTerminated({ InstanceIds: going.map((i) => i.id) }, { maxWaitTime: 900, minDelay: Math.max(1, pollMs / 1000) });
    });
  }

  const groups = await ec2.describeSecurityGroups({ Filters: clusterFilters(opts.cluster) });
  for (const g of groups.SecurityGroups ?? []) {
    removed.push({ kind: 'security group', id: g.GroupId! });
    if (dry) continue;
    // Network interfaces of terminated instances linger a little: EC2 says DependencyViolation until they go.
    await withStep(progress, `Deleting security group ${g.GroupId}`, () =>
      retryWhile(['DependencyViolation'], deps, () => ec2.deleteSecurityGroup({ GroupId: g.GroupId! }), ['InvalidGroup.NotFound']),
    );
  }

  const keys = await ec2.describeKeyPairs({ Filters: clusterFilters(opts.cluster) });
  for (const k of keys.KeyPairs ?? []) {
    removed.push({ kind: 'key pair', id: k.KeyName ?? k.KeyPairId! });
    if (!dry) await withStep(progress, `Deleting key pair ${k.KeyName}`, () => ec2.deleteKeyPair({ KeyPairId: k.KeyPairId! }));
  }

  // Released even with --keep-data: an unused address is billed, and the next deploy allocates fresh ones.
  const addresses = await ec2.describeAddresses({ Filters: clusterFilters(opts.cluster, 'manager-address') });
  for (const a of addresses.Addresses ?? []) {
    removed.push({ kind: 'Elastic IP', id: a.PublicIp ?? a.AllocationId! });
    if (!dry) {
      await withStep(progress, `Releasing Elastic IP ${a.PublicIp}`, () =>
        retryWhile(['InvalidIPAddress.InUse'], deps, () => ec2.releaseAddress({ AllocationId: a.AllocationId! }), ['InvalidAllocationID.NotFound']),
      );
    }
  }

  const volumes = await ec2.describeVolumes({ Filters: clusterFilters(opts.cluster, 'manager-data') });
  for (const v of volumes.Volumes ?? []) {
    if (opts.keepData) {
      kept.push({ kind: 'data volume', id: v.VolumeId! });
      continue;
    }
    removed.push({ kind: 'data volume', id: v.VolumeId! });
    if (!dry) {
      await withStep(progress, `Deleting data volume ${v.VolumeId}`, () =>
        retryWhile(['VolumeInUse', 'IncorrectState'], deps, () => ec2.deleteVolume({ VolumeId: v.VolumeId! }), ['InvalidVolume.NotFound']),
      );
    }
  }

  // The tokens, the CA and every manager's certificate and key (a cluster has at most 9 managers); SSM takes 10 names a call.
  const managerIndexes = Array.from({ length: 9 }, (_, i) => i + 1);
  const wanted = [names.clientTokenParameter, names.workerTokenParameter, names.caParameter, ...managerIndexes.flatMap((i) => [names.managerKeyParameter(i), names.managerCertParameter(i)])];
  const paramNames: string[] = [];
  for (let i = 0; i < wanted.length; i += 10) {
    const params = await ssm.getParameters({ Names: wanted.slice(i, i + 10) });
    paramNames.push(...(params.Parameters ?? []).map((p) => p.Name!).filter(Boolean));
  }
  for (const p of paramNames) removed.push({ kind: 'parameter', id: p });
  if (!dry && paramNames.length > 0) {
    await withStep(progress, 'Deleting the cluster tokens, CA and manager certificates', async () => {
      for (let i = 0; i < paramNames.length; i += 10) await ssm.deleteParameters({ Names: paramNames.slice(i, i + 10) });
    });
  }

  for (const roleName of [names.managerRole, names.workerRole]) {
    const profile = (await ifExists(IAM_NOT_FOUND, () => iam.getInstanceProfile({ InstanceProfileName: roleName })))?.InstanceProfile;
    const roleExists = (await ifExists(IAM_NOT_FOUND, () => iam.getRole({ RoleName: roleName }))) !== undefined;
    if (profile) removed.push({ kind: 'instance profile', id: roleName });
    if (roleExists) removed.push({ kind: 'role', id: roleName });
    if (dry || (!profile && !roleExists)) continue;
    await withStep(progress, `Deleting IAM role ${roleName}`, async () => {
      // IAM is eventually consistent: a role just taken out of its profile may still count as in use for a moment.
      const settle = (fn: () => Promise<unknown>) => retryWhile(['DeleteConflictException', 'DeleteConflict'], deps, fn, IAM_NOT_FOUND);
      if (profile) {
        for (const r of profile.Roles ?? []) await settle(() => iam.removeRoleFromInstanceProfile({ InstanceProfileName: roleName, RoleName: r.RoleName! }));
        await settle(() => iam.deleteInstanceProfile({ InstanceProfileName: roleName }));
      }
      if (roleExists) {
        const policies = await iam.listRolePolicies({ RoleName: roleName });
        for (const p of policies.PolicyNames ?? []) await settle(() => iam.deleteRolePolicy({ RoleName: roleName, PolicyName: p }));
        await settle(() => iam.deleteRole({ RoleName: roleName }));
      }
    });
  }

  // The cluster's builds; the account's bucket too once no other cluster keeps one there.
  const identity = await clients.sts.getCallerIdentity({});
  const bucket = artifactBucketName(identity.Account ?? '', region);
  const s3 = await (dry
    ? removeClusterArtifacts(clients, bucket, opts.cluster, true)
    : withStep(progress, `Deleting the cluster's builds in s3://${bucket}`, () => removeClusterArtifacts(clients, bucket, opts.cluster, false)));
  for (const o of s3.objects) removed.push({ kind: 'S3 object', id: o });
  if (s3.bucket) removed.push({ kind: 'S3 bucket', id: s3.bucket });

  const hadState = readClusterState(opts.cluster) !== null;
  if (!dry) removeClusterState(opts.cluster, { keepData: false });
  return { cluster: opts.cluster, region, removed, kept, dryRun: dry, nothingToDo: removed.length === 0 && !hadState };
}

/** Retries `fn` with backoff while EC2 answers one of `busy` (bounded by retryForMs); `gone` means already done. */
async function retryWhile(busy: string[], deps: AwsTeardownDeps, fn: () => Promise<unknown>, gone: string[]): Promise<void> {
  const pollMs = deps.pollMs ?? 5000;
  await pRetry(
    async () => {
      try {
        await fn();
      } catch (err) {
        if (!isAwsError(err, ...gone)) throw err;
      }
    },
    { retries: 1000, minTimeout: pollMs, maxTimeout: 4 * pollMs, factor: 1.5, maxRetryTime: deps.retryForMs ?? 600_000, shouldRetry: ({ error }) => isAwsError(error, ...busy) },
  );
}

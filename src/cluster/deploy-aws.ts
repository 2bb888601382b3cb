import { join } from 'node:path';
import { ManagerClient } from '../client/manager-client.js';
import { DynworkError } from '../errors.js';
import type { AwsClients } from '../providers/aws/clients.js';
import { launchableType } from '../providers/aws/sdk.js';
import { ifExists, toDynworkError } from '../providers/aws/errors.js';
import { bootFailure, consoleOutput } from '../providers/aws/boot-log.js';
import { artifactBucketName, artifactKey, ensureArtifactBucket, uploadArtifact } from '../providers/aws/artifacts.js';
import { managerPolicy, workerPolicy } from '../providers/aws/iam-policies.js';
import { createAwsProvider } from '../providers/aws/provider.js';
import type { AwsClusterSettings } from '../settings/aws.js';
import { autoscaleSettingsFor, type MemberSpec } from '../settings/autoscale.js';
import type { ManagerConfigInput } from '../settings/manager.js';
import { managerConfigChanged, managerConfigFor, managerConfigHash } from '../settings/manager-configs.js';
import { clusterTags, resourceNames, tagSpec } from '../providers/aws/tags.js';
import { withClusterLock } from './cluster-lock.js';
import { clusterDir, ensureClusterDir, readClusterState, writeClusterState, writePrivateFile } from '../state/cluster-state.js';
import { VERSION } from '../version.js';
import { resolveAwsSettings, type AwsDeployOptions } from './aws-settings.js';
import { withStep, type Progress } from './progress.js';
import { fetchPackageSpec, packArtifact, type Artifact } from './artifact.js';
import { discoverPublicIp } from './public-ip.js';
import { ensureAddresses, ensureRole, ensureSecurityGroup, ensureToken, ensureVolumes, findSubnet } from './aws-resources.js';
import { awsManagerTls } from './aws-certificates.js';
import { managerIdentity, type ManagerPin } from '../protocol/tls-identity.js';

export type { AwsDeployOptions };

export interface AwsDeployDeps {
  clients: AwsClients;
  /** The deployer's public IPv4, for the default --allow-cidr. */
  publicIp?: () => Promise<string>;
  /** Does a manager answer (as the manager `pin` names)? @default GET /healthz over HTTPS, pinned */
  healthy?: (url: string, clientToken: string, pin: ManagerPin) => Promise<boolean>;
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

const AMI_PARAMETER = (arch: string) => `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${arch}`;

/**
 * Converges an EC2 cluster on `opts`. Every step finds what exists (by name
 * or tag) before it creates anything, so a re-run completes a deploy that
 * failed half way and a second run creates nothing.
 */
export async function deployAws(opts: AwsDeployOptions, deps: AwsDeployDeps, progress: Progress): Promise<AwsDeployResult> {
  try {
    return await withClusterLock(opts.cluster, 'deploy', progress, () => converge(opts, deps, progress));
  } catch (err) {
    throw toDynworkError(err, {});
  }
}

async function converge(opts: AwsDeployOptions, deps: AwsDeployDeps, progress: Progress): Promise<AwsDeployResult> {
  const { clients } = deps;
  const { ec2, ssm, sts } = clients;
  const pollMs = deps.pollMs ?? 5000;
  const previous = readClusterState(opts.cluster);
  if (previous && previous.provider !== 'aws') {
    throw new DynworkError('usage', `cluster "${opts.cluster}" runs on ${previous.provider}, not aws`, {
      hint: `tear it down first (dynwork teardown --cluster ${opts.cluster}) or pick another --cluster`,
    });
  }
  const s = resolveAwsSettings(opts, previous?.provider === 'aws' ? previous.settings : undefined);
  const created: string[] = [];

  const region = await clients.region();
  const identity = await withStep(
    progress,
    `Checking AWS account (${region})`,
    () => sts.getCallerIdentity({}),
    (id) => `AWS account ${id.Account} as ${id.Arn} in ${region}`,
  );
  const account = identity.Account ?? '';
  const partition = identity.Arn?.split(':')[1] ?? 'aws';
  const names = resourceNames(opts.cluster, region);

  const subnet = await withStep(
    progress,
    'Finding the subnet',
    () => findSubnet(clients, s.subnet, region),
    (sn) => `Subnet ${sn.SubnetId} (${sn.AvailabilityZone}, ${sn.VpcId})`,
  );
  const subnetId = subnet.SubnetId!;
  const vpcId = subnet.VpcId!;

  const types = await withStep(progress, 'Looking up instance types and the Amazon Linux 2023 AMI', async () => {
    const wanted = [...new Set([s.instanceType, s.workerInstanceType])];
    const out = await ec2.describeInstanceTypes({ InstanceTypes: wanted.map(launchableType) });
    const info = new Map<string, { arch: string; vcpus: number; imageId: string }>();
    const amis = new Map<string, string>();
    for (const t of wanted) {
      const found = out.InstanceTypes?.find((x) => x.InstanceType === t);
      if (!found) throw new DynworkError('usage', `instance type ${t} is not offered in ${region}`, { hint: `see aws ec2 describe-instance-type-offerings --region ${region}` });
      const archs = found.ProcessorInfo?.SupportedArchitectures ?? [];
      const arch = archs.includes('x86_64') ? 'x86_64' : archs.includes('arm64') ? 'arm64' : '';
      if (!arch) throw new DynworkError('usage', `instance type ${t} has no architecture Amazon Linux 2023 supports`, { hint: 'pick an x86_64 or arm64 type' });
      if (!amis.has(arch)) {
        const p = await ssm.getParameter({ Name: AMI_PARAMETER(arch) });
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
    if (await ifExists(['InvalidKeyPair.NotFound'], () => ec2.describeKeyPairs({ KeyNames: [names.keyPair] }))) return names.keyPair;
    const key = await ec2.createKeyPair({ KeyName: names.keyPair, KeyType: 'ed25519', KeyFormat: 'pem', TagSpecifications: [tagSpec('key-pair', clusterTags(opts.cluster, 'key-pair'))] });
    writePrivateFile(join(clusterDir(opts.cluster), 'ssh-key.pem'), key.KeyMaterial ?? '');
    created.push(`key pair ${names.keyPair}`);
    return names.keyPair;
  });

  const allowCidr = s.allowCidr ?? [
    await withStep(
      progress,
      'Finding your public IP address',
      async () => `${await (deps.publicIp ?? discoverPublicIp)()}/32`,
      (c) => `API open to ${c} (--allow-cidr to change)`,
    ),
  ];
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
    () =>
      ensureAddresses(
        clients,
        opts.cluster,
        members.map((m) => m.index),
        created,
      ),
    (ips) => `Elastic IPs ${[...ips.values()].join(', ')} (a replaced manager keeps its own)`,
  );
  const ca = await withStep(progress, 'Cluster CA and manager certificates (in SSM; keys as SecureString)', () => awsManagerTls(clients, opts.cluster, members, publicIps, names, created));
  const pinOf = (index: number): ManagerPin => ({ ca: ca.certPem, identity: managerIdentity(opts.cluster, index) });

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
  const autoscale = autoscaleSettingsFor({
    provider: 'aws',
    aws,
    members,
    maxWorkers: s.maxWorkers,
    scaleUpAfterS: s.scaleUpAfterS,
    idleTimeoutS: s.idleTimeoutS,
    workerThreads: workerType.vcpus,
  });
  const base = { cluster: opts.cluster, ...tokens, tls: { ca: ca.certPem }, autoscale };
  const provider = createAwsProvider({ clients, settings: aws, profileRetryMs: pollMs, terminatePollS: Math.max(1, pollMs / 1000) });

  const running = await provider.list({ cluster: opts.cluster, role: 'manager' });
  const out: AwsDeployResult['managers'] = [];
  const hashes = new Map<number, string>();
  const replacements: { m: MemberSpec; config: ManagerConfigInput; current: { id: string } }[] = [];
  const urlOf = (index: number) => `https://${publicIps.get(index)!}:${s.port}`;
  const healthy = deps.healthy ?? probeHealth;
  const bootLog = deps.bootLog ?? ((id: string) => consoleOutput(clients, id));

  /** Until the manager answers (each gets --wait, a rolling replace waits for several in turn); a boot that failed (its console says so) ends the wait at once. */
  const answered = async (o: AwsDeployResult['managers'][number]): Promise<void> => {
    const deadline = Date.now() + s.waitS * 1000;
    for (let probe = 1; ; probe++) {
      if (await healthy(o.url, tokens.clientToken, pinOf(o.index))) break;
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
  const waitRunning = (ids: string[]) => ec2.waitUntilInstanceRunning({ InstanceIds: ids }, { maxWaitTime: 600, minDelay: Math.max(1, pollMs / 1000) });
  const launch = async (m: MemberSpec, config: ManagerConfigInput, action: 'created' | 'replaced') => {
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
      ca: ca.certPem,
      settings: { ...s, region },
      managers: [...out].sort((a, b) => a.index - b.index).map((o) => ({ index: o.index, url: o.url, instanceId: o.instanceId, privateAddress: o.privateAddress, configHash: hashes.get(o.index)! })),
    });

  for (const m of members) {
    const config = managerConfigFor(base, m.index);
    hashes.set(m.index, managerConfigHash(config));
    const current = running.find((i) => i.index === m.index);
    if (current && !managerConfigChanged(current.configHash, config)) {
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
      step.update(`Waiting for the old manager ${m.index} (${current.id}) to terminate`);
      await provider.terminate([current.id]);
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

function defaultPack(packageSpec: string | null): Promise<Artifact> {
  return packageSpec ? fetchPackageSpec(packageSpec) : packArtifact();
}

async function probeHealth(url: string, clientToken: string, pin: ManagerPin): Promise<boolean> {
  const client = new ManagerClient({ endpoint: url, token: clientToken, timeoutMs: 3000, pin });
  try {
    return (await client.healthz()).ok;
  } catch {
    return false;
  } finally {
    await client.close();
  }
}

import { z } from 'zod';
import { awsClusterSettingsSchema, type AwsClusterSettings } from './aws.js';
import { DEPLOY_RANGES } from './bounds.js';
import { policySchema, type AutoscalePolicy } from './policy.js';

/** What every manager of a cluster knows about all of them (to find peers and to relaunch one). */
export const memberSchema = z.object({
  index: z.number().int().min(1).max(999),
  /** Address peers and workers use. */
  host: z.string().min(1),
  /** Address the manager listens on. @default host */
  bindHost: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65535),
  dataDir: z.string().min(1),
  /**
   * Where the manager writes the port it really bound, when its peers and
   * workers share its file system (local); absent on aws.
   */
  endpointFile: z.string().optional(),
  /**
   * Where this manager's certificate and key are (deploy issued them; see
   * certificates.ts). Present once the cluster has a CA: then it serves HTTPS.
   * local: files in its data dir; aws: the certificate itself (public) and the
   * key's credential name (read from SSM at boot).
   */
  tls: z.object({ cert: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().min(1), certSha256: z.string().optional() }).optional(),
});
export type MemberSpec = z.infer<typeof memberSchema>;

const ms = () => z.number().int().positive();

/** The timings that differ by provider: an EC2 machine boots in minutes, a local process in a blink. */
interface ProviderTimings {
  workerThreads: number;
  launchDeadlineMs: number;
  heartbeatTimeoutMs: number;
  managerDeadAfterMs: number;
  workerNoManagerTimeoutMs: number;
}

const LOCAL: ProviderTimings = {
  // Each local worker process is one core.
  workerThreads: 1,
  launchDeadlineMs: 30_000,
  heartbeatTimeoutMs: 30_000,
  managerDeadAfterMs: 10_000,
  workerNoManagerTimeoutMs: 600_000,
};

const AWS: ProviderTimings = {
  workerThreads: 1,
  // A machine boots, installs Node and dynwork, then checks in: minutes, not seconds.
  launchDeadlineMs: 15 * 60_000,
  heartbeatTimeoutMs: 60_000,
  managerDeadAfterMs: 5 * 60_000,
  workerNoManagerTimeoutMs: 15 * 60_000,
};

function scaling(d: ProviderTimings) {
  return {
    members: z.array(memberSchema),
    /** Most workers at once, cluster-wide. */
    maxWorkers: z.number().int().min(DEPLOY_RANGES.maxWorkers.min).max(DEPLOY_RANGES.maxWorkers.max),
    scaleUpAfterMs: ms().default(20_000),
    intervalMs: ms().default(5_000),
    /** Workers exit after this long idle. */
    workerIdleTimeoutMs: ms().default(300_000),
    /** Hash threads per worker. */
    workerThreads: z.number().int().positive().default(d.workerThreads),
    launchDeadlineMs: ms().default(d.launchDeadlineMs),
    heartbeatTimeoutMs: ms().default(d.heartbeatTimeoutMs),
    managerDeadAfterMs: ms().default(d.managerDeadAfterMs),
    workerNoManagerTimeoutMs: ms().default(d.workerNoManagerTimeoutMs),
    /** 0 = never. */
    workerMaxLifetimeMs: z
      .number()
      .int()
      .nonnegative()
      .default(24 * 3600_000),
  };
}

/** Settings the leader's autoscaler and worker launches need; carried in ManagerConfig.autoscale. */
export const autoscaleSettingsSchema = z.discriminatedUnion('provider', [
  z.object({
    provider: z.literal('local'),
    /** The state root the local provider records processes under. */
    root: z.string().min(1).optional(),
    ...scaling(LOCAL),
  }),
  z.object({
    provider: z.literal('aws'),
    /** Where and how machines are launched. */
    aws: awsClusterSettingsSchema,
    ...scaling(AWS),
  }),
]);
export type AutoscaleSettings = z.infer<typeof autoscaleSettingsSchema>;
export type AutoscaleSettingsInput = z.input<typeof autoscaleSettingsSchema>;

/**
 * The autoscaler's timings from the deploy options (seconds, up to three
 * decimals), in the whole milliseconds the runtime's policy requires: a
 * value the CLI accepts is one the leader runs with.
 */
export function scalingTimes(scaleUpAfterS: number, idleTimeoutS: number): Pick<AutoscaleSettings, 'scaleUpAfterMs' | 'intervalMs' | 'workerIdleTimeoutMs'> {
  const scaleUpAfterMs = Math.max(1, Math.round(scaleUpAfterS * 1000));
  return {
    scaleUpAfterMs,
    // Decide about four times per threshold, within 0.5-5 s.
    intervalMs: Math.min(5000, Math.max(500, Math.round(scaleUpAfterMs / 4))),
    workerIdleTimeoutMs: Math.max(1, Math.round(idleTimeoutS * 1000)),
  };
}

/** What a deploy decided, whichever the provider. */
interface ScalingOptions {
  members: MemberSpec[];
  maxWorkers: number;
  scaleUpAfterS: number;
  idleTimeoutS: number;
}

export type AutoscaleDeployOptions = (ScalingOptions & { provider: 'local'; root: string }) | (ScalingOptions & { provider: 'aws'; aws: AwsClusterSettings; workerThreads: number });

/** The one way deploy (local and aws) turns its options into the settings every manager carries. */
export function autoscaleSettingsFor(opts: AutoscaleDeployOptions): AutoscaleSettings {
  const { scaleUpAfterS, idleTimeoutS, ...rest } = opts;
  return autoscaleSettingsSchema.parse({ ...rest, ...scalingTimes(scaleUpAfterS, idleTimeoutS) });
}

/** The autoscaler's policy from the settings deploy wrote into a manager's config. */
export function autoscalePolicy(settings: AutoscaleSettings): AutoscalePolicy {
  return policySchema.parse({
    scaleUpAfterMs: settings.scaleUpAfterMs,
    intervalMs: settings.intervalMs,
    maxWorkers: settings.maxWorkers,
    launchDeadlineMs: settings.launchDeadlineMs,
    heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
    managerDeadAfterMs: settings.managerDeadAfterMs,
    // A relaunched manager boots like a new worker (on AWS a machine, then Node
    // and dynwork), so the launch deadline is its grace too: 15 min on AWS.
    managerBootGraceMs: settings.launchDeadlineMs,
    idleTerminateAfterMs: settings.workerIdleTimeoutMs + 60_000,
    scaleUpCooldownMs: Math.max(2 * settings.intervalMs, Math.min(10_000, settings.scaleUpAfterMs)),
    workerThreads: settings.workerThreads,
  });
}

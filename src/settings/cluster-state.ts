import { z } from 'zod';
import { DEPLOY_RANGES, type Range } from './bounds.js';

const int = (r: Range) => z.number().int().min(r.min).max(r.max);
const seconds = (r: Range) => z.number().min(r.min).max(r.max);

/** The deploy options in force for a local cluster (re-runs start from them). */
export const localDeploySettingsSchema = z.object({
  managers: int(DEPLOY_RANGES.managers),
  maxWorkers: int(DEPLOY_RANGES.maxWorkers),
  scaleUpAfterS: seconds(DEPLOY_RANGES.scaleUpAfterS),
  idleTimeoutS: seconds(DEPLOY_RANGES.idleTimeoutS),
  port: int(DEPLOY_RANGES.port),
});
export type LocalDeploySettings = z.infer<typeof localDeploySettingsSchema>;

/** The deploy options in force for an aws cluster, and the region it is in. */
export const awsDeploySettingsSchema = localDeploySettingsSchema.extend({
  instanceType: z.string().min(1),
  workerInstanceType: z.string().min(1),
  spot: z.boolean(),
  subnet: z.string().nullable(),
  allowCidr: z.array(z.string()).nullable(),
  ssh: z.boolean(),
  packageSpec: z.string().nullable(),
  wait: z.boolean(),
  waitS: seconds(DEPLOY_RANGES.waitS),
  region: z.string().min(1),
});
export type AwsDeploySettings = z.infer<typeof awsDeploySettingsSchema>;

const managerEntry = z.object({
  index: z.number().int().min(1).max(999),
  url: z.string(),
  endpointFile: z.string().optional(),
  dataDir: z.string().optional(),
  pid: z.number().int().nullable().optional(),
  instanceId: z.string().optional(),
  /** aws: the private address peers and workers use. */
  privateAddress: z.string().optional(),
  /** managerConfigHash of the config it was launched with. */
  configHash: z.string().optional(),
});

const common = {
  name: z.string().min(1),
  createdAt: z.string(),
  clientToken: z.string().min(1),
  workerToken: z.string().min(1),
  /**
   * PEM of the cluster's CA (also in ca.pem beside this file): clients trust
   * only it, and only a certificate naming the manager they mean. Absent for
   * clusters deployed before managers had identities (plain HTTP).
   */
  ca: z.string().optional(),
  managers: z.array(managerEntry),
};

/**
 * What `deploy` records and every other command reads. Settings a deploy
 * left out are taken from defaults on the next one, so each may be missing.
 */
export const clusterStateSchema = z.discriminatedUnion('provider', [
  z.object({ provider: z.literal('local'), ...common, settings: localDeploySettingsSchema.partial() }),
  z.object({ provider: z.literal('aws'), ...common, settings: awsDeploySettingsSchema.partial() }),
]);
export type ClusterState = z.infer<typeof clusterStateSchema>;

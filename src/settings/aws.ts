import { z } from 'zod';

const machine = z.object({ instanceType: z.string().min(1), imageId: z.string().min(1), profileName: z.string().min(1) });

/** What an aws cluster's managers need to launch machines; deploy resolves it once and ships it in every manager's config. */
export const awsClusterSettingsSchema = z.object({
  region: z.string().min(1),
  subnetId: z.string().min(1),
  securityGroupId: z.string().min(1),
  /** Key pair for SSH, when the cluster has one. */
  keyName: z.string().optional(),
  /** The build machines run: "s3://bucket/key" and its SHA-256 (the boot script refuses other bytes). */
  artifact: z.object({ url: z.string().min(1), sha256: z.string().min(1) }),
  /** dynwork version that rendered the user-data. */
  version: z.string().min(1),
  clientTokenParameter: z.string().min(1),
  workerTokenParameter: z.string().min(1),
  manager: machine,
  worker: machine.extend({ spot: z.boolean() }),
});
export type AwsClusterSettings = z.infer<typeof awsClusterSettingsSchema>;

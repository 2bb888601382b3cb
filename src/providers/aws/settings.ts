/** What an aws cluster's managers need to launch machines; deploy resolves it once and ships it in every manager's config. */
export interface AwsClusterSettings {
  region: string;
  subnetId: string;
  securityGroupId: string;
  /** Key pair for SSH, when the cluster has one. */
  keyName?: string;
  /** The dynwork build machines run: its tarball's URL (s3:// or https://) and lowercase hex SHA-256. */
  artifact: { url: string; sha256: string };
  /** dynwork version that rendered the user-data. */
  version: string;
  clientTokenParameter: string;
  workerTokenParameter: string;
  manager: { instanceType: string; imageId: string; profileName: string };
  worker: { instanceType: string; imageId: string; profileName: string; spot: boolean };
}

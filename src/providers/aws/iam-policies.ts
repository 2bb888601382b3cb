/**
 * The IAM documents dynwork attaches to its instance roles, as pure functions
 * so tests and docs/aws.md show exactly what is granted. Managers may launch,
 * tag and terminate only instances tagged with their cluster, attach only
 * their cluster's volumes and Elastic IPs, pass only the cluster's two roles,
 * and read only the cluster's token parameters; both may read only their
 * cluster's builds in the artifact bucket, and workers only the worker token.
 */
export interface PolicyScope {
  cluster: string;
  region: string;
  account: string;
  /** "aws", "aws-cn", "aws-us-gov" */
  partition: string;
  managerRoleArn: string;
  workerRoleArn: string;
  subnetId: string;
  securityGroupId: string;
  /** The AMIs deploy resolved: the only images a manager may launch. */
  imageIds: string[];
  /** The instance types the cluster was deployed with: the only ones a manager may launch. */
  instanceTypes: string[];
  /** The account's artifact bucket; the cluster's builds are under clusters/<cluster>/. */
  artifactBucket: string;
}

/** Read access to the cluster's builds, and nothing else in the bucket. */
function readClusterBuilds(s: Pick<PolicyScope, 'cluster' | 'partition' | 'artifactBucket'>) {
  return { Sid: 'ReadClusterBuilds', Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:${s.partition}:s3:::${s.artifactBucket}/clusters/${s.cluster}/*` };
}

export const EC2_TRUST_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

export function managerPolicy(s: PolicyScope) {
  const ec2 = (resource: string, account = s.account) => `arn:${s.partition}:ec2:${s.region}:${account}:${resource}`;
  const tagged = { StringEquals: { 'aws:ResourceTag/dynwork:cluster': s.cluster } };
  return {
    Version: '2012-10-17',
    Statement: [
      // One statement per resource type: a condition key a resource does not
      // have (ec2:InstanceType on a volume) would fail the whole statement.
      {
        Sid: 'LaunchOnlyClusterInstancesOfItsTypes',
        Effect: 'Allow',
        Action: 'ec2:RunInstances',
        Resource: ec2('instance/*'),
        Condition: { StringEquals: { 'aws:RequestTag/dynwork:cluster': s.cluster, 'ec2:InstanceType': s.instanceTypes, 'ec2:MetadataHttpTokens': 'required' } },
      },
      {
        Sid: 'LaunchOnlyEncryptedClusterVolumes',
        Effect: 'Allow',
        Action: 'ec2:RunInstances',
        Resource: ec2('volume/*'),
        Condition: { StringEquals: { 'aws:RequestTag/dynwork:cluster': s.cluster }, Bool: { 'ec2:Encrypted': 'true' } },
      },
      {
        Sid: 'LaunchOnlyClusterNetworkInterfaces',
        Effect: 'Allow',
        Action: 'ec2:RunInstances',
        Resource: ec2('network-interface/*'),
        Condition: { StringEquals: { 'aws:RequestTag/dynwork:cluster': s.cluster } },
      },
      {
        Sid: 'LaunchOnlyTheClusterImagesInItsNetwork',
        Effect: 'Allow',
        Action: 'ec2:RunInstances',
        Resource: [
          ...[...new Set(s.imageIds)].map((id) => ec2(`image/${id}`, '')),
          ec2(`subnet/${s.subnetId}`),
          ec2(`security-group/${s.securityGroupId}`),
          ec2('key-pair/*'),
          ec2('spot-instances-request/*'),
        ],
      },
      {
        Sid: 'TagOnlyAtLaunch',
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: [ec2('instance/*'), ec2('volume/*'), ec2('network-interface/*'), ec2('spot-instances-request/*')],
        Condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
      },
      { Sid: 'TerminateOnlyClusterInstances', Effect: 'Allow', Action: 'ec2:TerminateInstances', Resource: ec2('instance/*'), Condition: tagged },
      { Sid: 'AttachOnlyClusterDataVolumes', Effect: 'Allow', Action: 'ec2:AttachVolume', Resource: [ec2('instance/*'), ec2('volume/*')], Condition: tagged },
      { Sid: 'TakeOnlyClusterAddresses', Effect: 'Allow', Action: 'ec2:AssociateAddress', Resource: [ec2('elastic-ip/*'), ec2('instance/*'), ec2('network-interface/*')], Condition: tagged },
      // Describe calls have no resource-level permissions in EC2.
      { Sid: 'SeeInstances', Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeVolumes', 'ec2:DescribeAddresses'], Resource: '*' },
      {
        Sid: 'PassOnlyClusterRoles',
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: [s.managerRoleArn, s.workerRoleArn],
        Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      },
      { Sid: 'ReadClusterTokens', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: `arn:${s.partition}:ssm:${s.region}:${s.account}:parameter/dynwork/${s.cluster}/*` },
      readClusterBuilds(s),
    ],
  };
}

export function workerPolicy(s: Pick<PolicyScope, 'cluster' | 'region' | 'account' | 'partition' | 'artifactBucket'>) {
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'ReadWorkerToken', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: `arn:${s.partition}:ssm:${s.region}:${s.account}:parameter/dynwork/${s.cluster}/worker-token` },
      readClusterBuilds(s),
    ],
  };
}

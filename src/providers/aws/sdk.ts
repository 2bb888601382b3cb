/**
 * The AWS operations dynwork uses, one narrow interface per service, each
 * method the SDK's own input and output types. The implementations send the
 * SDK's real Command, so what a test mocks on the client classes is what runs,
 * and turn a failure into an AwsCallError naming the IAM action: the action,
 * not the operation, is what a user must be granted (HeadBucket needs
 * s3:ListBucket).
 *
 * Imported only on aws code paths: the SDK is heavy.
 */
import './sdk-quiet.js';
import {
  _InstanceType,
  AllocateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  CreateVolumeCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DeleteVolumeCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeKeyPairsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSpotPriceHistoryCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  GetConsoleOutputCommand,
  ReleaseAddressCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  type AllocateAddressCommandInput,
  type AllocateAddressCommandOutput,
  type AuthorizeSecurityGroupIngressCommandInput,
  type AuthorizeSecurityGroupIngressCommandOutput,
  type CreateKeyPairCommandInput,
  type CreateKeyPairCommandOutput,
  type CreateSecurityGroupCommandInput,
  type CreateSecurityGroupCommandOutput,
  type CreateVolumeCommandInput,
  type CreateVolumeCommandOutput,
  type DeleteKeyPairCommandInput,
  type DeleteKeyPairCommandOutput,
  type DeleteSecurityGroupCommandInput,
  type DeleteSecurityGroupCommandOutput,
  type DeleteVolumeCommandInput,
  type DeleteVolumeCommandOutput,
  type DescribeAddressesCommandInput,
  type DescribeAddressesCommandOutput,
  type DescribeInstancesCommandInput,
  type DescribeInstancesCommandOutput,
  type DescribeInstanceTypesCommandInput,
  type DescribeInstanceTypesCommandOutput,
  type DescribeKeyPairsCommandInput,
  type DescribeKeyPairsCommandOutput,
  type DescribeNetworkInterfacesCommandInput,
  type DescribeNetworkInterfacesCommandOutput,
  type DescribeSecurityGroupsCommandInput,
  type DescribeSecurityGroupsCommandOutput,
  type DescribeSpotPriceHistoryCommandInput,
  type DescribeSpotPriceHistoryCommandOutput,
  type DescribeSubnetsCommandInput,
  type DescribeSubnetsCommandOutput,
  type DescribeVolumesCommandInput,
  type DescribeVolumesCommandOutput,
  type DescribeVpcsCommandInput,
  type DescribeVpcsCommandOutput,
  type EC2Client,
  type GetConsoleOutputCommandInput,
  type GetConsoleOutputCommandOutput,
  type ReleaseAddressCommandInput,
  type ReleaseAddressCommandOutput,
  type RevokeSecurityGroupIngressCommandInput,
  type RevokeSecurityGroupIngressCommandOutput,
  type RunInstancesCommandInput,
  type RunInstancesCommandOutput,
  type TerminateInstancesCommandInput,
  type TerminateInstancesCommandOutput,
} from '@aws-sdk/client-ec2';
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
  type AddRoleToInstanceProfileCommandInput,
  type AddRoleToInstanceProfileCommandOutput,
  type CreateInstanceProfileCommandInput,
  type CreateInstanceProfileCommandOutput,
  type CreateRoleCommandInput,
  type CreateRoleCommandOutput,
  type DeleteInstanceProfileCommandInput,
  type DeleteInstanceProfileCommandOutput,
  type DeleteRoleCommandInput,
  type DeleteRoleCommandOutput,
  type DeleteRolePolicyCommandInput,
  type DeleteRolePolicyCommandOutput,
  type GetInstanceProfileCommandInput,
  type GetInstanceProfileCommandOutput,
  type GetRoleCommandInput,
  type GetRoleCommandOutput,
  type GetRolePolicyCommandInput,
  type GetRolePolicyCommandOutput,
  type IAMClient,
  type ListRolePoliciesCommandInput,
  type ListRolePoliciesCommandOutput,
  type PutRolePolicyCommandInput,
  type PutRolePolicyCommandOutput,
  type RemoveRoleFromInstanceProfileCommandInput,
  type RemoveRoleFromInstanceProfileCommandOutput,
} from '@aws-sdk/client-iam';
import type { GetProductsCommandInput, GetProductsCommandOutput, PricingClient } from '@aws-sdk/client-pricing';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  type CreateBucketCommandInput,
  type CreateBucketCommandOutput,
  type DeleteBucketCommandInput,
  type DeleteBucketCommandOutput,
  type DeleteObjectsCommandInput,
  type DeleteObjectsCommandOutput,
  type GetBucketPolicyCommandInput,
  type GetBucketPolicyCommandOutput,
  type GetBucketTaggingCommandInput,
  type GetBucketTaggingCommandOutput,
  type GetPublicAccessBlockCommandInput,
  type GetPublicAccessBlockCommandOutput,
  type HeadBucketCommandInput,
  type HeadBucketCommandOutput,
  type HeadObjectCommandInput,
  type HeadObjectCommandOutput,
  type ListObjectsV2CommandInput,
  type ListObjectsV2CommandOutput,
  type PutBucketEncryptionCommandInput,
  type PutBucketEncryptionCommandOutput,
  type PutBucketPolicyCommandInput,
  type PutBucketPolicyCommandOutput,
  type PutBucketTaggingCommandInput,
  type PutBucketTaggingCommandOutput,
  type PutObjectCommandInput,
  type PutObjectCommandOutput,
  type PutPublicAccessBlockCommandInput,
  type PutPublicAccessBlockCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  DeleteParametersCommand,
  GetParameterCommand,
  GetParametersCommand,
  PutParameterCommand,
  type DeleteParametersCommandInput,
  type DeleteParametersCommandOutput,
  type GetParameterCommandInput,
  type GetParameterCommandOutput,
  type GetParametersCommandInput,
  type GetParametersCommandOutput,
  type PutParameterCommandInput,
  type PutParameterCommandOutput,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, type GetCallerIdentityCommandInput, type GetCallerIdentityCommandOutput, type STSClient } from '@aws-sdk/client-sts';
import { AwsCallError } from './errors.js';

/** How long a waiter polls, in seconds (the SDK's waiter settings). */
export interface WaitOptions {
  maxWaitTime: number;
  minDelay: number;
  maxDelay?: number;
}

export interface IEc2 {
  allocateAddress(input: AllocateAddressCommandInput): Promise<AllocateAddressCommandOutput>;
  authorizeSecurityGroupIngress(input: AuthorizeSecurityGroupIngressCommandInput): Promise<AuthorizeSecurityGroupIngressCommandOutput>;
  createKeyPair(input: CreateKeyPairCommandInput): Promise<CreateKeyPairCommandOutput>;
  createSecurityGroup(input: CreateSecurityGroupCommandInput): Promise<CreateSecurityGroupCommandOutput>;
  createVolume(input: CreateVolumeCommandInput): Promise<CreateVolumeCommandOutput>;
  deleteKeyPair(input: DeleteKeyPairCommandInput): Promise<DeleteKeyPairCommandOutput>;
  deleteSecurityGroup(input: DeleteSecurityGroupCommandInput): Promise<DeleteSecurityGroupCommandOutput>;
  deleteVolume(input: DeleteVolumeCommandInput): Promise<DeleteVolumeCommandOutput>;
  describeAddresses(input: DescribeAddressesCommandInput): Promise<DescribeAddressesCommandOutput>;
  describeInstances(input: DescribeInstancesCommandInput): Promise<DescribeInstancesCommandOutput>;
  describeInstanceTypes(input: DescribeInstanceTypesCommandInput): Promise<DescribeInstanceTypesCommandOutput>;
  describeKeyPairs(input: DescribeKeyPairsCommandInput): Promise<DescribeKeyPairsCommandOutput>;
  describeNetworkInterfaces(input: DescribeNetworkInterfacesCommandInput): Promise<DescribeNetworkInterfacesCommandOutput>;
  describeSecurityGroups(input: DescribeSecurityGroupsCommandInput): Promise<DescribeSecurityGroupsCommandOutput>;
  describeSpotPriceHistory(input: DescribeSpotPriceHistoryCommandInput): Promise<DescribeSpotPriceHistoryCommandOutput>;
  describeSubnets(input: DescribeSubnetsCommandInput): Promise<DescribeSubnetsCommandOutput>;
  describeVolumes(input: DescribeVolumesCommandInput): Promise<DescribeVolumesCommandOutput>;
  describeVpcs(input: DescribeVpcsCommandInput): Promise<DescribeVpcsCommandOutput>;
  getConsoleOutput(input: GetConsoleOutputCommandInput): Promise<GetConsoleOutputCommandOutput>;
  releaseAddress(input: ReleaseAddressCommandInput): Promise<ReleaseAddressCommandOutput>;
  revokeSecurityGroupIngress(input: RevokeSecurityGroupIngressCommandInput): Promise<RevokeSecurityGroupIngressCommandOutput>;
  runInstances(input: RunInstancesCommandInput): Promise<RunInstancesCommandOutput>;
  terminateInstances(input: TerminateInstancesCommandInput): Promise<TerminateInstancesCommandOutput>;
  /** Polls DescribeInstances; rejects (unwrapped, as the SDK's waiter does) when the time is up. */
  waitUntilInstanceRunning(input: DescribeInstancesCommandInput, wait: WaitOptions): Promise<void>;
  waitUntilInstanceTerminated(input: DescribeInstancesCommandInput, wait: WaitOptions): Promise<void>;
}

export interface IIam {
  addRoleToInstanceProfile(input: AddRoleToInstanceProfileCommandInput): Promise<AddRoleToInstanceProfileCommandOutput>;
  createInstanceProfile(input: CreateInstanceProfileCommandInput): Promise<CreateInstanceProfileCommandOutput>;
  createRole(input: CreateRoleCommandInput): Promise<CreateRoleCommandOutput>;
  deleteInstanceProfile(input: DeleteInstanceProfileCommandInput): Promise<DeleteInstanceProfileCommandOutput>;
  deleteRole(input: DeleteRoleCommandInput): Promise<DeleteRoleCommandOutput>;
  deleteRolePolicy(input: DeleteRolePolicyCommandInput): Promise<DeleteRolePolicyCommandOutput>;
  getInstanceProfile(input: GetInstanceProfileCommandInput): Promise<GetInstanceProfileCommandOutput>;
  getRole(input: GetRoleCommandInput): Promise<GetRoleCommandOutput>;
  getRolePolicy(input: GetRolePolicyCommandInput): Promise<GetRolePolicyCommandOutput>;
  listRolePolicies(input: ListRolePoliciesCommandInput): Promise<ListRolePoliciesCommandOutput>;
  putRolePolicy(input: PutRolePolicyCommandInput): Promise<PutRolePolicyCommandOutput>;
  removeRoleFromInstanceProfile(input: RemoveRoleFromInstanceProfileCommandInput): Promise<RemoveRoleFromInstanceProfileCommandOutput>;
}

export interface ISsm {
  deleteParameters(input: DeleteParametersCommandInput): Promise<DeleteParametersCommandOutput>;
  getParameter(input: GetParameterCommandInput): Promise<GetParameterCommandOutput>;
  getParameters(input: GetParametersCommandInput): Promise<GetParametersCommandOutput>;
  putParameter(input: PutParameterCommandInput): Promise<PutParameterCommandOutput>;
}

export interface ISts {
  getCallerIdentity(input: GetCallerIdentityCommandInput): Promise<GetCallerIdentityCommandOutput>;
}

export interface IS3 {
  createBucket(input: CreateBucketCommandInput): Promise<CreateBucketCommandOutput>;
  deleteBucket(input: DeleteBucketCommandInput): Promise<DeleteBucketCommandOutput>;
  deleteObjects(input: DeleteObjectsCommandInput): Promise<DeleteObjectsCommandOutput>;
  getBucketPolicy(input: GetBucketPolicyCommandInput): Promise<GetBucketPolicyCommandOutput>;
  getBucketTagging(input: GetBucketTaggingCommandInput): Promise<GetBucketTaggingCommandOutput>;
  getPublicAccessBlock(input: GetPublicAccessBlockCommandInput): Promise<GetPublicAccessBlockCommandOutput>;
  headBucket(input: HeadBucketCommandInput): Promise<HeadBucketCommandOutput>;
  headObject(input: HeadObjectCommandInput): Promise<HeadObjectCommandOutput>;
  listObjectsV2(input: ListObjectsV2CommandInput): Promise<ListObjectsV2CommandOutput>;
  putBucketEncryption(input: PutBucketEncryptionCommandInput): Promise<PutBucketEncryptionCommandOutput>;
  putBucketPolicy(input: PutBucketPolicyCommandInput): Promise<PutBucketPolicyCommandOutput>;
  putBucketTagging(input: PutBucketTaggingCommandInput): Promise<PutBucketTaggingCommandOutput>;
  putObject(input: PutObjectCommandInput): Promise<PutObjectCommandOutput>;
  putPublicAccessBlock(input: PutPublicAccessBlockCommandInput): Promise<PutPublicAccessBlockCommandOutput>;
}

export interface IPricing {
  getProducts(input: GetProductsCommandInput): Promise<GetProductsCommandOutput>;
}

/** One call; a failure becomes an AwsCallError naming `action`, so a missing permission can be reported by name. */
async function attempt<T>(action: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw new AwsCallError(action, err);
  }
}

export function ec2Api(c: EC2Client): IEc2 {
  return {
    allocateAddress: (i) => attempt('ec2:AllocateAddress', () => c.send(new AllocateAddressCommand(i))),
    authorizeSecurityGroupIngress: (i) => attempt('ec2:AuthorizeSecurityGroupIngress', () => c.send(new AuthorizeSecurityGroupIngressCommand(i))),
    createKeyPair: (i) => attempt('ec2:CreateKeyPair', () => c.send(new CreateKeyPairCommand(i))),
    createSecurityGroup: (i) => attempt('ec2:CreateSecurityGroup', () => c.send(new CreateSecurityGroupCommand(i))),
    createVolume: (i) => attempt('ec2:CreateVolume', () => c.send(new CreateVolumeCommand(i))),
    deleteKeyPair: (i) => attempt('ec2:DeleteKeyPair', () => c.send(new DeleteKeyPairCommand(i))),
    deleteSecurityGroup: (i) => attempt('ec2:DeleteSecurityGroup', () => c.send(new DeleteSecurityGroupCommand(i))),
    deleteVolume: (i) => attempt('ec2:DeleteVolume', () => c.send(new DeleteVolumeCommand(i))),
    describeAddresses: (i) => attempt('ec2:DescribeAddresses', () => c.send(new DescribeAddressesCommand(i))),
    describeInstances: (i) => attempt('ec2:DescribeInstances', () => c.send(new DescribeInstancesCommand(i))),
    describeInstanceTypes: (i) => attempt('ec2:DescribeInstanceTypes', () => c.send(new DescribeInstanceTypesCommand(i))),
    describeKeyPairs: (i) => attempt('ec2:DescribeKeyPairs', () => c.send(new DescribeKeyPairsCommand(i))),
    describeNetworkInterfaces: (i) => attempt('ec2:DescribeNetworkInterfaces', () => c.send(new DescribeNetworkInterfacesCommand(i))),
    describeSecurityGroups: (i) => attempt('ec2:DescribeSecurityGroups', () => c.send(new DescribeSecurityGroupsCommand(i))),
    describeSpotPriceHistory: (i) => attempt('ec2:DescribeSpotPriceHistory', () => c.send(new DescribeSpotPriceHistoryCommand(i))),
    describeSubnets: (i) => attempt('ec2:DescribeSubnets', () => c.send(new DescribeSubnetsCommand(i))),
    describeVolumes: (i) => attempt('ec2:DescribeVolumes', () => c.send(new DescribeVolumesCommand(i))),
    describeVpcs: (i) => attempt('ec2:DescribeVpcs', () => c.send(new DescribeVpcsCommand(i))),
    getConsoleOutput: (i) => attempt('ec2:GetConsoleOutput', () => c.send(new GetConsoleOutputCommand(i))),
    releaseAddress: (i) => attempt('ec2:ReleaseAddress', () => c.send(new ReleaseAddressCommand(i))),
    revokeSecurityGroupIngress: (i) => attempt('ec2:RevokeSecurityGroupIngress', () => c.send(new RevokeSecurityGroupIngressCommand(i))),
    runInstances: (i) => attempt('ec2:RunInstances', () => c.send(new RunInstancesCommand(i))),
    terminateInstances: (i) => attempt('ec2:TerminateInstances', () => c.send(new TerminateInstancesCommand(i))),
    waitUntilInstanceRunning: async (i, wait) => void (await waitUntilInstanceRunning({ client: c, ...wait }, i)),
    waitUntilInstanceTerminated: async (i, wait) => void (await waitUntilInstanceTerminated({ client: c, ...wait }, i)),
  };
}

export function iamApi(c: IAMClient): IIam {
  return {
    addRoleToInstanceProfile: (i) => attempt('iam:AddRoleToInstanceProfile', () => c.send(new AddRoleToInstanceProfileCommand(i))),
    createInstanceProfile: (i) => attempt('iam:CreateInstanceProfile', () => c.send(new CreateInstanceProfileCommand(i))),
    createRole: (i) => attempt('iam:CreateRole', () => c.send(new CreateRoleCommand(i))),
    deleteInstanceProfile: (i) => attempt('iam:DeleteInstanceProfile', () => c.send(new DeleteInstanceProfileCommand(i))),
    deleteRole: (i) => attempt('iam:DeleteRole', () => c.send(new DeleteRoleCommand(i))),
    deleteRolePolicy: (i) => attempt('iam:DeleteRolePolicy', () => c.send(new DeleteRolePolicyCommand(i))),
    getInstanceProfile: (i) => attempt('iam:GetInstanceProfile', () => c.send(new GetInstanceProfileCommand(i))),
    getRole: (i) => attempt('iam:GetRole', () => c.send(new GetRoleCommand(i))),
    getRolePolicy: (i) => attempt('iam:GetRolePolicy', () => c.send(new GetRolePolicyCommand(i))),
    listRolePolicies: (i) => attempt('iam:ListRolePolicies', () => c.send(new ListRolePoliciesCommand(i))),
    putRolePolicy: (i) => attempt('iam:PutRolePolicy', () => c.send(new PutRolePolicyCommand(i))),
    removeRoleFromInstanceProfile: (i) => attempt('iam:RemoveRoleFromInstanceProfile', () => c.send(new RemoveRoleFromInstanceProfileCommand(i))),
  };
}

export function ssmApi(c: SSMClient): ISsm {
  return {
    deleteParameters: (i) => attempt('ssm:DeleteParameters', () => c.send(new DeleteParametersCommand(i))),
    getParameter: (i) => attempt('ssm:GetParameter', () => c.send(new GetParameterCommand(i))),
    getParameters: (i) => attempt('ssm:GetParameters', () => c.send(new GetParametersCommand(i))),
    putParameter: (i) => attempt('ssm:PutParameter', () => c.send(new PutParameterCommand(i))),
  };
}

export function stsApi(c: STSClient): ISts {
  return {
    getCallerIdentity: (i) => attempt('sts:GetCallerIdentity', () => c.send(new GetCallerIdentityCommand(i))),
  };
}

/** S3's IAM actions are not always its operations' names (HeadBucket is allowed by s3:ListBucket). */
export function s3Api(c: S3Client): IS3 {
  return {
    createBucket: (i) => attempt('s3:CreateBucket', () => c.send(new CreateBucketCommand(i))),
    deleteBucket: (i) => attempt('s3:DeleteBucket', () => c.send(new DeleteBucketCommand(i))),
    deleteObjects: (i) => attempt('s3:DeleteObject', () => c.send(new DeleteObjectsCommand(i))),
    getBucketPolicy: (i) => attempt('s3:GetBucketPolicy', () => c.send(new GetBucketPolicyCommand(i))),
    getBucketTagging: (i) => attempt('s3:GetBucketTagging', () => c.send(new GetBucketTaggingCommand(i))),
    getPublicAccessBlock: (i) => attempt('s3:GetBucketPublicAccessBlock', () => c.send(new GetPublicAccessBlockCommand(i))),
    headBucket: (i) => attempt('s3:ListBucket', () => c.send(new HeadBucketCommand(i))),
    headObject: (i) => attempt('s3:GetObject', () => c.send(new HeadObjectCommand(i))),
    listObjectsV2: (i) => attempt('s3:ListBucket', () => c.send(new ListObjectsV2Command(i))),
    putBucketEncryption: (i) => attempt('s3:PutEncryptionConfiguration', () => c.send(new PutBucketEncryptionCommand(i))),
    putBucketPolicy: (i) => attempt('s3:PutBucketPolicy', () => c.send(new PutBucketPolicyCommand(i))),
    putBucketTagging: (i) => attempt('s3:PutBucketTagging', () => c.send(new PutBucketTaggingCommand(i))),
    putObject: (i) => attempt('s3:PutObject', () => c.send(new PutObjectCommand(i))),
    putPublicAccessBlock: (i) => attempt('s3:PutBucketPublicAccessBlock', () => c.send(new PutPublicAccessBlockCommand(i))),
  };
}

/** Only `status` prices machines, so its Command loads with the client, on first use. */
export async function pricingApi(c: PricingClient): Promise<IPricing> {
  const { GetProductsCommand } = await import('@aws-sdk/client-pricing');
  return {
    getProducts: (i) => attempt('pricing:GetProducts', () => c.send(new GetProductsCommand(i))),
  };
}

/**
 * The SDK's own name for an instance type, or undefined for one it does not
 * list (a typo, or a type newer than this SDK): EC2 calls take only those.
 */
export function knownInstanceType(name: string): _InstanceType | undefined {
  return Object.values(_InstanceType).find((t) => t === name);
}

/**
 * An instance type for EC2 calls. The SDK's list is fixed at its release and
 * EC2 adds types every month, so a type newer than this SDK goes through as
 * given: deploy asks DescribeInstanceTypes about it before launching anything,
 * and EC2's own InvalidInstanceType names a typo.
 */
export function launchableType(name: string): _InstanceType {
  return knownInstanceType(name) ?? (name as _InstanceType);
}

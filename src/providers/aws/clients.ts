/**
 * The AWS clients dynwork uses, built one way: region and credentials from the
 * SDK's default chain (env, profile, SSO, IMDS) unless given, adaptive retries
 * with backoff, and a timeout on every request. No `endpoint` is ever set, so
 * the SDK's own AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> settings apply and
 * the whole tool runs against any EC2-compatible endpoint unchanged.
 *
 * Imported only on aws code paths: the SDK is heavy.
 */
import './sdk-quiet.js';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import type { PricingClient } from '@aws-sdk/client-pricing';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { AwsCallError } from './errors.js';

export interface AwsClientOptions {
  /** @default the SDK's chain (AWS_REGION, the profile's region) */
  region?: string | undefined;
  /** Named profile from ~/.aws/config. @default AWS_PROFILE, else "default" */
  profile?: string | undefined;
  /** Attempts per call, the first included. @default 6 */
  maxAttempts?: number;
  /** Timeout of one HTTP request. @default 15000 */
  requestTimeoutMs?: number;
}

export interface AwsClients {
  ec2: EC2Client;
  iam: IAMClient;
  ssm: SSMClient;
  sts: STSClient;
  s3: S3Client;
  /** The Price List API (us-east-1 serves every region's prices); loaded only by `status`. */
  pricing(): Promise<PricingClient>;
  /** The region every regional client uses. */
  region(): Promise<string>;
  destroy(): void;
}

export function createAwsClients(opts: AwsClientOptions = {}): AwsClients {
  const common = {
    ...(opts.region ? { region: opts.region } : {}),
    ...(opts.profile ? { profile: opts.profile } : {}),
    maxAttempts: opts.maxAttempts ?? 6,
    retryMode: 'adaptive',
    requestHandler: { connectionTimeout: 5_000, requestTimeout: opts.requestTimeoutMs ?? 15_000 },
  };
  const ec2 = new EC2Client(common);
  const iam = new IAMClient(common);
  const ssm = new SSMClient(common);
  const sts = new STSClient(common);
  // A custom endpoint (an EC2-compatible cloud, a test server) has no
  // per-bucket host names: address buckets in the path there.
  const s3 = new S3Client({ ...common, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL) });
  let pricing: Promise<PricingClient> | undefined;
  return {
    ec2,
    iam,
    ssm,
    sts,
    s3,
    pricing: () => (pricing ??= import('@aws-sdk/client-pricing').then(({ PricingClient }) => new PricingClient({ ...common, region: 'us-east-1' }))),
    region: async () => {
      try {
        return await ec2.config.region();
      } catch (err) {
        throw new AwsCallError('config:region', err);
      }
    },
    destroy: () => {
      for (const c of [ec2, iam, ssm, sts, s3]) c.destroy();
      void pricing?.then((c) => c.destroy());
    },
  };
}

/**
 * Sends one command; a failure becomes an AwsCallError that names the IAM
 * action (e.g. "ec2:RunInstances"), so a missing permission can be reported
 * by name.
 */
export async function call<O>(client: { send(command: never): Promise<unknown> }, command: { input: object }): Promise<O> {
  try {
    return (await client.send(command as never)) as O;
  } catch (err) {
    throw new AwsCallError(actionOf(client, command), err);
  }
}

/** S3 operations whose IAM action has another name (the rest share theirs). */
const S3_ACTIONS: Record<string, string> = {
  HeadBucket: 'ListBucket',
  ListObjectsV2: 'ListBucket',
  HeadObject: 'GetObject',
  DeleteObjects: 'DeleteObject',
  PutPublicAccessBlock: 'PutBucketPublicAccessBlock',
  GetPublicAccessBlock: 'GetBucketPublicAccessBlock',
  PutBucketEncryption: 'PutEncryptionConfiguration',
  GetBucketEncryption: 'GetEncryptionConfiguration',
};

function actionOf(client: object, command: object): string {
  // serviceId "EC2" / "IAM" / "SSM" / "STS" / "S3" is the IAM prefix in capitals.
  const prefix = ((client as { config?: { serviceId?: string } }).config?.serviceId ?? '').toLowerCase();
  const op = command.constructor.name.replace(/Command$/, '');
  return `${prefix}:${prefix === 's3' ? (S3_ACTIONS[op] ?? op) : op}`;
}

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
import { ec2Api, iamApi, pricingApi, s3Api, ssmApi, stsApi, type IEc2, type IIam, type IPricing, type IS3, type ISsm, type ISts } from './sdk.js';

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
  ec2: IEc2;
  iam: IIam;
  ssm: ISsm;
  sts: ISts;
  s3: IS3;
  /** The Price List API (us-east-1 serves every region's prices); loaded only by `status`. */
  pricing(): Promise<IPricing>;
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
  let pricingClient: Promise<PricingClient> | undefined;
  let pricing: Promise<IPricing> | undefined;
  return {
    ec2: ec2Api(ec2),
    iam: iamApi(iam),
    ssm: ssmApi(ssm),
    sts: stsApi(sts),
    s3: s3Api(s3),
    pricing: () => (pricing ??= (pricingClient = import('@aws-sdk/client-pricing').then(({ PricingClient }) => new PricingClient({ ...common, region: 'us-east-1' }))).then(pricingApi)),
    region: async () => {
      try {
        return await ec2.config.region();
      } catch (err) {
        throw new AwsCallError('config:region', err);
      }
    },
    destroy: () => {
      for (const c of [ec2, iam, ssm, sts, s3]) c.destroy();
      void pricingClient?.then((c) => c.destroy());
    },
  };
}

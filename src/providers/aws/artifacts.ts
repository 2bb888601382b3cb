/**
 * Where the machines get dynwork from: one private bucket per account and
 * region, shared by its clusters, each cluster's builds under its own prefix
 * (`clusters/<name>/`), each object named by its SHA-256. Instance roles may
 * read their cluster's prefix and nothing else (iam-policies.ts).
 */
import type { BucketLocationConstraint } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { DynworkError } from '../../errors.js';
import type { AwsClients } from './clients.js';
import { ifExists, isAwsError } from './errors.js';
import { TAG } from './tags.js';

/** S3's names for "not there" (HEAD answers carry no body, so the SDK says NotFound). */
const S3_NOT_FOUND = ['NotFound', 'NoSuchBucket', 'NoSuchKey', 'NoSuchBucketPolicy', 'NoSuchPublicAccessBlockConfiguration', 'NoSuchTagSet'];

export function artifactBucketName(account: string, region: string): string {
  return `dynwork-artifacts-${account}-${region}`;
}

export function clusterPrefix(cluster: string): string {
  return `clusters/${cluster}/`;
}

export function artifactKey(cluster: string, a: { name: string; version: string; sha256: string }): string {
  return `${clusterPrefix(cluster)}${a.name}-${a.version}-${a.sha256}.tgz`;
}

/** The bucket's policy: nothing over plain HTTP, from anyone. */
export function bucketPolicy(bucket: string, partition = 'aws') {
  const arn = `arn:${partition}:s3:::${bucket}`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'RefuseInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [arn, `${arn}/*`],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ],
  };
}

const BUCKET_TAGS = [
  { Key: TAG.role, Value: 'artifacts' },
  { Key: 'Name', Value: 'dynwork-artifacts' },
];
const PUBLIC_ACCESS_BLOCKED = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };

/**
 * Get-or-create the bucket, and converge its settings: Block Public Access on,
 * default encryption, TLS only, tagged. A setting already right is left alone.
 */
export async function ensureArtifactBucket(clients: AwsClients, bucket: string, region: string, partition: string, created: string[]): Promise<void> {
  const { s3 } = clients;
  const exists = await ifExists(S3_NOT_FOUND, () => s3.headBucket({ Bucket: bucket }));
  if (!exists) {
    await s3.createBucket({
      Bucket: bucket,
      ObjectOwnership: 'BucketOwnerEnforced',
      // us-east-1 is S3's default and refuses to be named.
      ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
    });
    created.push(`S3 bucket ${bucket}`);
  }
  const block = (await ifExists(S3_NOT_FOUND, () => s3.getPublicAccessBlock({ Bucket: bucket })))?.PublicAccessBlockConfiguration;
  if (!(block?.BlockPublicAcls && block.IgnorePublicAcls && block.BlockPublicPolicy && block.RestrictPublicBuckets)) {
    await s3.putPublicAccessBlock({ Bucket: bucket, PublicAccessBlockConfiguration: PUBLIC_ACCESS_BLOCKED });
  }
  const policy = JSON.stringify(bucketPolicy(bucket, partition));
  const current = await ifExists(S3_NOT_FOUND, () => s3.getBucketPolicy({ Bucket: bucket }));
  if (!current?.Policy || JSON.stringify(JSON.parse(current.Policy)) !== policy) {
    await s3.putBucketPolicy({ Bucket: bucket, Policy: policy });
  }
  if (!exists) {
    // New buckets are encrypted with S3-managed keys already; said explicitly so it never depends on an account default.
    await s3.putBucketEncryption({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: true }] } });
  }
  const tags = await ifExists(S3_NOT_FOUND, () => s3.getBucketTagging({ Bucket: bucket }));
  if (!BUCKET_TAGS.every((t) => tags?.TagSet?.some((x) => x.Key === t.Key && x.Value === t.Value))) {
    await s3.putBucketTagging({ Bucket: bucket, Tagging: { TagSet: BUCKET_TAGS } });
  }
}

/**
 * Uploads the tarball unless an object of that name (its hash) is already
 * there, then reads it back: a deploy never launches machines for a build
 * that is not where their boot script will look.
 */
export async function uploadArtifact(clients: AwsClients, bucket: string, key: string, artifact: { file: string; sha256: string; bytes: number }): Promise<'uploaded' | 'present'> {
  const { s3 } = clients;
  const head = () => ifExists(S3_NOT_FOUND, () => s3.headObject({ Bucket: bucket, Key: key }));
  const before = await head();
  if (before && before.ContentLength === artifact.bytes && before.Metadata?.sha256 === artifact.sha256) return 'present';
  await s3.putObject({
    Bucket: bucket,
    Key: key,
    Body: readFileSync(artifact.file),
    ContentType: 'application/gzip',
    // S3 checks the bytes it stores against this, so a corrupted upload fails here, not on a machine.
    ChecksumSHA256: Buffer.from(artifact.sha256, 'hex').toString('base64'),
    Metadata: { sha256: artifact.sha256 },
  });
  const after = await head();
  if (!after || after.ContentLength !== artifact.bytes) {
    throw new DynworkError('provider_error', `the upload of s3://${bucket}/${key} cannot be read back (${after ? `${after.ContentLength} bytes, not ${artifact.bytes}` : 'not found'})`, {
      hint: 'run deploy again; if it persists, check the bucket in the S3 console',
    });
  }
  return 'uploaded';
}

/** Keys under a prefix, every page. */
export async function listKeys(clients: AwsClients, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await clients.s3.listObjectsV2({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) });
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

export interface ArtifactCleanup {
  /** The cluster's objects (s3://bucket/key). */
  objects: string[];
  /** The shared bucket, when no other cluster keeps anything in it. */
  bucket: string | null;
}

/**
 * What teardown removes from S3: the cluster's objects, and the bucket once
 * nothing else is in it. With `dryRun`, only says so.
 */
export async function removeClusterArtifacts(clients: AwsClients, bucket: string, cluster: string, dryRun: boolean): Promise<ArtifactCleanup> {
  const exists = await ifExists(S3_NOT_FOUND, () => clients.s3.headBucket({ Bucket: bucket }));
  if (!exists) return { objects: [], bucket: null };
  // One listing of the whole bucket answers both questions: what is ours, and whether anything else is there.
  const all = await listKeys(clients, bucket, '');
  const mine = all.filter((k) => k.startsWith(clusterPrefix(cluster)));
  const others = all.length - mine.length;
  const out: ArtifactCleanup = { objects: mine.map((k) => `s3://${bucket}/${k}`), bucket: others === 0 ? bucket : null };
  if (dryRun) return out;
  for (let i = 0; i < mine.length; i += 1000) {
    const res = await clients.s3.deleteObjects({ Bucket: bucket, Delete: { Objects: mine.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } });
    const failed = res.Errors?.[0];
    if (failed) throw new DynworkError('provider_error', `could not delete s3://${bucket}/${failed.Key}: ${failed.Message}`, { hint: 'run teardown again' });
  }
  if (out.bucket) {
    try {
      await ifExists(S3_NOT_FOUND, () => clients.s3.deleteBucket({ Bucket: bucket }));
    } catch (err) {
      // Another cluster's deploy uploaded meanwhile: the bucket is theirs now.
      if (!isAwsError(err, 'BucketNotEmpty')) throw err;
      out.bucket = null;
    }
  }
  return out;
}

/**
 * S3 in the fake account, both ways it is reached: over the wire (REST-XML,
 * path-style, SigV4 checked) by a real S3Client pointed at the endpoint, and
 * behind aws-sdk-client-mock. The same handlers answer both, and a scenario
 * run both ways gets the same answers.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import * as s3 from '@aws-sdk/client-s3';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { serveAws, type AwsWire } from './aws-wire.js';
import { checksum, FakeAws, s3Error } from './fake-aws.js';

const KEY = 'AKIDS3WIRETEST';
const SECRET = 's3-wire-secret-access-key';
const BUCKET = 'dynwork-builds-wire';

/** The error a call fails with (the test fails if it succeeds). */
async function failure(p: Promise<unknown>): Promise<Error & { $metadata: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { $metadata: { httpStatusCode?: number } };
  }
  assert.fail('expected the call to fail');
}

function wireClient(wire: AwsWire, options: { region?: string; secret?: string; followRegionRedirects?: boolean } = {}): s3.S3Client {
  return new s3.S3Client({
    endpoint: wire.url,
    forcePathStyle: true,
    region: options.region ?? 'eu-west-1',
    credentials: { accessKeyId: KEY, secretAccessKey: options.secret ?? SECRET },
    followRegionRedirects: options.followRegionRedirects,
  });
}

/** A request the SDK would never send, signed properly with the account's key: status and body of the answer. */
async function signedRequest(wire: AwsWire, method: string, path: string, headers: Record<string, string>, body: string | Buffer): Promise<{ status: number; body: string }> {
  const url = new URL(path, wire.url);
  const signer = new SignatureV4({ service: 's3', region: 'eu-west-1', credentials: { accessKeyId: KEY, secretAccessKey: SECRET }, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const signed = await signer.sign({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { host: url.host, ...headers },
    body,
  });
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: signed.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const hex = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

/** What an answer says, without the transport's metadata. */
function answer<T extends object>(out: T): Omit<T, '$metadata'> {
  const { $metadata: _, ...rest } = out as T & { $metadata?: unknown };
  return rest;
}

describe('S3 over the wire: REST-XML, path-style, signed', () => {
  const fake = new FakeAws({ mock: false });
  let wire: AwsWire;
  let client: s3.S3Client;
  const data = randomBytes(384 * 1024);
  const sha256 = createHash('sha256').update(data).digest('base64');

  before(async () => {
    wire = await serveAws(fake, { [KEY]: SECRET });
    client = wireClient(wire);
  });
  after(async () => {
    client.destroy();
    await wire.close();
  });

  test('a bucket is created in the region asked for; blocking public access, encryption, policy and tags read back as set', async () => {
    const created = await client.send(new s3.CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    assert.equal(created.Location, `http://${BUCKET}.s3.amazonaws.com/`);
    assert.equal(fake.buckets.get(BUCKET)?.Region, 'eu-west-1');
    assert.equal((await client.send(new s3.HeadBucketCommand({ Bucket: BUCKET }))).BucketRegion, 'eu-west-1');

    const again = await failure(client.send(new s3.CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })));
    assert.ok(again instanceof s3.BucketAlreadyOwnedByYou);
    assert.equal(again.$metadata.httpStatusCode, 409);
    const elsewhere = await failure(client.send(new s3.CreateBucketCommand({ Bucket: 'dynwork-other', CreateBucketConfiguration: { LocationConstraint: 'eu-central-1' } })));
    assert.deepEqual([elsewhere.name, elsewhere.$metadata.httpStatusCode], ['IllegalLocationConstraintException', 400]);
    const badName = await failure(client.send(new s3.CreateBucketCommand({ Bucket: 'No_Such-Name' })));
    assert.deepEqual([badName.name, badName.$metadata.httpStatusCode], ['InvalidBucketName', 400]);

    // New buckets block public access already (S3 since 2023); the call sets it explicitly.
    const allBlocked = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
    assert.deepEqual((await client.send(new s3.GetPublicAccessBlockCommand({ Bucket: BUCKET }))).PublicAccessBlockConfiguration, allBlocked);
    await client.send(new s3.PutPublicAccessBlockCommand({ Bucket: BUCKET, PublicAccessBlockConfiguration: { ...allBlocked, IgnorePublicAcls: false } }));
    assert.deepEqual((await client.send(new s3.GetPublicAccessBlockCommand({ Bucket: BUCKET }))).PublicAccessBlockConfiguration, { ...allBlocked, IgnorePublicAcls: false });
    await client.send(new s3.PutPublicAccessBlockCommand({ Bucket: BUCKET, PublicAccessBlockConfiguration: allBlocked }));
    assert.deepEqual(fake.buckets.get(BUCKET)?.PublicAccessBlock, allBlocked);

    assert.deepEqual((await client.send(new s3.GetBucketEncryptionCommand({ Bucket: BUCKET }))).ServerSideEncryptionConfiguration, {
      Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false }],
    });
    const kms = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' as const, KMSMasterKeyID: 'alias/dynwork' }, BucketKeyEnabled: true }] };
    await client.send(new s3.PutBucketEncryptionCommand({ Bucket: BUCKET, ServerSideEncryptionConfiguration: kms }));
    assert.deepEqual((await client.send(new s3.GetBucketEncryptionCommand({ Bucket: BUCKET }))).ServerSideEncryptionConfiguration, kms);

    const noPolicy = await failure(client.send(new s3.GetBucketPolicyCommand({ Bucket: BUCKET })));
    assert.deepEqual([noPolicy.name, noPolicy.$metadata.httpStatusCode], ['NoSuchBucketPolicy', 404]);
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'TlsOnly', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
        { Sid: 'Workers', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${fake.account}:role/dynwork-worker` }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` },
      ],
    });
    await client.send(new s3.PutBucketPolicyCommand({ Bucket: BUCKET, Policy: policy }));
    assert.equal((await client.send(new s3.GetBucketPolicyCommand({ Bucket: BUCKET }))).Policy, policy);
    const publicRead = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` }] });
    const refused = await failure(client.send(new s3.PutBucketPolicyCommand({ Bucket: BUCKET, Policy: publicRead })));
    assert.deepEqual([refused.name, refused.$metadata.httpStatusCode], ['AccessDenied', 403], 'Block Public Access refuses a public policy');
    const malformed = await failure(client.send(new s3.PutBucketPolicyCommand({ Bucket: BUCKET, Policy: 'not json' })));
    assert.deepEqual([malformed.name, malformed.$metadata.httpStatusCode], ['MalformedPolicy', 400]);
    assert.equal(fake.buckets.get(BUCKET)?.Policy, policy);

    const tags = [
      { Key: 'dynwork:cluster', Value: 'wire' },
      { Key: 'note', Value: 'a & b <c> "d"' },
    ];
    await client.send(new s3.PutBucketTaggingCommand({ Bucket: BUCKET, Tagging: { TagSet: tags } }));
    assert.deepEqual((await client.send(new s3.GetBucketTaggingCommand({ Bucket: BUCKET }))).TagSet, tags);

    // What crossed the wire: every request signed with the key, each routed by method, path and query.
    const mine = wire.requests.filter((r) => r.url.startsWith(`/${BUCKET}/`));
    assert.ok(mine.every((r) => r.signedBy === KEY && r.region === 'eu-west-1' && r.service === 's3'));
    const routes = new Map(mine.map((r) => [`${r.method} ${r.url}`, r.action]));
    assert.deepEqual(Object.fromEntries(routes), {
      [`PUT /${BUCKET}/`]: 'CreateBucket',
      [`HEAD /${BUCKET}/`]: 'HeadBucket',
      [`GET /${BUCKET}/?publicAccessBlock=`]: 'GetPublicAccessBlock',
      [`PUT /${BUCKET}/?publicAccessBlock=`]: 'PutPublicAccessBlock',
      [`GET /${BUCKET}/?encryption=`]: 'GetBucketEncryption',
      [`PUT /${BUCKET}/?encryption=`]: 'PutBucketEncryption',
      [`GET /${BUCKET}/?policy=`]: 'GetBucketPolicy',
      [`PUT /${BUCKET}/?policy=`]: 'PutBucketPolicy',
      [`PUT /${BUCKET}/?tagging=`]: 'PutBucketTagging',
      [`GET /${BUCKET}/?tagging=`]: 'GetBucketTagging',
    });
  });

  test('a few hundred KB of random bytes with their SHA-256 go up in one request, and come back byte-identical', async () => {
    const key = 'builds/dynwork 0.1.0+wire.tgz';
    const put = await client.send(new s3.PutObjectCommand({ Bucket: BUCKET, Key: key, Body: data, ChecksumSHA256: sha256, Metadata: { Version: '0.1.0', 'Built-By': 'deploy' } }));
    const md5 = `"${createHash('md5').update(data).digest('hex')}"`;
    assert.deepEqual([put.ETag, put.ChecksumSHA256], [md5, sha256]);

    // A Buffer body travels as it is: no aws-chunked framing, the body's own hash signed, the SHA-256 given as a header.
    const sent = wire.requests.findLast((r) => r.action === 'PutObject')!;
    assert.equal(sent.url, `/${BUCKET}/builds/dynwork%200.1.0%2Bwire.tgz?x-id=PutObject`);
    assert.equal(sent.headers['x-amz-content-sha256'], createHash('sha256').update(data).digest('hex'));
    assert.equal(sent.headers['x-amz-checksum-sha256'], sha256);
    assert.equal(sent.headers['content-encoding'], undefined);
    assert.equal(sent.headers['content-length'], String(data.length));
    assert.equal(sent.signedBy, KEY);
    const stored = fake.buckets.get(BUCKET)!.Objects.get(key)!;
    assert.ok(stored.Body.equals(data));
    assert.deepEqual(stored.Checksum, { algorithm: 'SHA256', value: sha256 });

    const head = await client.send(new s3.HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.deepEqual([head.ContentLength, head.ETag, head.Metadata], [data.length, md5, { version: '0.1.0', 'built-by': 'deploy' }]);
    assert.equal(head.ChecksumSHA256, undefined, 'checksums only when asked for');
    assert.equal((await client.send(new s3.HeadObjectCommand({ Bucket: BUCKET, Key: key, ChecksumMode: 'ENABLED' }))).ChecksumSHA256, sha256);

    // The SDK asks for the checksum on GetObject and checks the bytes against it as they arrive.
    const got = await client.send(new s3.GetObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.deepEqual([got.ContentLength, got.ETag, got.ChecksumSHA256, got.Metadata], [data.length, md5, sha256, { version: '0.1.0', 'built-by': 'deploy' }]);
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data), 'byte-identical');
  });

  test('S3 verifies what the client says of the body: a wrong SHA-256 is BadDigest, nothing stored', async () => {
    const wrong = createHash('sha256').update('something else').digest('base64');
    const e = await failure(client.send(new s3.PutObjectCommand({ Bucket: BUCKET, Key: 'builds/bad.tgz', Body: data, ChecksumSHA256: wrong })));
    assert.deepEqual([e.name, e.$metadata.httpStatusCode], ['BadDigest', 400]);
    assert.equal(fake.buckets.get(BUCKET)!.Objects.has('builds/bad.tgz'), false);
  });

  test('the default CRC32, and the other algorithms the SDK computes, are checked against the bytes received', async () => {
    const body = randomBytes(4096);
    await client.send(new s3.PutObjectCommand({ Bucket: BUCKET, Key: 'sums/default', Body: body }));
    assert.equal(wire.requests.findLast((r) => r.action === 'PutObject')!.headers['x-amz-checksum-crc32'], checksum('CRC32', body));
    for (const algorithm of ['CRC32C', 'CRC64NVME', 'SHA1'] as const) {
      const put = await client.send(new s3.PutObjectCommand({ Bucket: BUCKET, Key: `sums/${algorithm}`, Body: body, ChecksumAlgorithm: algorithm }));
      assert.equal(put[`Checksum${algorithm}`], checksum(algorithm, body), `${algorithm}: the SDK's value is the fake's`);
      const got = await client.send(new s3.GetObjectCommand({ Bucket: BUCKET, Key: `sums/${algorithm}` }));
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
    }
    await client.send(new s3.DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: ['default', 'CRC32C', 'CRC64NVME', 'SHA1'].map((k) => ({ Key: `sums/${k}` })), Quiet: true } }));
  });

  test('a streamed body travels aws-chunked with a trailing CRC32, and is stored decoded', async () => {
    const parts = [randomBytes(70_000), randomBytes(1), randomBytes(50_000)];
    const whole = Buffer.concat(parts);
    await client.send(new s3.PutObjectCommand({ Bucket: BUCKET, Key: 'builds/streamed.bin', Body: Readable.from(parts), ContentLength: whole.length }));
    const sent = wire.requests.findLast((r) => r.action === 'PutObject')!;
    assert.equal(sent.headers['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    assert.equal(sent.headers['content-encoding'], 'aws-chunked');
    assert.equal(sent.headers['x-amz-trailer'], 'x-amz-checksum-crc32');
    assert.equal(sent.headers['x-amz-decoded-content-length'], String(whole.length));
    const stored = fake.buckets.get(BUCKET)!.Objects.get('builds/streamed.bin')!;
    assert.ok(stored.Body.equals(whole));
    assert.deepEqual(stored.Checksum, { algorithm: 'CRC32', value: checksum('CRC32', whole) }, 'the trailer became the object checksum');
    assert.equal(fake.calls('s3:PutObject').at(-1)!.ContentEncoding, undefined, 'aws-chunked is not stored as the content encoding');
  });

  test('the wire checks what the SDK never gets wrong: body hash, XML, chunk framing and trailers', async () => {
    const code = (r: { body: string }) => /<Code>([^<]+)<\/Code>/.exec(r.body)?.[1];
    const tagging = '<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a</Key></TagSet></Tagging>';
    const badXml = await signedRequest(wire, 'PUT', `/${BUCKET}/?tagging=`, { 'x-amz-content-sha256': hex(tagging), 'content-length': String(tagging.length) }, tagging);
    assert.deepEqual([badXml.status, code(badXml)], [400, 'MalformedXML']);

    const lying = await signedRequest(wire, 'PUT', `/${BUCKET}/lie?x-id=PutObject`, { 'x-amz-content-sha256': hex('something else'), 'content-length': '5' }, 'hello');
    assert.deepEqual([lying.status, code(lying)], [400, 'XAmzContentSHA256Mismatch']);
    const unsaid = await signedRequest(wire, 'PUT', `/${BUCKET}/unsaid?x-id=PutObject`, { 'content-length': '5' }, 'hello');
    assert.deepEqual([unsaid.status, code(unsaid)], [400, 'InvalidRequest']);

    const chunked = (trailer: string) => Buffer.from(`5\r\nhello\r\n0\r\n${trailer}\r\n`);
    const streaming = (body: Buffer) => ({
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '5',
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'content-length': String(body.length),
    });
    const noTrailer = chunked('');
    const missing = await signedRequest(wire, 'PUT', `/${BUCKET}/chunked?x-id=PutObject`, streaming(noTrailer), noTrailer);
    assert.deepEqual([missing.status, code(missing)], [400, 'MalformedTrailerError']);
    const wrongSum = chunked(`x-amz-checksum-crc32:${checksum('CRC32', Buffer.from('HELLO'))}\r\n`);
    const damaged = await signedRequest(wire, 'PUT', `/${BUCKET}/chunked?x-id=PutObject`, streaming(wrongSum), wrongSum);
    assert.deepEqual([damaged.status, code(damaged)], [400, 'BadDigest']);
    const short = Buffer.from('9\r\nhello\r\n0\r\n\r\n');
    const framing = await signedRequest(wire, 'PUT', `/${BUCKET}/chunked?x-id=PutObject`, { ...streaming(short), 'x-amz-trailer': '' }, short);
    assert.deepEqual([framing.status, code(framing)], [400, 'IncompleteBody']);
    const good = chunked(`x-amz-checksum-crc32:${checksum('CRC32', Buffer.from('hello'))}\r\n`);
    assert.equal((await signedRequest(wire, 'PUT', `/${BUCKET}/chunked?x-id=PutObject`, streaming(good), good)).status, 200);
    assert.equal(fake.buckets.get(BUCKET)!.Objects.get('chunked')?.Body.toString(), 'hello');
    assert.deepEqual(
      ['lie', 'unsaid'].filter((k) => fake.buckets.get(BUCKET)!.Objects.has(k)),
      [],
    );
    await client.send(new s3.DeleteObjectCommand({ Bucket: BUCKET, Key: 'chunked' }));
  });

  test('an object damaged at rest fails the checksum check of the SDK on the way back', async () => {
    const o = fake.buckets.get(BUCKET)!.Objects.get('builds/streamed.bin')!;
    const flip = () => o.Body.writeUInt8(o.Body.readUInt8(1000) ^ 0xff, 1000);
    flip();
    const got = await client.send(new s3.GetObjectCommand({ Bucket: BUCKET, Key: 'builds/streamed.bin' }));
    await assert.rejects(got.Body!.transformToByteArray(), /Checksum mismatch/);
    flip();
  });

  test('listing: by prefix, and one key a page through the continuation tokens', async () => {
    for (const k of ['builds/a.txt', 'builds/b.txt', 'other/z.txt']) await client.send(new s3.PutObjectCommand({ Bucket: BUCKET, Key: k, Body: k }));
    const builds = ['builds/a.txt', 'builds/b.txt', 'builds/dynwork 0.1.0+wire.tgz', 'builds/streamed.bin'];
    const all = await client.send(new s3.ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'builds/' }));
    assert.deepEqual([all.KeyCount, all.IsTruncated, all.Prefix, all.Contents?.map((c) => c.Key)], [4, false, 'builds/', builds]);
    const big = all.Contents!.find((c) => c.Key === 'builds/dynwork 0.1.0+wire.tgz')!;
    assert.deepEqual([big.Size, big.ETag, big.ChecksumAlgorithm], [data.length, `"${createHash('md5').update(data).digest('hex')}"`, ['SHA256']]);

    const pages: { keys: string[] | undefined; count: number | undefined; truncated: boolean | undefined }[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new s3.ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'builds/', MaxKeys: 1, ContinuationToken: token }));
      pages.push({ keys: page.Contents?.map((c) => c.Key!), count: page.KeyCount, truncated: page.IsTruncated });
      assert.equal(page.ContinuationToken, token, 'the token asked with is echoed');
      token = page.NextContinuationToken;
    } while (token);
    assert.deepEqual(
      pages,
      builds.map((k, i) => ({ keys: [k], count: 1, truncated: i < builds.length - 1 })),
    );
    const listed = wire.requests.filter((r) => r.action === 'ListObjectsV2').at(-1)!;
    assert.match(listed.url, /^\/dynwork-builds-wire\/\?continuation-token=[^&]+&list-type=2&max-keys=1&prefix=builds%2F$/);

    const folders = await client.send(new s3.ListObjectsV2Command({ Bucket: BUCKET, Delimiter: '/' }));
    assert.deepEqual([folders.Contents, folders.CommonPrefixes?.map((p) => p.Prefix), folders.KeyCount], [undefined, ['builds/', 'other/'], 2]);
    const bad = await failure(client.send(new s3.ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: 'nonsense' })));
    assert.deepEqual([bad.name, bad.$metadata.httpStatusCode], ['InvalidArgument', 400]);
  });

  test('a fault injected on an S3 action reaches the client over the wire with its code and status', async () => {
    fake.fail('s3:PutObject', s3Error('AccessDenied', 403, 'Access Denied'));
    const e = await failure(client.send(new s3.PutObjectCommand({ Bucket: BUCKET, Key: 'denied', Body: 'x' })));
    assert.deepEqual([e.name, e.message, e.$metadata.httpStatusCode], ['AccessDenied', 'Access Denied', 403]);
    assert.equal(fake.buckets.get(BUCKET)!.Objects.has('denied'), false);
  });

  test('a bucket is reached in its own region: elsewhere a 301 that the SDK can follow', async () => {
    const us = wireClient(wire, { region: 'us-east-1' });
    const following = wireClient(wire, { region: 'us-east-1', followRegionRedirects: true });
    try {
      const moved = await failure(us.send(new s3.ListObjectsV2Command({ Bucket: BUCKET })));
      assert.deepEqual([moved.name, moved.$metadata.httpStatusCode, (moved as unknown as { Endpoint: string }).Endpoint], ['PermanentRedirect', 301, 's3.eu-west-1.amazonaws.com']);
      assert.equal((await following.send(new s3.ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'other/' }))).KeyCount, 1);
      assert.equal(wire.requests.at(-1)!.region, 'eu-west-1', 'signed again for the bucket region the 301 named');
    } finally {
      us.destroy();
      following.destroy();
    }
  });

  test('deleting: a bucket with objects is refused; emptied, it goes, and HeadBucket then says NotFound', async () => {
    const full = await failure(client.send(new s3.DeleteBucketCommand({ Bucket: BUCKET })));
    assert.ok(full.name === 'BucketNotEmpty' && full.$metadata.httpStatusCode === 409, `${full.name} ${full.$metadata.httpStatusCode}`);
    const listed = await client.send(new s3.ListObjectsV2Command({ Bucket: BUCKET }));
    const keys = listed.Contents!.map((c) => c.Key!);
    const deleted = await client.send(new s3.DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys.slice(1).map((Key) => ({ Key })) } }));
    assert.deepEqual(
      deleted.Deleted?.map((d) => d.Key),
      keys.slice(1),
    );
    assert.equal((await client.send(new s3.DeleteObjectCommand({ Bucket: BUCKET, Key: keys[0]! }))).$metadata.httpStatusCode, 204);
    assert.equal((await client.send(new s3.ListObjectsV2Command({ Bucket: BUCKET }))).KeyCount, 0);
    const missing = await failure(client.send(new s3.GetObjectCommand({ Bucket: BUCKET, Key: keys[0]! })));
    assert.ok(missing instanceof s3.NoSuchKey && missing.$metadata.httpStatusCode === 404);
    const headMissing = await failure(client.send(new s3.HeadObjectCommand({ Bucket: BUCKET, Key: keys[0]! })));
    assert.ok(headMissing instanceof s3.NotFound && headMissing.$metadata.httpStatusCode === 404);

    assert.equal((await client.send(new s3.DeleteBucketCommand({ Bucket: BUCKET }))).$metadata.httpStatusCode, 204);
    const gone = await failure(client.send(new s3.HeadBucketCommand({ Bucket: BUCKET })));
    assert.ok(gone instanceof s3.NotFound, gone.name);
    assert.equal(gone.$metadata.httpStatusCode, 404);
    const noBucket = await failure(client.send(new s3.ListObjectsV2Command({ Bucket: BUCKET })));
    assert.ok(noBucket instanceof s3.NoSuchBucket && noBucket.$metadata.httpStatusCode === 404);
    assert.deepEqual(fake.leftovers(), []);
  });

  test('a wrong secret is refused for S3 as for the other services, and changes nothing', async () => {
    const wrong = wireClient(wire, { secret: 'not-the-secret' });
    const seen = wire.requests.length;
    const logged = fake.log.length;
    try {
      const put = await failure(wrong.send(new s3.CreateBucketCommand({ Bucket: 'dynwork-forged' })));
      assert.deepEqual([put.name, put.$metadata.httpStatusCode], ['SignatureDoesNotMatch', 403]);
      const head = await failure(wrong.send(new s3.HeadBucketCommand({ Bucket: 'dynwork-forged' })));
      assert.equal(head.$metadata.httpStatusCode, 403, 'a HEAD error is its status alone');
    } finally {
      wrong.destroy();
    }
    assert.deepEqual(
      wire.requests.slice(seen).map((r) => [r.action, r.signedBy]),
      [
        ['CreateBucket', null],
        ['HeadBucket', null],
      ],
    );
    assert.equal(fake.log.length, logged, 'the account never saw them');
    assert.equal(fake.buckets.has('dynwork-forged'), false);
  });
});

/** One walk through every operation; what each answer says, comparable between the wire and the mock. */
async function scenario(client: s3.S3Client): Promise<unknown[]> {
  const Bucket = 'dynwork-builds-parity';
  const out: unknown[] = [];
  const note = async (p: Promise<object>) => {
    try {
      const r = answer(await p) as Record<string, unknown>;
      if (r.Body) r.Body = await (r.Body as { transformToString(): Promise<string> }).transformToString();
      delete r.LastModified;
      if (Array.isArray(r.Contents)) for (const c of r.Contents as Record<string, unknown>[]) delete c.LastModified;
      out.push(r);
    } catch (e) {
      const err = e as Error & { $metadata: { httpStatusCode?: number } };
      out.push({ error: err.name, status: err.$metadata.httpStatusCode, modelled: err.constructor.name });
    }
  };
  await note(client.send(new s3.CreateBucketCommand({ Bucket })));
  await note(client.send(new s3.HeadBucketCommand({ Bucket })));
  await note(
    client.send(
      new s3.PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true } }),
    ),
  );
  await note(client.send(new s3.GetPublicAccessBlockCommand({ Bucket })));
  await note(
    client.send(
      new s3.PutBucketEncryptionCommand({ Bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: true }] } }),
    ),
  );
  await note(client.send(new s3.GetBucketEncryptionCommand({ Bucket })));
  await note(client.send(new s3.GetBucketPolicyCommand({ Bucket })));
  await note(client.send(new s3.PutBucketPolicyCommand({ Bucket, Policy: '{"Version":"2012-10-17","Statement":[]}' })));
  await note(client.send(new s3.GetBucketPolicyCommand({ Bucket })));
  await note(client.send(new s3.PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: 'dynwork:cluster', Value: 'parity' }] } })));
  await note(client.send(new s3.GetBucketTaggingCommand({ Bucket })));
  // Checksum algorithm, content type and checksum mode spelled out: over the wire the SDK would add them; mocked, nothing does.
  for (const Key of ['a/one.txt', 'a/two.txt', 'b/three.txt']) {
    await note(client.send(new s3.PutObjectCommand({ Bucket, Key, Body: `contents of ${Key}`, ContentType: 'text/plain', ChecksumAlgorithm: 'CRC32', Metadata: { Origin: 'scenario' } })));
  }
  await note(client.send(new s3.HeadObjectCommand({ Bucket, Key: 'a/one.txt' })));
  await note(client.send(new s3.GetObjectCommand({ Bucket, Key: 'a/two.txt', ChecksumMode: 'ENABLED' })));
  await note(client.send(new s3.GetObjectCommand({ Bucket, Key: 'a/none.txt' })));
  await note(client.send(new s3.HeadObjectCommand({ Bucket, Key: 'a/none.txt' })));
  await note(client.send(new s3.ListObjectsV2Command({ Bucket, Prefix: 'a/' })));
  await note(client.send(new s3.ListObjectsV2Command({ Bucket, MaxKeys: 2 })));
  await note(client.send(new s3.DeleteBucketCommand({ Bucket })));
  await note(client.send(new s3.DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'a/one.txt' }, { Key: 'a/two.txt' }] } })));
  await note(client.send(new s3.DeleteObjectCommand({ Bucket, Key: 'b/three.txt' })));
  await note(client.send(new s3.DeleteBucketCommand({ Bucket })));
  await note(client.send(new s3.HeadBucketCommand({ Bucket })));
  await note(client.send(new s3.PutObjectCommand({ Bucket, Key: 'late.txt', Body: 'x' })));
  return out;
}

describe('S3 behind aws-sdk-client-mock: the same handlers', () => {
  let fake: FakeAws;
  let client: s3.S3Client;

  before(() => {
    fake = new FakeAws();
    client = new s3.S3Client({ region: 'eu-west-1' });
  });
  after(() => {
    client.destroy();
    fake.restore();
  });

  test('bucket and object calls are answered from the account, bodies of any kind read as bytes', async () => {
    await client.send(new s3.CreateBucketCommand({ Bucket: 'dynwork-builds-mock' }));
    assert.equal(fake.buckets.get('dynwork-builds-mock')?.Region, 'eu-west-1', "no LocationConstraint: the client's region, as the SDK fills it in");
    const bytes = randomBytes(1000);
    await client.send(new s3.PutObjectCommand({ Bucket: 'dynwork-builds-mock', Key: 'bytes', Body: bytes, Metadata: { Kind: 'buffer' } }));
    await client.send(new s3.PutObjectCommand({ Bucket: 'dynwork-builds-mock', Key: 'text', Body: 'hello' }));
    await client.send(new s3.PutObjectCommand({ Bucket: 'dynwork-builds-mock', Key: 'stream', Body: Readable.from([Buffer.from('str'), Buffer.from('eamed')]) }));
    assert.deepEqual(
      fake.calls('s3:PutObject').map((c) => Buffer.from(c.Body as Uint8Array | string).toString('latin1')),
      [bytes.toString('latin1'), 'hello', 'streamed'],
      'the log holds every body as sent, a stream read into bytes',
    );

    const head = await client.send(new s3.HeadObjectCommand({ Bucket: 'dynwork-builds-mock', Key: 'bytes' }));
    assert.deepEqual([head.ContentLength, head.Metadata, head.ContentType], [1000, { kind: 'buffer' }, 'binary/octet-stream']);
    const got = await client.send(new s3.GetObjectCommand({ Bucket: 'dynwork-builds-mock', Key: 'bytes', ChecksumMode: 'ENABLED' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(bytes));
    assert.equal(got.ChecksumCRC64NVME, checksum('CRC64NVME', bytes), 'sent without a checksum, S3 computes a CRC64NVME');
    assert.equal(await (await client.send(new s3.GetObjectCommand({ Bucket: 'dynwork-builds-mock', Key: 'stream' }))).Body!.transformToString(), 'streamed');

    const listed = await client.send(new s3.ListObjectsV2Command({ Bucket: 'dynwork-builds-mock', MaxKeys: 2 }));
    assert.deepEqual([listed.Contents?.map((c) => c.Key), listed.IsTruncated], [['bytes', 'stream'], true]);
    const rest = await client.send(new s3.ListObjectsV2Command({ Bucket: 'dynwork-builds-mock', MaxKeys: 2, ContinuationToken: listed.NextContinuationToken }));
    assert.deepEqual([rest.Contents?.map((c) => c.Key), rest.IsTruncated], [['text'], false]);

    const full = await failure(client.send(new s3.DeleteBucketCommand({ Bucket: 'dynwork-builds-mock' })));
    assert.deepEqual([full.name, full.$metadata.httpStatusCode], ['BucketNotEmpty', 409]);
    await client.send(new s3.DeleteObjectsCommand({ Bucket: 'dynwork-builds-mock', Delete: { Objects: [{ Key: 'bytes' }, { Key: 'text' }, { Key: 'stream' }] } }));
    await client.send(new s3.DeleteBucketCommand({ Bucket: 'dynwork-builds-mock' }));
    const gone = await failure(client.send(new s3.HeadBucketCommand({ Bucket: 'dynwork-builds-mock' })));
    assert.ok(gone instanceof s3.NotFound && gone.$metadata.httpStatusCode === 404);
    assert.deepEqual(
      fake.mutations().filter((a) => a.startsWith('s3:')),
      ['s3:CreateBucket', 's3:PutObject', 's3:PutObject', 's3:PutObject', 's3:DeleteBucket', 's3:DeleteObjects', 's3:DeleteBucket'],
    );
    assert.deepEqual(fake.leftovers(), []);
  });

  test('the same scenario gets the same answers mocked and over the wire', async () => {
    const mocked = await scenario(client);
    fake.restore();
    const served = new FakeAws({ mock: false });
    const wire = await serveAws(served, { [KEY]: SECRET });
    const real = wireClient(wire);
    try {
      const overWire = await scenario(real);
      assert.deepEqual(mocked, overWire);
      assert.ok(wire.requests.length >= mocked.length && wire.requests.every((r) => r.signedBy === KEY));
    } finally {
      real.destroy();
      await wire.close();
    }
    // The scenario ends with errors of each kind; spot-check they are the modelled ones.
    assert.deepEqual(mocked.slice(-2), [
      { error: 'NotFound', status: 404, modelled: 'NotFound' },
      { error: 'NoSuchBucket', status: 404, modelled: 'NoSuchBucket' },
    ]);
  });
});

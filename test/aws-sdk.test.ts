/**
 * The typed AWS interfaces: each method sends its own SDK command, and a
 * refused call names the IAM permission a user must be granted, which for S3
 * is not always the operation's name.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { PricingClient } from '@aws-sdk/client-pricing';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { createAwsClients } from '../src/providers/aws/clients.js';
import { AwsCallError, toDynworkError } from '../src/providers/aws/errors.js';

const denied = () => Object.assign(new Error('User: arn:aws:iam::123456789012:user/x is not authorized'), { name: 'AccessDenied' });

const mocks = {
  ec2: mockClient(EC2Client),
  iam: mockClient(IAMClient),
  ssm: mockClient(SSMClient),
  sts: mockClient(STSClient),
  s3: mockClient(S3Client),
  pricing: mockClient(PricingClient),
};
mocks.ec2.onAnyCommand().rejects(denied());
mocks.iam.onAnyCommand().rejects(denied());
mocks.ssm.onAnyCommand().rejects(denied());
mocks.sts.onAnyCommand().rejects(denied());
mocks.s3.onAnyCommand().rejects(denied());
mocks.pricing.onAnyCommand().rejects(denied());
const clients = createAwsClients({ region: 'us-east-1' });

afterEach(() => {
  for (const m of Object.values(mocks)) m.resetHistory();
});
after(() => {
  for (const m of Object.values(mocks)) m.restore();
  clients.destroy();
});

/** The permission the user is told to get, as the CLI prints it. */
async function refusal(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof AwsCallError, `an AwsCallError, got ${String(err)}`);
    assert.equal(err.code, 'AccessDenied');
    return toDynworkError(err).message;
  }
  assert.fail('expected the call to fail');
}

describe('a refused call names the permission to grant', () => {
  test('one operation of each service', async () => {
    assert.equal(await refusal(() => clients.ec2.runInstances({ MinCount: 1, MaxCount: 1 })), 'your AWS identity is not allowed to call ec2:RunInstances');
    assert.equal(await refusal(() => clients.iam.getRole({ RoleName: 'r' })), 'your AWS identity is not allowed to call iam:GetRole');
    assert.equal(await refusal(() => clients.ssm.getParameter({ Name: 'p' })), 'your AWS identity is not allowed to call ssm:GetParameter');
    assert.equal(await refusal(() => clients.sts.getCallerIdentity({})), 'your AWS identity is not allowed to call sts:GetCallerIdentity');
    assert.equal(await refusal(async () => (await clients.pricing()).getProducts({ ServiceCode: 'AmazonEC2' })), 'your AWS identity is not allowed to call pricing:GetProducts');
    // S3 checks HeadBucket against s3:ListBucket: granting "s3:HeadBucket" would change nothing.
    assert.equal(await refusal(() => clients.s3.headBucket({ Bucket: 'b' })), 'your AWS identity is not allowed to call s3:ListBucket');
    assert.equal(await refusal(() => clients.s3.putObject({ Bucket: 'b', Key: 'k' })), 'your AWS identity is not allowed to call s3:PutObject');
  });

  test('every method sends its own command and names its action', async () => {
    const s3Actions: Record<string, string> = {
      HeadBucket: 'ListBucket',
      ListObjectsV2: 'ListBucket',
      HeadObject: 'GetObject',
      DeleteObjects: 'DeleteObject',
      PutPublicAccessBlock: 'PutBucketPublicAccessBlock',
      GetPublicAccessBlock: 'GetBucketPublicAccessBlock',
      PutBucketEncryption: 'PutEncryptionConfiguration',
    };
    const apis = { ec2: clients.ec2, iam: clients.iam, ssm: clients.ssm, sts: clients.sts, s3: clients.s3, pricing: await clients.pricing() };
    let checked = 0;
    for (const [service, api] of Object.entries(apis)) {
      const mock = mocks[service as keyof typeof mocks];
      for (const [method, fn] of Object.entries(api) as [string, unknown][]) {
        // Waiters poll until their time is up, by design: not calls to check here.
        if (method.startsWith('waitUntil') || typeof fn !== 'function') continue;
        const op = method[0]!.toUpperCase() + method.slice(1);
        const action = `${service}:${service === 's3' ? (s3Actions[op] ?? op) : op}`;
        const send = fn as (this: typeof api, input: object) => Promise<unknown>;
        assert.equal(await refusal(() => send.call(api, {})), `your AWS identity is not allowed to call ${action}`, method);
        assert.equal(mock.calls().at(-1)?.args[0].constructor.name, `${op}Command`, `${service}.${method} sends ${op}Command`);
        checked++;
      }
    }
    assert.ok(checked >= 50, `${checked} methods checked`);
  });
});

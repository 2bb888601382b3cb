import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { call, createAwsClients } from '../src/providers/aws/clients.js';
import { dynwork } from './cli.js';
import { tempDir } from './helpers.js';

/**
 * An EC2-compatible endpoint on 127.0.0.1 that knows of no resources: it
 * answers the query (EC2, IAM, STS) and JSON (SSM) protocols the way AWS
 * answers an empty account, and records every request it gets.
 */
interface Seen {
  service: string;
  action: string;
  params: URLSearchParams | Record<string, unknown>;
  signed: boolean;
}

function emptyAccount(seen: Seen[]): Server {
  return createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const auth = String(req.headers.authorization ?? '');
      const service = /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\//.exec(auth)?.[1] ?? '?';
      const target = String(req.headers['x-amz-target'] ?? '');
      if (target) {
        const action = target.split('.')[1] ?? '?';
        const params = JSON.parse(body || '{}') as Record<string, unknown>;
        seen.push({ service, action, params, signed: auth.startsWith('AWS4-HMAC-SHA256') });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(action === 'GetParameters' ? { Parameters: [], InvalidParameters: params.Names } : {}));
        return;
      }
      const params = new URLSearchParams(body);
      const action = params.get('Action') ?? '?';
      seen.push({ service, action, params, signed: auth.startsWith('AWS4-HMAC-SHA256') });
      const xml = (name: string, inner: string, ns = 'http://ec2.amazonaws.com/doc/2016-11-15/') =>
        `<?xml version="1.0" encoding="UTF-8"?><${name}Response xmlns="${ns}">${inner}</${name}Response>`;
      res.setHeader('content-type', 'text/xml');
      if (service === 'ec2') {
        const sets: Record<string, string> = { DescribeInstances: 'reservationSet', DescribeSecurityGroups: 'securityGroupInfo', DescribeKeyPairs: 'keySet', DescribeVolumes: 'volumeSet' };
        res.end(xml(action, `<requestId>r-1</requestId><${sets[action] ?? 'unknown'}/>`));
      } else if (service === 'iam') {
        res.statusCode = 404;
        res.end(`<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>not found</Message></Error><RequestId>r-2</RequestId></ErrorResponse>`);
      } else if (service === 'sts') {
        res.end(
          xml(
            action,
            `<GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:user/local</Arn><UserId>AIDALOCAL</UserId><Account>000000000000</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-3</RequestId></ResponseMetadata>`,
            'https://sts.amazonaws.com/doc/2011-06-15/',
          ),
        );
      } else {
        res.statusCode = 400;
        res.end('unknown service');
      }
    });
  });
}

describe('AWS_ENDPOINT_URL', () => {
  const seen: Seen[] = [];
  let server: Server;
  let endpoint: string;
  const home = tempDir('dynwork-endpoint-');
  const env = () => ({
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'AKIDLOCALTEST',
    AWS_SECRET_ACCESS_KEY: 'local-secret-key',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(home.dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(home.dir, 'none'),
  });

  before(async () => {
    server = emptyAccount(seen);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    home.cleanup();
  });

  test('the CLI tears a cluster down against an EC2-compatible endpoint, with signed requests and no code change', async () => {
    seen.length = 0;
    const r = await dynwork(home.dir, ['teardown', '--provider', 'aws', '--cluster', 'ghost', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { nothingToDo: boolean; region: string; removed: unknown[] };
    assert.deepEqual([out.nothingToDo, out.region, out.removed], [true, 'us-east-1', []]);
    const calls = seen.map((s) => `${s.service}:${s.action}`);
    for (const c of ['ec2:DescribeInstances', 'ec2:DescribeSecurityGroups', 'ec2:DescribeKeyPairs', 'ec2:DescribeVolumes', 'ssm:GetParameters', 'iam:GetInstanceProfile', 'iam:GetRole']) {
      assert.ok(calls.includes(c), `${c} reached the endpoint (saw ${calls.join(', ')})`);
    }
    assert.ok(seen.every((s) => s.signed), 'every request is SigV4-signed');
    const sg = seen.find((s) => s.action === 'DescribeSecurityGroups')!.params as URLSearchParams;
    assert.equal(sg.get('Filter.1.Name'), 'tag:dynwork:cluster');
    assert.equal(sg.get('Filter.1.Value.1'), 'ghost');
    assert.doesNotMatch(r.stdout + r.stderr, /local-secret-key/);
  });

  test('STS too: the account check of deploy goes to the endpoint', async () => {
    seen.length = 0;
    const saved = { ...process.env };
    Object.assign(process.env, env());
    const clients = createAwsClients();
    try {
      const id = await call<{ Account?: string }>(clients.sts, new GetCallerIdentityCommand({}));
      assert.equal(id.Account, '000000000000');
      assert.deepEqual(seen.map((s) => `${s.service}:${s.action}`), ['sts:GetCallerIdentity']);
      assert.equal(await clients.region(), 'us-east-1');
    } finally {
      clients.destroy();
      for (const k of Object.keys(env())) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  test('commands that do not need AWS never load the SDK', async () => {
    seen.length = 0;
    const r = await dynwork(home.dir, ['teardown', '--cluster', 'nothing-here'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /AWS SDK|NodeVersionSupportWarning/);
    assert.deepEqual(seen, []);
  });

  test('aws options are checked before any AWS call: one line, exit 2', async () => {
    seen.length = 0;
    const cases: [string[], RegExp][] = [
      [['deploy', '--spot', '--region', 'eu-west-1'], /^dynwork: --region, --spot only apply to --provider aws\nhint: drop them, or add --provider aws\n$/],
      [['deploy', '--provider', 'aws', '--allow-cidr', '10.0.0.1'], /^dynwork: --allow-cidr "10\.0\.0\.1" is not an IPv4 CIDR \(e\.g\. 203\.0\.113\.7\/32\)\n/],
      [['deploy', '--provider', 'aws', '--subnet', 'vpc-1', '--instance-type', 'huge'], /^dynwork: instance type "huge" does not look like one \(e\.g\. t3\.micro\); --subnet "vpc-1" is not a subnet id \(subnet-…\)\n/],
      [['teardown', '--dry-run'], /^dynwork: --region, --profile and --dry-run only apply to --provider aws\n/],
    ];
    for (const [args, stderr] of cases) {
      const r = await dynwork(home.dir, [...args, '--cluster', 'opts'], { env: env() });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, stderr);
      assert.doesNotMatch(r.stderr, /NodeVersionSupportWarning/, 'the SDK is not even loaded');
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(seen, [], 'nothing reached AWS');
  });
});

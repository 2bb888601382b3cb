/**
 * The whole CLI against an EC2-compatible endpoint on 127.0.0.1, reached
 * only through AWS_ENDPOINT_URL: deploy, a second deploy that changes
 * nothing, status with its cost per hour, teardown that leaves nothing, a
 * teardown with nothing to do.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Parser as TarParser } from 'tar';
import { clusterDir } from '../src/state/paths.js';
import { VERSION } from '../src/version.js';
import { serveAws, type AwsWire } from './aws-wire.js';
import { dynwork } from './cli.js';
import { FakeAws } from './fake-aws.js';
import { tempDir } from './helpers.js';

const SECRET = 'wire-secret-access-key';

describe('deploy and teardown over the wire, through AWS_ENDPOINT_URL', () => {
  const fake = new FakeAws({ mock: false });
  const home = tempDir('dynwork-wire-');
  let wire: AwsWire;
  const env = () => ({
    AWS_ENDPOINT_URL: wire.url,
    AWS_ACCESS_KEY_ID: 'AKIDWIRETEST',
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(home.dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(home.dir, 'none'),
  });
  const run = (args: string[]) => dynwork(home.dir, args, { env: env(), timeoutMs: 120_000 });

  before(async () => {
    wire = await serveAws(fake, { AKIDWIRETEST: SECRET });
  });
  after(async () => {
    await wire.close();
    home.cleanup();
  });

  test('deploy builds the cluster, prints its endpoints and a curl line, and keeps secrets off the screen', async () => {
    const r = await run(['deploy', '--provider', 'aws', '--cluster', 'wire', '--allow-cidr', '203.0.113.7/32', '--no-wait']);
    assert.equal(r.code, 0, r.stderr);
    const managers = [...fake.instances.values()].filter((i) => i.Tags.some((t) => t.Key === 'dynwork:role' && t.Value === 'manager'));
    assert.equal(managers.length, 2);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'cluster "wire" on AWS us-east-1 (account 123456789012) is up');
    const eip = (index: number) => [...fake.addresses.values()].find((a) => a.Tags.some((t) => t.Key === 'dynwork:index' && t.Value === String(index)))!.PublicIp.replaceAll('.', '\\.');
    for (const [k, m] of managers.entries()) {
      assert.match(
        lines[1 + k]!,
        new RegExp(`^  manager ${k + 1}  https://${eip(k + 1)}:5000  ${m.InstanceId}  ${m.PrivateIpAddress.replaceAll('.', '\\.')}  \\(created, health not checked: dynwork status\\)$`),
      );
    }
    // The token reaches curl through a pipe, never its command line.
    assert.match(r.stdout, new RegExp(`curl -K <\\(npx dynwork token --curl-config --cluster wire\\) -X PUT "https://${eip(1)}:5000/enqueue\\?iterations=10" -d "data=Hello"`));

    // What reached the endpoint: every service, every request signed with the environment's key.
    const services = new Set(wire.requests.map((q) => q.service));
    assert.deepEqual([...services].sort(), ['ec2', 'iam', 's3', 'ssm', 'sts']);
    assert.ok(
      wire.requests.every((q) => q.signedBy === 'AKIDWIRETEST'),
      'every request carries a valid SigV4 signature made with the environment key',
    );
    const run1 = wire.requests.find((q) => q.action === 'RunInstances')!;
    const form = new URLSearchParams(run1.body);
    assert.equal(form.get('MetadataOptions.HttpTokens'), 'required');
    const tagKeys = [...form.entries()].filter(([k]) => /^TagSpecification\.1\.Tag\.\d+\.Key$/.test(k)).map(([, v]) => v);
    assert.deepEqual(tagKeys.sort(), ['Name', 'dynwork:cluster', 'dynwork:config', 'dynwork:index', 'dynwork:role']);

    // The build this CLI runs, packed for real, uploaded over the wire, and pinned in every machine's user-data.
    const [bucket] = [...fake.buckets.values()];
    assert.equal(bucket!.Name, 'dynwork-artifacts-123456789012-us-east-1');
    assert.equal(bucket!.Objects.size, 1);
    const [key, object] = [...bucket!.Objects.entries()][0]!;
    const sha = createHash('sha256').update(object.Body).digest('hex');
    assert.match(key, new RegExp(`^clusters/wire/dynwork-${VERSION.replace(/\./g, '\\.')}-${sha}\\.tgz$`), 'named by its hash');
    for (const q of wire.requests.filter((x) => x.action === 'RunInstances')) {
      const script = Buffer.from(new URLSearchParams(q.body).get('UserData') ?? '', 'base64').toString();
      assert.match(script, new RegExp(`^ARTIFACT_URL='s3://${bucket!.Name}/${key.replace(/\./g, '\\.')}'$`, 'm'));
      assert.match(script, new RegExp(`^ARTIFACT_SHA256='${sha}'$`, 'm'));
    }
    const entries: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const parser = new TarParser({ onReadEntry: (e) => void (entries.push(e.path), e.resume()) });
      parser.on('end', resolve).on('error', reject);
      parser.end(object.Body);
    });
    assert.ok(entries.includes('package/dist/bin/dynwork.js') && entries.includes('package/npm-shrinkwrap.json'), 'a real build: code and its lockfile');

    // What the account holds now, decoded from the wire.
    const group = [...fake.groups.values()][0]!;
    assert.deepEqual(
      group.IpPermissions.flatMap((p) => p.IpRanges?.map((x) => x.CidrIp) ?? []),
      ['203.0.113.7/32'],
    );
    assert.equal(fake.volumes.size, 2);
    assert.ok([...fake.volumes.values()].every((v) => v.Encrypted === true));
    // Tokens and manager keys secret; the CA and the certificates public.
    assert.deepEqual(
      [...fake.parameters.entries()].map(([name, p]) => [name, p.Type]),
      [
        ['/dynwork/wire/client-token', 'SecureString'],
        ['/dynwork/wire/worker-token', 'SecureString'],
        ['/dynwork/wire/ca', 'String'],
        ['/dynwork/wire/manager-1-key', 'SecureString'],
        ['/dynwork/wire/manager-1-cert', 'String'],
        ['/dynwork/wire/manager-2-key', 'SecureString'],
        ['/dynwork/wire/manager-2-cert', 'String'],
      ],
    );
    assert.equal(statSync(join(clusterDir('wire', home.dir), 'ssh-key.pem')).mode & 0o777, 0o600);

    const tokens = [...fake.parameters.values()].map((p) => p.Value);
    for (const secret of [SECRET, ...tokens]) {
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'no secret on the screen');
      assert.ok(
        !wire.requests.some(
          (q) =>
            q.action === 'RunInstances' &&
            Buffer.from(new URLSearchParams(q.body).get('UserData') ?? '', 'base64')
              .toString()
              .includes(secret),
        ),
        'no secret in user-data',
      );
    }
    const state = readFileSync(join(clusterDir('wire', home.dir), 'cluster.json'), 'utf8');
    assert.ok(!state.includes(SECRET), 'the AWS secret is not in the state file');
  });

  test('a second deploy changes nothing in the account', async () => {
    fake.clearLog();
    const r = await run(['deploy', '--provider', 'aws', '--cluster', 'wire', '--no-wait', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { changed: boolean; created: string[]; managers: { action: string }[] };
    assert.deepEqual([out.changed, out.created, out.managers.map((m) => m.action)], [false, [], ['unchanged', 'unchanged']]);
    assert.deepEqual(fake.mutations(), []);
  });

  test('status prices the running machines, even while no manager answers', async () => {
    // The managers' public addresses are not reachable from a test: point the state at a closed port on 127.0.0.1.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const file = join(clusterDir('wire', home.dir), 'cluster.json');
    const state = JSON.parse(readFileSync(file, 'utf8')) as { managers: { url: string }[] };
    for (const m of state.managers) m.url = `https://127.0.0.1:${port}`;
    writeFileSync(file, JSON.stringify(state), { mode: 0o600 });

    // Manager 1's boot script gave up; manager 2 is just not answering yet.
    const m1 = [...fake.instances.values()].find((i) => i.Tags.some((t) => t.Key === 'dynwork:index' && t.Value === '1'))!;
    fake.consoles.set(m1.InstanceId, '[  9.1] cloud-init[1201]: dynwork: bootstrapping a manager\n[ 14.2] cloud-init[1201]: dynwork: boot failed: download s3://b/k (gave up after 5 attempts)\n');
    const json = await run(['status', '--cluster', 'wire', '--json']);
    assert.equal(json.code, 1, 'no manager answers');
    const s = JSON.parse(json.stdout) as { provider: string; cost: { usdPerHour: number; basis: string }; managers: { up: boolean; error: string | null }[] };
    assert.deepEqual([s.provider, s.managers.map((m) => m.up)], ['aws', [false, false]]);
    assert.equal(s.managers[0]!.error, 'boot failed: download s3://b/k (gave up after 5 attempts)', 'read from its console');
    assert.notEqual(s.managers[1]!.error, null);
    assert.doesNotMatch(s.managers[1]!.error!, /boot failed/);
    assert.deepEqual([s.cost.usdPerHour.toFixed(4), s.cost.basis], ['0.0208', '2 × t3.micro on-demand at $0.0104/h; machines only']);
    const text = await run(['status', '--cluster', 'wire']);
    assert.match(text.stdout, /^cluster wire \(aws\)  0\.0 jobs\/s  \$0\.0208\/h\ncost: 2 × t3\.micro on-demand at \$0\.0104\/h; machines only\n/);
    assert.ok(
      wire.requests.some((q) => q.service === 'pricing' && q.action === 'GetProducts'),
      'the price came from the Price List API, through the same endpoint',
    );
  });

  test('teardown leaves nothing, and a second one has nothing to do', async () => {
    const r = await run(['teardown', '--provider', 'aws', '--cluster', 'wire', '--yes', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fake.leftovers(), []);
    const again = await run(['teardown', '--provider', 'aws', '--cluster', 'wire', '--yes', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { nothingToDo: boolean }).nothingToDo, true);
  });
});

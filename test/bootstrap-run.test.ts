/**
 * The rendered EC2 boot script, run for real by bash: its files go under a
 * scratch root, and the machine's commands (dnf, npm, aws, IMDS and https
 * through curl, systemctl, mkfs, mount, useradd) are stand-ins that log their
 * arguments and answer as Amazon Linux would; tar, sha256sum and node are
 * real, and the package is a real npm-pack-shaped tarball built here. What is
 * checked is what the machine would end up with: the files, their modes, the
 * unit, and the order of what was asked of AWS.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { renderUserData, type UserDataInput } from '../src/providers/aws/userdata.js';
import { managerUserData } from './fake-aws.js';
import { tempDir } from './helpers.js';

const INSTANCE = 'i-0123456789abcdef0';
const TOKENS: Record<string, string> = { '/dynwork/demo/client-token': 'client-secret-7f3a', '/dynwork/demo/worker-token': 'worker-secret-91c2' };
const BUCKET = 's3://dynwork-123456789012-eu-west-1/clusters/demo';

const scratch: { cleanup(): void }[] = [];
after(() => {
  for (const d of scratch) d.cleanup();
});

/**
 * The "bucket" the aws and curl stand-ins serve from: a real tarball in
 * npm-pack layout (everything under package/, worker dependencies already in
 * node_modules), and one with the same name pattern but other bytes.
 */
const artifacts = (() => {
  const d = tempDir('dynwork-artifact-');
  scratch.push(d);
  const files: Record<string, string> = {
    'package/package.json': JSON.stringify({ name: 'dynwork', version: '0.1.0', type: 'module', bin: { dynwork: 'dist/bin/dynwork.js' } }),
    'package/npm-shrinkwrap.json': JSON.stringify({ name: 'dynwork', version: '0.1.0', lockfileVersion: 3, packages: {} }),
    'package/dist/bin/dynwork.js': '#!/usr/bin/env node\nconsole.log("dynwork");\n',
    'package/templates/userdata/bootstrap.sh': '#!/bin/bash\n',
    'package/prebuilds/linux-x64/dynwork.node': 'native',
    'package/node_modules/commander/package.json': JSON.stringify({ name: 'commander', version: '14.0.3' }),
    // npm pack never makes one: proves only package/ is unpacked.
    'outside.txt': 'not part of the package',
  };
  const build = (name: string, extra: string, withDependencies = true) => {
    const src = join(d.dir, `src-${name}`);
    for (const [path, content] of Object.entries(files)) {
      if (!withDependencies && path.startsWith('package/node_modules/')) continue;
      mkdirSync(dirname(join(src, path)), { recursive: true });
      writeFileSync(join(src, path), content);
    }
    writeFileSync(join(src, 'package/dist/extra.txt'), extra);
    const file = join(d.dir, name);
    execFileSync('tar', ['-czf', file, '-C', src, 'package', 'outside.txt']);
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  };
  const sha256 = build('dynwork-0.1.0-good.tgz', 'the build the deployer packed');
  build('dynwork-0.1.0-tampered.tgz', 'something else');
  // What --package brings: a published tarball, no dependencies inside.
  const publishedSha256 = build('dynwork-0.2.0-published.tgz', 'a published version', false);
  return { dir: d.dir, sha256, publishedSha256 };
})();

/** The test build, from S3 unless another URL is given. */
function withArtifact(input: UserDataInput, artifactUrl = `${BUCKET}/dynwork-0.1.0-good.tgz`): UserDataInput {
  return { ...input, artifactUrl, artifactSha256: artifacts.sha256 };
}

/**
 * Every stand-in first logs "name args…" to $ROOT/calls. With FLAKY set to a
 * glob of "name args…", matching calls fail FLAKY_TIMES times (default 2)
 * before being answered: a network step that is not there yet.
 */
const PREAMBLE = (name: string) => `#!/bin/bash
echo "${name} $*" >> "$ROOT/calls"
if [ -n "\${FLAKY:-}" ]; then
  case "${name} $*" in
    $FLAKY)
      n=$(cat "$ROOT/flaky" 2>/dev/null || echo 0)
      if [ "$n" -lt "\${FLAKY_TIMES:-2}" ]; then echo $((n + 1)) > "$ROOT/flaky"; echo "${name}: stand-in failure $((n + 1))" >&2; exit 1; fi ;;
  esac
fi
`;

/** Stand-ins: each answers as the machine would. */
const STUBS: Record<string, string> = {
  curl: `case "$*" in
  *api/token*) echo imds-token ;;
  *meta-data/instance-id*) echo ${INSTANCE} ;;
  *https://*)
    while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift ;; https://*) url=$1 ;; esac; shift; done
    cp "$ARTIFACTS/\${url##*/}" "$out" || { echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; } ;;
  *) exit 22 ;;
esac`,
  aws: `case "$1 $2" in
  "s3 cp")
    shift 2; paths=()
    while [ $# -gt 0 ]; do case "$1" in --region) shift 2 ;; --*) shift ;; *) paths+=("$1"); shift ;; esac; done
    cp "$ARTIFACTS/\${paths[0]##*/}" "\${paths[1]}" || { echo "fatal error: An error occurred (404) when calling the HeadObject operation: Not Found" >&2; exit 1; } ;;
  "ssm get-parameter")
    while [ $# -gt 0 ]; do [ "$1" = --name ] && name=$2; shift; done
    case "$name" in
${Object.entries(TOKENS)
  .map(([n, v]) => `      ${n}) echo ${v} ;;`)
  .join('\n')}
      *) echo "ParameterNotFound" >&2; exit 254 ;;
    esac ;;
  "ec2 associate-address")
    # Refused while the instance profile's credentials are not there yet: twice, or always.
    n=$(cat "$ROOT/associate-failures" 2>/dev/null || echo 0)
    if [ "$n" -lt "\${ASSOCIATE_FAILS:-2}" ]; then echo $((n + 1)) > "$ROOT/associate-failures"; exit 254; fi ;;
  "ec2 attach-volume")
    # The first try finds the volume still held by a terminated predecessor.
    if [ ! -e "$ROOT/attach-tried" ]; then touch "$ROOT/attach-tried"; exit 254; fi
    while [ $# -gt 0 ]; do [ "$1" = --volume-id ] && vol=$2; shift; done
    mkdir -p "$ROOT/dev/disk/by-id" && touch "$ROOT/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_\${vol//-/}" ;;
esac`,
  // BLKID_UUID set (even empty) is what "blkid -s UUID" prints; BLKID_EXIT is what probing exits with.
  blkid: `if [ "$1" = -s ]; then echo "\${BLKID_UUID-0b5e1a2c-uuid}"; elif [ -n "\${BLKID_EXIT:-}" ]; then exit "$BLKID_EXIT"; elif [ -e "$ROOT/formatted" ]; then echo "$1: TYPE=xfs"; else exit 2; fi`,
  'mkfs.xfs': 'touch "$ROOT/formatted"',
  id: 'exit 1',
  // install -o/-g need the dynwork user, which the stand-in useradd does not make.
  install: `args=(); while [ $# -gt 0 ]; do case "$1" in -o|-g) shift 2 ;; *) args+=("$1"); shift ;; esac; done; exec /usr/bin/install "\${args[@]}"`,
  // Amazon Linux's nodejs22 package names its binary node-22.
  'node-22': `exec ${JSON.stringify(process.execPath)} "$@"`,
  dnf: 'true',
  'npm-22': 'echo "$PWD" >> "$ROOT/npm-cwd"',
  useradd: 'true',
  systemctl: 'true',
  mount: 'true',
  mountpoint: 'true',
  chown: 'true',
};

interface Run {
  code: number | null;
  root: string;
  calls: string[];
  log: string;
  /** The log's "dynwork: boot failed: " lines. */
  failures: string[];
  file(path: string): string;
  exists(path: string): boolean;
  mode(path: string): number;
}

/**
 * Runs the rendered script. The harness sets DYNWORK_BOOT_RETRY_BASE_S=0 so
 * retries wait 0 s; `extraStubs` can replace a stand-in (or add one, e.g. a
 * recording `sleep`).
 */
function boot(input: UserDataInput, env: Record<string, string> = {}, extraStubs: Record<string, string> = {}): Run {
  const dir = tempDir('dynwork-boot-');
  scratch.push(dir);
  const root = join(dir.dir, 'root');
  const bin = join(dir.dir, 'bin');
  for (const d of ['var/log', 'dev', 'etc/systemd/system', 'opt']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'etc/fstab'), '');
  mkdirSync(bin);
  for (const [name, body] of Object.entries({ ...STUBS, ...extraStubs })) {
    const file = join(bin, name);
    writeFileSync(file, `${PREAMBLE(name)}${body}\n`);
    chmodSync(file, 0o755);
  }
  const rendered = renderUserData(input);
  const script = rendered.replace(/^ROOT=''$/m, `ROOT='${root}'`);
  assert.notEqual(script, rendered, 'the script has its ROOT line');
  const r = spawnSync('bash', ['-c', script], {
    env: { PATH: `${bin}:/usr/bin:/bin`, ROOT: root, ARTIFACTS: artifacts.dir, DYNWORK_BOOT_RETRY_BASE_S: '0', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const read = (p: string) => readFileSync(join(root, p), 'utf8');
  const log = read('var/log/dynwork-bootstrap.log');
  return {
    code: r.status,
    root,
    calls: read('calls').trim().split('\n'),
    log,
    failures: log.split('\n').filter((l) => l.includes('boot failed')),
    file: read,
    exists: (p) => existsSync(join(root, p)),
    mode: (p) => statSync(join(root, p)).mode & 0o777,
  };
}

const manager = withArtifact(managerUserData);
const worker = withArtifact({
  ...managerUserData,
  role: 'worker',
  tokenParameters: { 'worker-token': '/dynwork/demo/worker-token' },
  dataVolumeId: '',
  addressAllocationId: '',
  config: { cluster: 'demo', workerTokenFile: 'worker-token' },
});
const SSM = (name: string) => `aws ssm get-parameter --region eu-west-1 --name /dynwork/demo/${name} --with-decryption --query Parameter.Value --output text`;
const started = (r: Run) => r.calls.some((c) => c.startsWith('systemctl'));

/** The boot stopped with exactly one failure line, this one, and started nothing. */
function assertRefused(r: Run, line: string) {
  assert.notEqual(r.code, 0, r.log);
  assert.deepEqual(r.failures, [line], r.log);
  assert.ok(!started(r), 'systemctl never called');
  assert.ok(!r.exists('etc/systemd/system/dynwork-manager.service') && !r.exists('etc/systemd/system/dynwork-worker.service'), 'no unit written');
}

describe('the EC2 boot script, run with stand-in commands', () => {
  test('a manager: checks its package, takes its Elastic IP, npm ci + rebuild of better-sqlite3 only, tokens into root-only files, its volume formatted and required by the unit', () => {
    const r = boot(manager);
    assert.equal(r.code, 0, r.log);
    assert.deepEqual(r.failures, []);
    assert.match(r.log, /^dynwork: bootstrapping a manager$/m);
    assert.match(r.log, /^dynwork: manager started$/m);

    const asked = r.calls.filter((c) => /^(aws|npm-22|dnf|useradd|mkfs\.xfs|mount|systemctl) /.test(c));
    assert.deepEqual(asked, [
      `aws s3 cp --region eu-west-1 --only-show-errors ${BUCKET}/dynwork-0.1.0-good.tgz ${r.root}/var/tmp/dynwork-boot/dynwork.tgz`,
      ...Array<string>(3).fill(`aws ec2 associate-address --region eu-west-1 --allocation-id eipalloc-0123456789abcdef0 --instance-id ${INSTANCE} --allow-reassociation`),
      'dnf install -y nodejs22 nodejs22-npm',
      'useradd --system --home-dir /var/lib/dynwork --shell /sbin/nologin dynwork',
      'npm-22 ci --omit=dev --ignore-scripts --no-audit --no-fund',
      'npm-22 rebuild better-sqlite3',
      SSM('client-token'),
      SSM('worker-token'),
      ...Array<string>(2).fill(`aws ec2 attach-volume --region eu-west-1 --volume-id vol-0123456789abcdef0 --instance-id ${INSTANCE} --device /dev/sdf`),
      `mkfs.xfs -L dynwork-data ${r.root}/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0`,
      'mount /var/lib/dynwork',
      'systemctl daemon-reload',
      'systemctl enable --now dynwork-manager.service',
    ]);
    assert.deepEqual(r.file('npm-cwd').trim().split('\n'), [`${r.root}/opt/dynwork`, `${r.root}/opt/dynwork`], 'npm runs in the unpacked package, where npm-shrinkwrap.json is');
    assert.ok(r.exists('opt/dynwork/npm-shrinkwrap.json'));
    assert.ok(!r.exists('var/tmp/dynwork-boot'), 'the downloaded tarball is removed');

    // Tokens: in root-only files, nowhere else.
    assert.equal(r.mode('etc/dynwork/credentials'), 0o700);
    for (const [name, parameter] of [
      ['client-token', '/dynwork/demo/client-token'],
      ['worker-token', '/dynwork/demo/worker-token'],
    ] as const) {
      assert.equal(r.file(`etc/dynwork/credentials/${name}`), `${TOKENS[parameter]}\n`);
      assert.equal(r.mode(`etc/dynwork/credentials/${name}`), 0o600);
    }
    const unit = r.file('etc/systemd/system/dynwork-manager.service');
    for (const secret of Object.values(TOKENS)) assert.ok(!unit.includes(secret) && !r.log.includes(secret) && !r.file('etc/dynwork/config.json').includes(secret), 'no token outside its file');

    const config = JSON.parse(r.file('etc/dynwork/config.json')) as Record<string, unknown>;
    assert.deepEqual(config, { ...manager.config, instanceId: INSTANCE }, 'the config survives quoting, with the instance id added');
    assert.equal(r.mode('etc/dynwork/config.json'), 0o600);
    assert.equal(r.file('etc/fstab'), 'UUID=0b5e1a2c-uuid /var/lib/dynwork xfs defaults,nofail 0 2\n');

    assert.match(unit, /^ExecStart=\/usr\/bin\/node-22 \/opt\/dynwork\/dist\/bin\/dynwork\.js manager --config \/etc\/dynwork\/config\.json$/m);
    assert.match(unit, /^\[Unit\]\n(?:.*\n)*RequiresMountsFor=\/var\/lib\/dynwork\n(?:.*\n)*\[Service\]/, 'no service without its volume mounted');
    assert.match(unit, /^LoadCredential=client-token:\/etc\/dynwork\/credentials\/client-token$/m);
    assert.match(unit, /^LoadCredential=worker-token:\/etc\/dynwork\/credentials\/worker-token$/m);
    assert.match(unit, /^User=dynwork$/m);
    assert.match(unit, /^Restart=always$/m);
    assert.doesNotMatch(unit, /poweroff/);
  });

  test('a worker boots from an s3:// package: unpacked into /opt/dynwork as built, no npm, Node only from dnf; a clean exit powers the machine off', () => {
    const r = boot(worker);
    assert.equal(r.code, 0, r.log);
    assert.deepEqual(r.failures, []);
    assert.deepEqual(
      r.calls.filter((c) => c.startsWith('aws ')),
      [`aws s3 cp --region eu-west-1 --only-show-errors ${BUCKET}/dynwork-0.1.0-good.tgz ${r.root}/var/tmp/dynwork-boot/dynwork.tgz`, SSM('worker-token')],
    );
    assert.deepEqual(
      r.calls.filter((c) => c.startsWith('dnf ')),
      ['dnf install -y nodejs22'],
    );
    assert.ok(!r.calls.some((c) => c.startsWith('npm')), 'no npm: the dependencies came in the tarball');

    // The package/ prefix is stripped; nothing outside it lands.
    assert.equal(r.file('opt/dynwork/dist/bin/dynwork.js'), '#!/usr/bin/env node\nconsole.log("dynwork");\n');
    assert.equal(r.file('opt/dynwork/dist/extra.txt'), 'the build the deployer packed');
    for (const p of ['package.json', 'npm-shrinkwrap.json', 'templates/userdata/bootstrap.sh', 'prebuilds/linux-x64/dynwork.node', 'node_modules/commander/package.json'])
      assert.ok(r.exists(`opt/dynwork/${p}`), p);
    assert.ok(!r.exists('opt/dynwork/package') && !r.exists('opt/dynwork/outside.txt') && !r.exists('outside.txt'));
    assert.equal(r.mode('opt/dynwork/dist/bin/dynwork.js') & 0o022, 0, 'nobody but root can change the code');

    const unit = r.file('etc/systemd/system/dynwork-worker.service');
    assert.match(unit, /^ExecStart=\/usr\/bin\/node-22 \/opt\/dynwork\/dist\/bin\/dynwork\.js worker --config \/etc\/dynwork\/config\.json$/m);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^SuccessAction=poweroff$/m);
    assert.match(unit, /^FailureAction=poweroff$/m);
    assert.doesNotMatch(unit, /client-token|RequiresMountsFor/);
    assert.equal(r.file('etc/fstab'), '', 'nothing mounted');
    assert.deepEqual(JSON.parse(r.file('etc/dynwork/config.json')), { cluster: 'demo', workerTokenFile: 'worker-token', instanceId: INSTANCE });
    assert.ok(r.calls.includes('systemctl enable --now dynwork-worker.service'));
  });

  test('a worker from a --package build without dependencies installs them with npm ci, and builds nothing', () => {
    const r = boot({ ...worker, artifactUrl: `${BUCKET}/dynwork-0.2.0-published.tgz`, artifactSha256: artifacts.publishedSha256 });
    assert.equal(r.code, 0, r.log);
    assert.deepEqual(
      r.calls.filter((c) => c.startsWith('dnf ')),
      ['dnf install -y nodejs22', 'dnf install -y nodejs22-npm'],
    );
    assert.deepEqual(
      r.calls.filter((c) => c.startsWith('npm-22 ')),
      ['npm-22 ci --omit=dev --ignore-scripts --no-audit --no-fund'],
    );
    assert.equal(r.file('npm-cwd').trim(), `${r.root}/opt/dynwork`);
    assert.ok(r.calls.includes('systemctl enable --now dynwork-worker.service'));
  });

  test('an https:// package is fetched with curl', () => {
    const r = boot(withArtifact(worker, 'https://builds.example.test/dynwork/dynwork-0.1.0-good.tgz'));
    assert.equal(r.code, 0, r.log);
    assert.ok(r.calls.includes(`curl -fsSL --max-time 300 -o ${r.root}/var/tmp/dynwork-boot/dynwork.tgz https://builds.example.test/dynwork/dynwork-0.1.0-good.tgz`), r.calls.join('\n'));
    assert.ok(!r.calls.some((c) => c.startsWith('aws s3')));
    assert.ok(r.exists('opt/dynwork/dist/bin/dynwork.js'));
  });

  test('a package whose SHA-256 does not match is refused before anything is installed or started', () => {
    for (const input of [withArtifact(worker, `${BUCKET}/dynwork-0.1.0-tampered.tgz`), withArtifact(manager, `${BUCKET}/dynwork-0.1.0-tampered.tgz`)]) {
      const r = boot(input);
      const got = createHash('sha256')
        .update(readFileSync(join(artifacts.dir, 'dynwork-0.1.0-tampered.tgz')))
        .digest('hex');
      assertRefused(r, `dynwork: boot failed: package checksum mismatch (expected ${artifacts.sha256}, got ${got})`);
      assert.ok(!r.exists('opt/dynwork'), 'nothing unpacked');
      assert.ok(!r.calls.some((c) => /^(dnf|npm-22|useradd) /.test(c) || c.startsWith('aws ec2') || c.startsWith('aws ssm')), r.calls.join('\n'));
    }
  });

  test('a package missing from the bucket: the download is retried, then named in the failure line', () => {
    const r = boot(withArtifact(worker, `${BUCKET}/dynwork-0.1.0-missing.tgz`));
    assertRefused(r, `dynwork: boot failed: download ${BUCKET}/dynwork-0.1.0-missing.tgz (gave up after 5 attempts)`);
    assert.equal(r.calls.filter((c) => c.startsWith('aws s3 cp')).length, 5);
    assert.match(r.log, /HeadObject operation: Not Found/, "the command's own error is in the log too");
  });

  // Each network step: failing twice is waited out; failing always names the step.
  const steps: [string, UserDataInput, string, string, number][] = [
    ['IMDS', worker, 'curl *api/token*', 'IMDS instance-id', 6],
    ['the S3 download', worker, 'aws s3 cp *', `download ${BUCKET}/dynwork-0.1.0-good.tgz`, 5],
    ['the https download', withArtifact(worker, 'https://builds.example.test/dynwork-0.1.0-good.tgz'), 'curl *https://*', 'download https://builds.example.test/dynwork-0.1.0-good.tgz', 5],
    ['dnf', manager, 'dnf install *', 'dnf install nodejs22', 5],
    ['npm ci', manager, 'npm-22 ci *', 'npm ci', 3],
    ['npm rebuild', manager, 'npm-22 rebuild *', 'npm rebuild better-sqlite3', 3],
    ['SSM', manager, 'aws ssm get-parameter *', 'ssm get-parameter /dynwork/demo/client-token', 5],
    ['attach-volume', manager, 'aws ec2 attach-volume *', 'attach-volume vol-0123456789abcdef0', 30],
  ];
  for (const [name, input, glob, what, attempts] of steps) {
    test(`${name}: failing twice is retried and the boot completes; failing always is "boot failed: ${what}"`, () => {
      const flaky = boot(input, { FLAKY: glob });
      assert.equal(flaky.code, 0, flaky.log);
      assert.deepEqual(flaky.failures, []);
      assert.match(flaky.log, new RegExp(`^dynwork: ${input.role} started$`, 'm'));
      assert.match(flaky.log, /failed \(attempt 2 of \d+\), retrying in 0s$/m);

      const down = boot(input, { FLAKY: glob, FLAKY_TIMES: '1000' });
      assertRefused(down, `dynwork: boot failed: ${what} (gave up after ${attempts} attempts)`);
      const matching = down.calls.filter((c) => new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(c));
      assert.equal(matching.length, attempts, 'bounded attempts');
    });
  }

  test('the backoff doubles from 2 s up to a cap of 30 s (a real boot: no test override)', () => {
    const sleeps = (r: Run) => r.calls.filter((c) => c.startsWith('sleep ')).map((c) => Number(c.slice(6)));
    const recordSleep = { sleep: 'true' };
    const dnf = boot(worker, { FLAKY: 'dnf install *', FLAKY_TIMES: '4', DYNWORK_BOOT_RETRY_BASE_S: '' }, recordSleep);
    assert.equal(dnf.code, 0, dnf.log);
    assert.deepEqual(sleeps(dnf), [2, 4, 8, 16]);
    const attach = boot(manager, { FLAKY: 'aws ec2 attach-volume *', FLAKY_TIMES: '1000', ASSOCIATE_FAILS: '0', DYNWORK_BOOT_RETRY_BASE_S: '' }, recordSleep);
    assert.deepEqual(sleeps(attach), [2, 4, 8, 16, ...Array<number>(25).fill(30)], 'about 13 minutes for a predecessor to let go of the volume');
  });

  test('an Elastic IP it cannot take: it says so and still starts, so peers and workers keep it', () => {
    const r = boot(manager, { ASSOCIATE_FAILS: '1000' });
    assert.equal(r.code, 0, r.log);
    assert.deepEqual(r.failures, []);
    assert.equal(r.calls.filter((c) => c.startsWith('aws ec2 associate-address')).length, 10, 'bounded retries');
    assert.match(r.log, /^dynwork: could not take Elastic IP eipalloc-0123456789abcdef0; clients cannot reach this manager$/m);
    assert.match(r.log, /^dynwork: manager started$/m);
  });

  test('a token it cannot read stops the boot before anything starts', () => {
    const r = boot({ ...manager, tokenParameters: { 'client-token': '/dynwork/other/client-token' } });
    assertRefused(r, 'dynwork: boot failed: ssm get-parameter /dynwork/other/client-token (gave up after 5 attempts)');
    assert.match(r.log, /ParameterNotFound/);
  });

  test('a data volume without a filesystem UUID stops the boot: no fstab line, no service on the root disk', () => {
    const r = boot(manager, { BLKID_UUID: '' });
    assertRefused(r, 'dynwork: boot failed: data volume vol-0123456789abcdef0 has no filesystem UUID');
    assert.equal(r.file('etc/fstab'), '');
    assert.ok(!r.calls.some((c) => c.startsWith('mount ')));
  });

  test('a data volume blkid cannot read (not "empty") is never formatted', () => {
    const r = boot(manager, { BLKID_EXIT: '4' });
    assertRefused(r, 'dynwork: boot failed: blkid cannot read data volume vol-0123456789abcdef0 (exit 4)');
    assert.ok(!r.calls.some((c) => c.startsWith('mkfs')), 'the queue is not wiped');
  });

  test('any other failing command is reported as the step it was part of', () => {
    const r = boot(worker, {}, { 'node-22': 'echo "node-22: cannot execute" >&2; exit 126' });
    assertRefused(r, 'dynwork: boot failed: write /etc/dynwork/config.json');
    assert.match(r.log, /node-22: cannot execute/);
  });
});

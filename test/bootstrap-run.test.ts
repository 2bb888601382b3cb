/**
 * The rendered EC2 boot script, run for real by bash: its files go under a
 * scratch root, and the machine's commands (dnf, npm, aws, IMDS through
 * curl, systemctl, mkfs, mount, useradd) are stand-ins that log their
 * arguments and answer as Amazon Linux would. What is checked is what the
 * machine would end up with: the files, their modes, the unit, and the
 * order of what was asked of AWS.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { renderUserData, type UserDataInput } from '../src/providers/aws/userdata.js';
import { managerUserData } from './fake-aws.js';
import { tempDir } from './helpers.js';

const INSTANCE = 'i-0123456789abcdef0';
const TOKENS: Record<string, string> = { '/dynwork/demo/client-token': 'client-secret-7f3a', '/dynwork/demo/worker-token': 'worker-secret-91c2' };

/** Stand-ins: each logs "name args…" to $ROOT/calls, then answers. */
const STUBS: Record<string, string> = {
  curl: `case "$*" in
  *api/token*) echo imds-token ;;
  *meta-data/instance-id*) echo ${INSTANCE} ;;
  *) exit 22 ;;
esac`,
  aws: `case "$1 $2" in
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
  blkid: `if [ "$1" = -s ]; then echo 0b5e1a2c-uuid; elif [ -e "$ROOT/formatted" ]; then echo "$1: TYPE=xfs"; else exit 2; fi`,
  'mkfs.xfs': 'touch "$ROOT/formatted"',
  id: 'exit 1',
  // install -o/-g need the dynwork user, which the stand-in useradd does not make.
  install: `args=(); while [ $# -gt 0 ]; do case "$1" in -o|-g) shift 2 ;; *) args+=("$1"); shift ;; esac; done; exec /usr/bin/install "\${args[@]}"`,
  sleep: 'true',
  dnf: 'true',
  'npm-22': 'true',
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
  file(path: string): string;
  mode(path: string): number;
}

const scratch: { cleanup(): void }[] = [];
after(() => {
  for (const d of scratch) d.cleanup();
});

function boot(input: UserDataInput, env: Record<string, string> = {}): Run {
  // Amazon Linux gets jq from the script's dnf line; here it must be on the machine already.
  assert.equal(spawnSync('jq', ['--version']).error, undefined, 'jq is installed (.ci/run installs it)');
  const dir = tempDir('dynwork-boot-');
  scratch.push(dir);
  const root = join(dir.dir, 'root');
  const bin = join(dir.dir, 'bin');
  for (const d of ['var/log', 'dev', 'etc/systemd/system', 'opt']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'etc/fstab'), '');
  mkdirSync(bin);
  for (const [name, body] of Object.entries(STUBS)) {
    const file = join(bin, name);
    writeFileSync(file, `#!/bin/bash\necho "${name} $*" >> "$ROOT/calls"\n${body}\n`);
    chmodSync(file, 0o755);
  }
  const rendered = renderUserData(input);
  const script = rendered.replace(/^ROOT=''$/m, `ROOT='${root}'`);
  assert.notEqual(script, rendered, 'the script has its ROOT line');
  const r = spawnSync('bash', ['-c', script], { env: { PATH: `${bin}:/usr/bin:/bin`, ROOT: root, ...env }, encoding: 'utf8', timeout: 60_000 });
  const read = (p: string) => readFileSync(join(root, p), 'utf8');
  const out: Run = {
    code: r.status,
    root,
    calls: read('calls').trim().split('\n'),
    log: read('var/log/dynwork-bootstrap.log'),
    file: read,
    mode: (p) => statSync(join(root, p)).mode & 0o777,
  };
  return out;
}

const manager = managerUserData;

describe('the EC2 boot script, run with stand-in commands', () => {
  test('a manager: takes its Elastic IP, reads its tokens into root-only files, formats and mounts its volume, starts under systemd', () => {
    const r = boot(manager);
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, /^dynwork: bootstrapping a manager$/m);
    assert.match(r.log, /^dynwork: manager started$/m);

    const asked = r.calls.filter((c) => /^(aws|npm-22|dnf|useradd|mkfs\.xfs|mount|systemctl) /.test(c));
    assert.deepEqual(asked, [
      ...Array(3).fill(`aws ec2 associate-address --region eu-west-1 --allocation-id eipalloc-0123456789abcdef0 --instance-id ${INSTANCE} --allow-reassociation`),
      'dnf install -y nodejs22 nodejs22-npm gcc-c++ make python3 jq',
      'useradd --system --home-dir /var/lib/dynwork --shell /sbin/nologin dynwork',
      `npm-22 install --prefix ${r.root}/opt/dynwork --omit=dev --no-audit --no-fund dynwork@0.1.0`,
      'aws ssm get-parameter --region eu-west-1 --name /dynwork/demo/client-token --with-decryption --query Parameter.Value --output text',
      'aws ssm get-parameter --region eu-west-1 --name /dynwork/demo/worker-token --with-decryption --query Parameter.Value --output text',
      ...Array(2).fill(`aws ec2 attach-volume --region eu-west-1 --volume-id vol-0123456789abcdef0 --instance-id ${INSTANCE} --device /dev/sdf`),
      `mkfs.xfs -L dynwork-data ${r.root}/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0`,
      'mount /var/lib/dynwork',
      'systemctl daemon-reload',
      'systemctl enable --now dynwork-manager.service',
    ]);

    // Tokens: in root-only files, nowhere else.
    assert.equal(r.mode('etc/dynwork/credentials'), 0o700);
    for (const [name, parameter] of [['client-token', '/dynwork/demo/client-token'], ['worker-token', '/dynwork/demo/worker-token']] as const) {
      assert.equal(r.file(`etc/dynwork/credentials/${name}`), `${TOKENS[parameter]}\n`);
      assert.equal(r.mode(`etc/dynwork/credentials/${name}`), 0o600);
    }
    const unit = r.file('etc/systemd/system/dynwork-manager.service');
    for (const secret of Object.values(TOKENS)) assert.ok(!unit.includes(secret) && !r.log.includes(secret) && !r.file('etc/dynwork/config.json').includes(secret), 'no token outside its file');

    const config = JSON.parse(r.file('etc/dynwork/config.json')) as Record<string, unknown>;
    assert.deepEqual(config, { ...manager.config, instanceId: INSTANCE }, 'the config survives quoting, with the instance id added');
    assert.equal(r.mode('etc/dynwork/config.json'), 0o600);
    assert.equal(r.file('etc/fstab'), 'UUID=0b5e1a2c-uuid /var/lib/dynwork xfs defaults,nofail 0 2\n');

    assert.match(unit, /^ExecStart=\/usr\/bin\/node-22 \/opt\/dynwork\/node_modules\/dynwork\/dist\/bin\/dynwork\.js manager --config \/etc\/dynwork\/config\.json$/m);
    assert.match(unit, /^LoadCredential=client-token:\/etc\/dynwork\/credentials\/client-token$/m);
    assert.match(unit, /^LoadCredential=worker-token:\/etc\/dynwork\/credentials\/worker-token$/m);
    assert.match(unit, /^User=dynwork$/m);
    assert.match(unit, /^Restart=always$/m);
    assert.doesNotMatch(unit, /poweroff/);
  });

  test('a worker: only the worker token, no volume, no address; a clean exit powers the machine off', () => {
    const r = boot({ ...manager, role: 'worker', tokenParameters: { 'worker-token': '/dynwork/demo/worker-token' }, dataVolumeId: '', addressAllocationId: '', config: { cluster: 'demo', workerTokenFile: 'worker-token' } });
    assert.equal(r.code, 0, r.log);
    const aws = r.calls.filter((c) => c.startsWith('aws '));
    assert.deepEqual(aws, ['aws ssm get-parameter --region eu-west-1 --name /dynwork/demo/worker-token --with-decryption --query Parameter.Value --output text']);
    const unit = r.file('etc/systemd/system/dynwork-worker.service');
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^SuccessAction=poweroff$/m);
    assert.match(unit, /^FailureAction=poweroff$/m);
    assert.doesNotMatch(unit, /client-token/);
    assert.equal(r.file('etc/fstab'), '', 'nothing mounted');
  });

  test('an Elastic IP it cannot take: it says so and still starts, so peers and workers keep it', () => {
    const r = boot(manager, { ASSOCIATE_FAILS: '1000' });
    assert.equal(r.code, 0, r.log);
    assert.equal(r.calls.filter((c) => c.startsWith('aws ec2 associate-address')).length, 30, 'bounded retries');
    assert.match(r.log, /^dynwork: could not take Elastic IP eipalloc-0123456789abcdef0; clients cannot reach this manager$/m);
    assert.match(r.log, /^dynwork: manager started$/m);
  });

  test('a token it cannot read stops the boot before anything starts', () => {
    const r = boot({ ...manager, tokenParameters: { 'client-token': '/dynwork/other/client-token' } });
    assert.notEqual(r.code, 0);
    assert.match(r.log, /ParameterNotFound/);
    assert.ok(!r.calls.some((c) => c.startsWith('systemctl')), 'no service started');
  });
});

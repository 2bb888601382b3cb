import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DynworkError } from '../src/errors.js';
import { renderUserData, shellQuote, USER_DATA_LIMIT, type UserDataInput } from '../src/providers/aws/userdata.js';
import { loadConfigFile } from '../src/runtime/config-file.js';
import { workerConfigSchema } from '../src/settings/worker.js';
import { managerUserData } from './fake-aws.js';
import { tempDir } from './helpers.js';

const manager = managerUserData;
const worker: UserDataInput = { ...manager, role: 'worker', tokenParameters: { 'worker-token': '/dynwork/demo/worker-token' }, config: { cluster: 'demo', workerTokenFile: 'worker-token' } };
delete (worker as Partial<UserDataInput>).dataVolumeId;
delete (worker as Partial<UserDataInput>).addressAllocationId;

describe('user-data', () => {
  for (const input of [manager, worker]) {
    test(`the ${input.role} script passes shellcheck and bash -n, fits EC2's limit, pins the version`, () => {
      const script = renderUserData(input);
      const dir = tempDir();
      try {
        const file = join(dir.dir, 'user-data.sh');
        writeFileSync(file, script);
        const check = spawnSync('shellcheck', ['--shell=bash', '--severity=style', file], { encoding: 'utf8' });
        assert.equal(check.error, undefined, 'shellcheck is installed (.ci/run installs it)');
        assert.equal(check.status, 0, check.stdout + check.stderr);
        execFileSync('bash', ['-n', file]);
      } finally {
        dir.cleanup();
      }
      assert.ok(Buffer.byteLength(script) < USER_DATA_LIMIT);
      assert.match(script, /^ARTIFACT_URL='s3:\/\/dynwork-123456789012-eu-west-1\/clusters\/demo\/dynwork-0\.1\.0-(0123456789abcdef){4}\.tgz'$/m);
      assert.match(script, /^ARTIFACT_SHA256='(0123456789abcdef){4}'$/m);
      assert.doesNotMatch(script, /gcc|python|make |jq /, 'nothing is compiled on the machine; workers install only Node');
      assert.match(script, /^# dynwork machine bootstrap, rendered by dynwork 0\.1\.0/m);
      assert.match(script, /^ {2}restart="Restart=always"$/m, 'managers restart always');
      assert.match(script, /^ {2}after_exit=\$'SuccessAction=poweroff\\nFailureAction=poweroff'$/m, 'a worker that exits powers its machine off');
      assert.match(script, /LoadCredential=\$name:\/etc\/dynwork\/credentials\/\$name/, 'tokens reach the service from root-only files');
      assert.match(script, /^umask 077$/m);
      if (input.role === 'manager') {
        assert.match(script, /^ADDRESS_ALLOCATION='eipalloc-0123456789abcdef0'$/m);
        assert.match(
          script,
          /aws ec2 associate-address --region "\$REGION" --allocation-id "\$ADDRESS_ALLOCATION" \\\n\s+--instance-id "\$INSTANCE_ID" --allow-reassociation/,
          'the manager takes its Elastic IP',
        );
      } else {
        assert.match(script, /^ADDRESS_ALLOCATION=''$/m, 'a worker takes no address');
      }
    });
  }

  test('the values are quoted: the config survives a round trip through bash untouched', () => {
    const script = renderUserData(manager);
    const b64 = /^CONFIG_B64=(.*)$/m.exec(script)![1]!;
    const out = execFileSync('bash', ['-c', `printf '%s' ${b64} | base64 -d`], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), manager.config);
    assert.equal(execFileSync('bash', ['-c', `printf '%s' ${shellQuote("a'b $(c) `d`")}`], { encoding: 'utf8' }), "a'b $(c) `d`");
  });

  test('a config that still holds a token is refused; an oversized script is a clear usage error', () => {
    assert.throws(() => renderUserData({ ...worker, config: { workerToken: 'secret-secret-secret' } }), /refusing to put workerToken into user-data/);
    assert.throws(
      () => renderUserData({ ...worker, artifactUrl: `https://example.test/${'x'.repeat(USER_DATA_LIMIT)}` }),
      (err: DynworkError) => err.code === 'usage' && /over EC2's 16384-byte limit/.test(err.message),
    );
  });

  test('the artifact must be an s3:// or https:// URL and a lowercase hex SHA-256', () => {
    const internal = (message: RegExp) => (err: DynworkError) => err instanceof DynworkError && err.code === 'internal' && message.test(err.message);
    for (const artifactUrl of [
      '',
      'dynwork@0.1.0',
      'http://example.test/d.tgz',
      's3://bucket',
      's3://bucket/',
      's3://B/key.tgz',
      'https://',
      'https://example.test/a b.tgz',
      'https://example.test/a\nb.tgz',
      'file:///tmp/d.tgz',
    ]) {
      assert.throws(() => renderUserData({ ...worker, artifactUrl }), internal(/^bad artifact URL/), artifactUrl);
    }
    for (const artifactSha256 of ['', 'ABCDEF'.padEnd(64, '0'), '0'.repeat(63), '0'.repeat(65), `${'0'.repeat(63)}g`]) {
      assert.throws(() => renderUserData({ ...worker, artifactSha256 }), internal(/^bad artifact SHA-256/), artifactSha256);
    }
    for (const artifactUrl of ['s3://dynwork-123456789012-us-east-1/clusters/demo/dynwork-0.1.0.tgz', 'https://example.test/builds/dynwork-0.1.0.tgz?X-Amz-Signature=abc']) {
      assert.match(renderUserData({ ...worker, artifactUrl }), /^ARTIFACT_URL='/m, artifactUrl);
    }
  });
});

describe('configs without secrets', () => {
  test('a token file is read from $CREDENTIALS_DIRECTORY (systemd LoadCredential)', () => {
    const dir = tempDir();
    const saved = process.env.CREDENTIALS_DIRECTORY;
    try {
      const creds = join(dir.dir, 'creds');
      execFileSync('mkdir', ['-m', '700', creds]);
      writeFileSync(join(creds, 'worker-token'), 'worker-token-from-ssm-0123456789\n', { mode: 0o600 });
      const file = join(dir.dir, 'worker.json');
      writeFileSync(file, JSON.stringify({ managers: [{ index: 1, url: 'http://127.0.0.1:5000' }], workerTokenFile: 'worker-token' }), { mode: 0o600 });
      process.env.CREDENTIALS_DIRECTORY = creds;
      assert.equal(loadConfigFile(workerConfigSchema, file).workerToken, 'worker-token-from-ssm-0123456789');

      process.env.CREDENTIALS_DIRECTORY = join(dir.dir, 'missing');
      assert.throws(() => loadConfigFile(workerConfigSchema, file), /cannot read workerTokenFile .*missing\/worker-token/);
      chmodSync(file, 0o644);
      assert.throws(() => loadConfigFile(workerConfigSchema, file), /is readable by others/);
    } finally {
      if (saved === undefined) delete process.env.CREDENTIALS_DIRECTORY;
      else process.env.CREDENTIALS_DIRECTORY = saved;
      dir.cleanup();
    }
  });
});

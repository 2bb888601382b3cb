import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeClusterState, writePrivateFile } from '../src/state/cluster-state.js';
import { clusterDir } from '../src/state/paths.js';
import { dynwork } from './cli.js';
import { tempDir } from './helpers.js';

const home = tempDir('dynwork-ssh-');
after(() => home.cleanup());

function awsCluster(name: string, ssh: boolean): void {
  const saved = process.env.DYNWORK_HOME;
  process.env.DYNWORK_HOME = home.dir;
  try {
    writeClusterState({
      provider: 'aws',
      name,
      createdAt: new Date().toISOString(),
      clientToken: 'c'.repeat(32),
      workerToken: 'w'.repeat(32),
      settings: { region: 'us-east-1', ssh },
      managers: [
        { index: 1, url: 'http://198.51.100.7:5000', instanceId: 'i-1' },
        { index: 2, url: 'http://198.51.100.8:5000', instanceId: 'i-2' },
      ],
    });
    writePrivateFile(join(clusterDir(name), 'ssh-key.pem'), 'key\n');
  } finally {
    if (saved === undefined) delete process.env.DYNWORK_HOME;
    else process.env.DYNWORK_HOME = saved;
  }
}

test('dynwork ssh runs ssh with the saved key on the chosen manager, and passes its exit code on', async () => {
  // A stand-in ssh that says what it was asked and fails like a remote command would.
  const bin = join(home.dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'ssh'), '#!/bin/sh\nprintf "%s\\n" "$@"\nexit 7\n');
  chmodSync(join(bin, 'ssh'), 0o755);
  awsCluster('open', true);
  const r = await dynwork(home.dir, ['ssh', '--cluster', 'open', '--manager', '2', 'journalctl', '-u', 'dynwork-manager'], { env: { PATH: `${bin}:${process.env.PATH}` } });
  assert.equal(r.code, 7);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    '-i',
    join(clusterDir('open', home.dir), 'ssh-key.pem'),
    '-o',
    'StrictHostKeyChecking=accept-new',
    '-o',
    'ConnectTimeout=15',
    'ec2-user@198.51.100.8',
    'journalctl',
    '-u',
    'dynwork-manager',
  ]);

  awsCluster('closed', false);
  const closed = await dynwork(home.dir, ['ssh', '--cluster', 'closed'], { env: { PATH: `${bin}:${process.env.PATH}` } });
  assert.equal(closed.code, 2);
  assert.equal(closed.stderr, 'dynwork: SSH is closed on cluster "closed"\nhint: open it: dynwork deploy --cluster closed --ssh\n');
  assert.equal(closed.stdout, '', 'ssh was not run');
});

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DynworkError } from '../errors.js';
import { clusterDir, readClusterState } from '../state/cluster-state.js';

/** `dynwork ssh`: a shell (or one command) on an aws manager, with the key deploy saved. */
export async function sshCommand(command: string[], o: { cluster: string; manager: number }): Promise<void> {
  const state = readClusterState(o.cluster);
  if (!state) throw new DynworkError('not_deployed', `cluster "${o.cluster}" is not deployed`, { hint: `dynwork deploy --provider aws --cluster ${o.cluster} --ssh` });
  if (state.provider !== 'aws')
    throw new DynworkError('usage', `cluster "${o.cluster}" runs locally: there is nothing to ssh into`, { hint: `its logs are in ${join(clusterDir(o.cluster), 'logs')}` });
  const m = state.managers.find((x) => x.index === o.manager);
  if (!m) throw new DynworkError('usage', `cluster "${o.cluster}" has no manager ${o.manager}`, { hint: `managers: ${state.managers.map((x) => x.index).join(', ')}` });
  if (!(state.settings as { ssh?: boolean }).ssh) {
    throw new DynworkError('usage', `SSH is closed on cluster "${o.cluster}"`, { hint: `open it: dynwork deploy --cluster ${o.cluster} --ssh` });
  }
  const key = join(clusterDir(o.cluster), 'ssh-key.pem');
  if (!existsSync(key))
    throw new DynworkError('usage', `no private key at ${key} (the key pair was made elsewhere)`, { hint: 'tear down and deploy again from this machine, or use EC2 Instance Connect' });
  const host = new URL(m.url).hostname;
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('ssh', ['-i', key, '-o', 'StrictHostKeyChecking=accept-new', '-o', 'ConnectTimeout=15', `ec2-user@${host}`, ...command], { stdio: 'inherit' });
    child.on('error', (err) => reject(new DynworkError('usage', `cannot run ssh: ${err.message}`, { hint: 'install an OpenSSH client' })));
    child.on('close', (c) => resolve(c ?? 1));
  });
  process.exitCode = code;
}

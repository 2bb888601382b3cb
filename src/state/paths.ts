import { homedir } from 'node:os';
import { join } from 'node:path';
import { DynworkError } from '../errors.js';

/**
 * Where dynwork keeps its state: $DYNWORK_HOME, else $XDG_CONFIG_HOME/dynwork,
 * else ~/.config/dynwork. The only place that reads these variables.
 */
export function stateRoot(): string {
  const env = process.env;
  if (env.DYNWORK_HOME) return env.DYNWORK_HOME;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'dynwork');
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,39}$/;

export function checkClusterName(name: string): string {
  if (!NAME.test(name)) {
    throw new DynworkError('usage', `invalid cluster name "${name}": use letters, digits and '-', at most 40 characters`, {
      hint: 'for example --cluster my-cluster',
    });
  }
  return name;
}

export function clusterDir(name: string, root = stateRoot()): string {
  return join(root, 'clusters', checkClusterName(name));
}

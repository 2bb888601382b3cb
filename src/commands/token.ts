import { clusterCaFile } from '../cluster/certificates.js';
import { requireCluster } from '../cluster/connect.js';
import { print } from './ui.js';

export function tokenCommand(o: { cluster: string; curlConfig?: boolean }): void {
  const state = requireCluster(o.cluster);
  if (!o.curlConfig) return print(state.clientToken);
  // For `curl -K <(dynwork token --curl-config) …`: the token reaches curl
  // through a pipe, never its argv (which every local user can read in ps).
  print(`header = ${curlQuote(`Authorization: Bearer ${state.clientToken}`)}`);
  if (state.ca) print(`cacert = ${curlQuote(clusterCaFile(state))}`);
}

/** A curl config string: double quotes, with backslash and quote escaped. */
function curlQuote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

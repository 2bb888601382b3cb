import { requireCluster } from '../cluster/connect.js';
import { print } from './ui.js';

export function tokenCommand(o: { cluster: string }): void {
  print(requireCluster(o.cluster).clientToken);
}

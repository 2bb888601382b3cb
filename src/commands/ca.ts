import { clusterCaFile } from '../cluster/certificates.js';
import { requireCluster } from '../cluster/connect.js';
import { print } from './ui.js';

export function caCommand(o: { cluster: string }): void {
  print(clusterCaFile(requireCluster(o.cluster)));
}

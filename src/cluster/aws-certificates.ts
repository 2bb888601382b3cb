import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { AwsClients } from '../providers/aws/clients.js';
import { ifExists } from '../providers/aws/errors.js';
import { clusterTags } from '../providers/aws/tags.js';
import { clusterDir } from '../state/paths.js';
import { ensureClusterCa, ensureManagerCert, type ClusterCa } from './certificates.js';
import type { MemberSpec } from '../settings/autoscale.js';

/**
 * AWS managers: the cluster CA (kept with the cluster state), and for each
 * member a certificate naming it and both its addresses (private for peers and
 * workers, the Elastic IP for clients). They reach the machine the way the
 * tokens do, from SSM parameters the boot script reads into root-only
 * credential files: the key as a SecureString, the CA and the certificate
 * (public) as plain Strings. User-data carries none of them.
 */
export async function awsManagerTls(
  clients: AwsClients,
  cluster: string,
  members: MemberSpec[],
  publicIps: ReadonlyMap<number, string>,
  names: TlsParameterNames,
  created: string[],
): Promise<ClusterCa> {
  const ca = await ensureClusterCa(cluster);
  await ensureParameter(clients, names.caParameter, ca.certPem, 'String', cluster, created);
  for (const m of members) {
    const ips = [m.host, publicIps.get(m.index)].filter((ip): ip is string => !!ip);
    const cert = await ensureManagerCert(ca, cluster, m.index, ips, join(clusterDir(cluster), 'tls', `manager-${m.index}`));
    await ensureParameter(clients, names.managerKeyParameter(m.index), cert.keyPem, 'SecureString', cluster, created);
    await ensureParameter(clients, names.managerCertParameter(m.index), cert.certPem, 'String', cluster, created);
    m.tls = { certFile: 'manager-cert', keyFile: 'manager-key', certSha256: createHash('sha256').update(cert.certPem).digest('hex') };
  }
  return ca;
}

export interface TlsParameterNames {
  caParameter: string;
  managerCertParameter(index: number): string;
  managerKeyParameter(index: number): string;
}

/** The parameter holds exactly this value: left alone when it does, created or overwritten when not. */
async function ensureParameter(clients: AwsClients, name: string, value: string, type: 'String' | 'SecureString', cluster: string, created: string[]): Promise<void> {
  const found = await ifExists(['ParameterNotFound'], () => clients.ssm.getParameter({ Name: name, WithDecryption: true }));
  if (found?.Parameter?.Value === value) return;
  await clients.ssm.putParameter({
    Name: name,
    Value: value,
    Type: type,
    Description: `dynwork cluster ${cluster}`,
    // SSM takes tags only on creation, and refuses them with Overwrite.
    ...(found ? { Overwrite: true } : { Overwrite: false, Tags: clusterTags(cluster, 'iam').map((t) => ({ Key: t.Key!, Value: t.Value! })) }),
  });
  created.push(`parameter ${name}`);
}

/**
 * The cluster's own CA and one certificate per manager, made at deploy and
 * reused by every later deploy (a second run changes nothing). A manager's
 * certificate names it (managerIdentity: subject CN and a DNS name) and the
 * addresses clients use; clients trust only this CA and check the name, so a
 * program squatting on a manager's port cannot pass for it.
 *
 * Reuse is checked with node:crypto; only making a certificate loads
 * @peculiar/x509 (and the reflect polyfill its dependency injection needs).
 */
import { createHash, createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynworkError } from '../errors.js';
import { managerIdentity } from '../protocol/tls-identity.js';
import { writePrivateFile } from '../state/cluster-state.js';
import { clusterDir } from '../state/paths.js';

export interface ClusterCa {
  /** ca.pem in the cluster state dir: public, what curl's --cacert wants. */
  certFile: string;
  certPem: string;
  keyPem: string;
}

export interface ManagerCert {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  /** Made by this call (false: an earlier deploy's, still right). */
  issued: boolean;
}

const VALIDITY_MS = 10 * 365 * 86_400_000;
/** A certificate this close to its end is made again. */
const RENEW_BEFORE_MS = 30 * 86_400_000;
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export function caFile(cluster: string): string {
  return join(clusterDir(cluster), 'ca.pem');
}

function caKeyFile(cluster: string): string {
  return join(clusterDir(cluster), 'ca-key.pem');
}

/** The cluster's CA from its state dir, or a new one (ECDSA P-256, 10 years) when there is none or it is unusable. */
export async function ensureClusterCa(cluster: string): Promise<ClusterCa> {
  const certFile = caFile(cluster);
  const keyFile = caKeyFile(cluster);
  const existing = readPair(certFile, keyFile);
  if (existing && usable(existing.certPem, existing.keyPem)) return { certFile, ...existing };
  const x509 = await loadX509();
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=dynwork-${cluster} CA, O=dynwork`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + VALIDITY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pair = { certPem: cert.toString('pem') + '\n', keyPem: await exportKey(x509, keys.privateKey) };
  mkdirSync(clusterDir(cluster), { recursive: true, mode: 0o700 });
  // The key first: a CA certificate without its key would look usable to no one anyway.
  writePrivateFile(keyFile, pair.keyPem);
  writeFileSync(certFile, pair.certPem, { mode: 0o644 });
  chmodSync(certFile, 0o644);
  return { certFile, ...pair };
}

/**
 * Manager `index`'s certificate and key in `dir` (key 0600), kept when it is
 * still right (issued by this CA, for this manager and exactly these
 * addresses, not near its end), else made anew.
 */
export async function ensureManagerCert(ca: ClusterCa, cluster: string, index: number, ips: readonly string[], dir: string): Promise<ManagerCert> {
  const certFile = join(dir, 'manager-cert.pem');
  const keyFile = join(dir, 'manager-key.pem');
  const identity = managerIdentity(cluster, index);
  const existing = readPair(certFile, keyFile);
  if (existing && fits(existing.certPem, existing.keyPem, ca, identity, ips)) return { certFile, keyFile, ...existing, issued: false };
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(ca.keyPem).export({ type: 'pkcs8', format: 'der' }), ALG, false, ['sign']);
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${identity}, O=dynwork`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(Math.min(now.getTime() + VALIDITY_MS, caCert.notAfter.getTime())),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: identity }, ...ips.map((ip) => ({ type: 'ip' as const, value: ip }))], false),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const pair = { certPem: cert.toString('pem') + '\n', keyPem: await exportKey(x509, keys.privateKey) };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writePrivateFile(keyFile, pair.keyPem);
  writeFileSync(certFile, pair.certPem, { mode: 0o644 });
  return { certFile, keyFile, ...pair, issued: true };
}

function readPair(certFile: string, keyFile: string): { certPem: string; keyPem: string } | null {
  if (!existsSync(certFile) || !existsSync(keyFile)) return null;
  try {
    return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
  } catch (err) {
    throw new DynworkError('internal', `cannot read ${certFile} or ${keyFile}: ${(err as Error).message}`, {
      cause: err,
      hint: "check the files' owner and mode; remove them to have deploy make new ones",
    });
  }
}

/** A CA certificate that matches its key and is not near its end. */
function usable(certPem: string, keyPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    return cert.ca && cert.checkPrivateKey(createPrivateKey(keyPem)) && Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

function fits(certPem: string, keyPem: string, ca: ClusterCa, identity: string, ips: readonly string[]): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const issuer = new X509Certificate(ca.certPem);
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) return false;
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return false;
    if (Date.parse(cert.validTo) - Date.now() < RENEW_BEFORE_MS) return false;
    if (cert.subject.split('\n').find((l) => l.startsWith('CN=')) !== `CN=${identity}`) return false;
    const want = [`DNS:${identity}`, ...ips.map((ip) => `IP Address:${ip}`)].sort();
    const have = (cert.subjectAltName ?? '').split(/,\s*/).sort();
    return want.length === have.length && want.every((n, i) => n === have[i]);
  } catch {
    return false;
  }
}

type X509 = typeof import('@peculiar/x509');

async function loadX509(): Promise<X509> {
  // tsyringe (inside @peculiar/x509) needs the Reflect metadata API before it loads.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return x509;
}

async function exportKey(x509: X509, key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY') + '\n';
}

/** 16 random bytes, positive (RFC 5280: at most 20 octets, non-negative). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

/**
 * Local managers: the cluster CA, and each member's certificate and key in
 * its own data dir (where only the deploying user can read), recorded on the
 * member so its config names them.
 */
export async function localManagerTls<M extends { index: number; host: string; dataDir: string; tls?: { certFile?: string; keyFile: string; certSha256?: string } }>(
  cluster: string,
  members: M[],
): Promise<ClusterCa> {
  const ca = await ensureClusterCa(cluster);
  for (const m of members) {
    const cert = await ensureManagerCert(ca, cluster, m.index, [m.host], join(m.dataDir, 'tls'));
    // The certificate's hash makes a new one (a new CA, a renewal) a changed config: deploy restarts that manager.
    m.tls = { certFile: cert.certFile, keyFile: cert.keyFile, certSha256: createHash('sha256').update(cert.certPem).digest('hex') };
  }
  return ca;
}

/**
 * The CA file of a deployed cluster, for curl's --cacert (written again from
 * cluster.json when it went missing); a clear error for a cluster without one.
 */
export function clusterCaFile(state: { name: string; ca?: string }): string {
  if (!state.ca) {
    throw new DynworkError('not_deployed', `cluster "${state.name}" has no CA yet (it was deployed before managers had identities)`, {
      hint: `run: dynwork deploy --cluster ${state.name}`,
    });
  }
  const file = caFile(state.name);
  if (!existsSync(file)) {
    writeFileSync(file, state.ca, { mode: 0o644 });
    chmodSync(file, 0o644);
  }
  return file;
}

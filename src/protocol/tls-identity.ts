import type { PeerCertificate } from 'node:tls';

/**
 * Who a manager is, as its certificate says it: the same name for the
 * subject CN and a DNS subjectAltName. Deploy issues it, every client checks
 * it; the address plays no part (AWS public addresses change on replace, a
 * local port may move).
 */
export function managerIdentity(cluster: string, index: number): string {
  return `dynwork-${cluster}-manager-${index}`;
}

/** What a client needs to accept only the manager it means. */
export interface ManagerPin {
  /** PEM of the cluster's CA: the only issuer trusted. */
  ca: string;
  /** managerIdentity() of the manager this client talks to. */
  identity: string;
}

/**
 * A `checkServerIdentity` for tls.connect: the chain was already verified
 * against the cluster CA, so a certificate naming `identity` is that manager.
 * Any other (manager 1's on manager 2's port, a squatter's self-signed one
 * would not even get here) is refused before a byte of the request is sent.
 */
export function checkManagerIdentity(identity: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const cn = cert.subject?.CN;
    const names = (cert.subjectaltname ?? '').split(/,\s*/);
    if (cn === identity && names.includes(`DNS:${identity}`)) return undefined;
    const err = new Error(`the server is not ${identity} (its certificate names ${JSON.stringify(cn ?? '')})`) as Error & { code: string };
    err.code = 'ERR_DYNWORK_WRONG_MANAGER';
    return err;
  };
}

import { isIPv4 } from 'node:net';
import { DynworkError } from '../errors.js';

/** The deployer's address as AWS sees it, for the API's one ingress rule. */
export async function discoverPublicIp(url = 'https://checkip.amazonaws.com/', timeoutMs = 5000): Promise<string> {
  const { request } = await import('undici');
  try {
    // One deadline for the whole exchange (undici's own header/body timeouts would race it with other errors).
    const res = await request(url, { signal: AbortSignal.timeout(timeoutMs) });
    const ip = (await res.body.text()).trim();
    if (res.statusCode === 200 && isIPv4(ip)) return ip;
    throw new Error(`unexpected answer from ${url}: ${res.statusCode} ${JSON.stringify(ip.slice(0, 40))}`);
  } catch (err) {
    const why = (err as Error).name === 'TimeoutError' ? `no answer from ${url} within ${timeoutMs / 1000}s` : (err as Error).message;
    throw new DynworkError('usage', `could not find your public IP address (${why})`, { hint: 'pass --allow-cidr A.B.C.D/32 (who may reach the API)' });
  }
}

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { createAuth, TokenRole } from './auth.js';

/** Roles a path accepts, for deciding before the body is sent (the route checks again). */
function rolesFor(path: string): TokenRole[] | null {
  if (path === '/healthz') return null;
  if (path.startsWith('/internal/')) return ['worker'];
  if (path === '/status' || path === '/metrics') return ['client', 'worker'];
  return ['client'];
}

/**
 * `Expect: 100-continue`: Node would answer 100 Continue before any handler
 * runs, inviting a client without a valid token to upload its whole body.
 * Here the token is checked first; only an admitted request gets 100 Continue
 * and then goes to `handle` like any other.
 */
export function checkContinueFirst(server: Server, auth: ReturnType<typeof createAuth>, handle: (req: IncomingMessage, res: ServerResponse) => void): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const roles = rolesFor(q === -1 ? url : url.slice(0, q));
    const denied = roles === null ? null : auth.check(req.headers.authorization, roles);
    if (denied) {
      const body = JSON.stringify({ error: { code: denied.code, message: denied.message } });
      // The client holds its body back for us; close rather than read it.
      res.writeHead(denied.status, {
        ...denied.headers,
        connection: 'close',
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      req.resume();
      return;
    }
    res.writeContinue();
    handle(req, res);
  });
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './http-error.js';

export type TokenRole = 'client' | 'worker';

/**
 * Bearer-token check. Tokens are compared as SHA-256 digests with
 * timingSafeEqual, so neither content nor length leaks through timing.
 */
export function createAuth(tokens: Record<TokenRole, string>) {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  const known = (Object.entries(tokens) as [TokenRole, string][]).map(([role, t]) => ({ role, d: digest(t) }));

  const roleOf = (header: string | undefined): TokenRole | null => {
    if (!header) return null;
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) return null;
    const d = digest(m[1] as string);
    let found: TokenRole | null = null;
    for (const k of known) if (timingSafeEqual(k.d, d)) found = k.role;
    return found;
  };

  /** Admits requests bearing a token of one of `roles`; 401 without a valid token, 403 for the wrong role. */
  return (...roles: TokenRole[]): RequestHandler =>
    (req, _res, next) => {
      const role = roleOf(req.headers.authorization);
      if (role === null) {
        next(
          new HttpError(401, 'unauthorized', 'missing or invalid token: send Authorization: Bearer <token> (see `dynwork token`)', {
            'WWW-Authenticate': 'Bearer',
          }),
        );
      } else if (!roles.includes(role)) {
        next(new HttpError(403, 'forbidden', `a ${role} token cannot use this endpoint`));
      } else next();
    };
}

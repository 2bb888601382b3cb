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

  /** Null when `header` bears a token of one of `roles`, else the error to answer with. */
  const check = (header: string | undefined, roles: TokenRole[]): HttpError | null => {
    const role = roleOf(header);
    if (role === null) {
      return new HttpError(401, 'unauthorized', 'missing or invalid token: send Authorization: Bearer <token> (see `dynwork token`)', {
        'WWW-Authenticate': 'Bearer',
      });
    }
    if (!roles.includes(role)) return new HttpError(403, 'forbidden', `a ${role} token cannot use this endpoint`);
    return null;
  };

  /** Express middleware admitting requests bearing a token of one of `roles`; 401 without a valid token, 403 for the wrong role. */
  const middleware =
    (...roles: TokenRole[]): RequestHandler =>
    (req, _res, next) => {
      const err = check(req.headers.authorization, roles);
      next(err ?? undefined);
    };
  return Object.assign(middleware, { check });
}

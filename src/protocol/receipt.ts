import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * A pull receipt names the results a reader holds but has not confirmed. The
 * results may come from several managers (peer fill), so a receipt is a list
 * of (manager, token) parts, `1:<token>,2:<token>`: any manager can route an
 * acknowledgement, so the reader need not reach the one that answered.
 * Tokens are 128 random bits; the receipt is the only capability needed.
 */
export interface ReceiptPart {
  index: number;
  token: string;
}

const TOKEN = /^[A-Za-z0-9_-]{22}$/;
const PART = /^([1-9][0-9]{0,2}):([A-Za-z0-9_-]{22})$/;
/** One part per manager: at most as many as there can be managers. */
const MAX_PARTS = 999;

export function newReceiptToken(): string {
  return randomBytes(16).toString('base64url');
}

export function formatReceipt(parts: readonly ReceiptPart[]): string {
  return parts.map((p) => `${p.index}:${p.token}`).join(',');
}

/** The parts of a receipt, or null when it is not one. */
export function parseReceipt(raw: unknown): ReceiptPart[] | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_PARTS * 27) return null;
  const parts: ReceiptPart[] = [];
  for (const piece of raw.split(',')) {
    const m = PART.exec(piece);
    if (!m) return null;
    parts.push({ index: Number(m[1]), token: m[2] as string });
  }
  return parts;
}

/** Just the token, as a peer's internal answer carries it. */
export const receiptToken = z.string({ error: 'must be a receipt token' }).regex(TOKEN, 'must be a receipt token');

/** A whole receipt on the wire (a string), read as its parts. */
export const receipt = z
  .string({ error: 'must be a receipt from /pullCompleted/lease' })
  .transform((raw, ctx) => parseReceipt(raw) ?? (ctx.addIssue({ code: 'custom', message: 'must be a receipt from /pullCompleted/lease' }), z.NEVER));

import type { ServerResponse } from 'node:http';
import type { PulledJob } from '../../protocol/index.js';
import { newReceiptToken, type ReceiptPart } from '../../protocol/receipt.js';
import type { ManagerContext } from './context.js';

export interface Taken {
  /** Where the results are held: this manager's part first, then each peer's. */
  parts: ReceiptPart[];
  results: PulledJob[];
  /** How many of the results are this manager's own. */
  local: number;
}

/**
 * Takes up to `top` results under a fresh receipt: this manager's oldest
 * first, then its peers' (one after another, so none hands out more than is
 * still wanted). Nothing taken is pulled yet: see `settle`. `answering` (a
 * plain pull, settled as its answer is written) holds this manager's part in
 * memory instead of writing it (JobStore.reserve).
 */
export async function take(ctx: ManagerContext, top: number, leaseMs: number, onlyHere: boolean, answering = false): Promise<Taken> {
  const token = newReceiptToken();
  // In a group all the same: it reads only what is on disk (GroupCommit).
  const local = await ctx.writes.run(() => ctx.store.reserve(top, token, leaseMs, ctx.now(), answering), { soft: true });
  const parts: ReceiptPart[] = local.length > 0 ? [{ index: ctx.config.index, token }] : [];
  if (local.length >= top || onlyHere) return { parts, results: local, local: local.length };
  const fromPeers = await ctx.peers.reserve(top - local.length, leaseMs);
  return { parts: parts.concat(fromPeers.parts), results: local.concat(fromPeers.results), local: local.length };
}

/**
 * Acknowledges (the results are pulled) or releases (they are "completed"
 * again) every part of a receipt: this manager's here, the others' at their
 * managers. Returns how many results changed. A part whose manager cannot be
 * reached throws (the caller may try again: both are idempotent); a part of a
 * manager that does not exist, or that ran out, counts nothing.
 */
export async function settle(ctx: ManagerContext, parts: readonly ReceiptPart[], how: 'ack' | 'release'): Promise<number> {
  let n = 0;
  const remote: ReceiptPart[] = [];
  for (const p of parts) {
    if (p.index !== ctx.config.index) remote.push(p);
    else if (how === 'ack') {
      const acked = await ctx.writes.run(() => ctx.store.ack(p.token, ctx.now()));
      ctx.metrics.count('pulled', acked);
      n += acked;
    } else {
      n += await ctx.writes.run(() => ctx.store.release(p.token));
    }
  }
  if (how === 'release' && n > 0) ctx.resultWaiters.wakeAll();
  const counts = await Promise.all(remote.map((p) => ctx.peers.settle(p, how)));
  return counts.reduce((a, b) => a + b, n);
}

/**
 * Sends `body` (with `send`) and settles `taken` by what happened to the answer: acknowledged
 * once it was handed to the connection whole (the seed's "a pull hands a
 * result out once"), released when the connection closed first, so a reader
 * that went away loses nothing. With `keep`, the reader acknowledges itself
 * (receipt pulls): only the release on a lost answer happens here.
 */
export function deliver(ctx: ManagerContext, res: ServerResponse, taken: Taken, body: unknown, send: (body: unknown) => void, keep = false): void {
  const settleQuietly = (how: 'ack' | 'release'): void => {
    if (taken.parts.length === 0) return;
    settle(ctx, taken.parts, how).catch((err: unknown) =>
      // Unsettled results return by themselves when their receipt runs out.
      ctx.logger.warn(`could not ${how} delivered results; they return when the receipt runs out`, {
        jobIds: taken.results.map((j) => j.id),
        err: err as Error,
      }),
    );
  };
  if (res.destroyed || res.req.socket.destroyed) {
    settleQuietly('release');
    return;
  }
  res.on('close', () => {
    if (!res.writableFinished) settleQuietly('release');
    else if (!keep) settleQuietly('ack');
  });
  send(body);
}

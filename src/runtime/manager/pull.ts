import type { ServerResponse } from 'node:http';
import { parseCountParam, parseFlagParam } from '../../job/validate.js';
import { formatReceipt } from '../../protocol/index.js';
import type { ManagerContext } from './context.js';
import { deliver, take } from './delivery.js';
import { HUNG_UP } from './waiters.js';

/**
 * POST /pullCompleted (and /pullCompleted/lease with `leaseMs`): up to `top`
 * results, long-polling up to `waitMs` for the first. A result leaves the
 * queue only once its reader has it: the seed's plain pull confirms when the
 * answer was handed to the connection whole; a receipt pull leaves that to
 * the reader, who acknowledges after writing the results out (or releases
 * them). `send` writes the 200 answer; errors are thrown.
 */
export async function pullCall(ctx: ManagerContext, q: Record<string, unknown>, res: ServerResponse, leaseMs: number | undefined, send: (body: unknown) => void): Promise<void> {
  const top = parseCountParam('top', q.top, ctx.config.limits.maxTop);
  const waitMs = q.waitMs === undefined ? 0 : parseCountParam('waitMs', q.waitMs, ctx.config.longPollMaxMs);
  const onlyHere = parseFlagParam('local', q.local);
  const hold = leaseMs ?? ctx.config.deliveryLeaseMs;
  const plain = leaseMs === undefined;
  let taken = await take(ctx, top, hold, onlyHere, plain);
  if (taken.results.length === 0 && waitMs > 0) {
    // Long-poll: park until a worker delivers results here, the wait ends, or
    // the client goes away (then nothing is taken for it).
    const gone = new AbortController();
    res.on('close', () => gone.abort(HUNG_UP));
    const stop = AbortSignal.any([gone.signal, ctx.closing]);
    const deadline = ctx.now() + waitMs;
    while (!stop.aborted && ctx.store.counts().completed === 0 && ctx.now() < deadline) await ctx.resultWaiters.wait(deadline - ctx.now(), stop);
    // While workers still hold jobs here, more results are on their way: a
    // moment's linger answers with several at once. It ends when the last of
    // them is in (a batch's results arrive together, and nothing is gained by
    // waiting past them), or when there are `top`.
    const lingerUntil = Math.min(ctx.now() + ctx.config.pullLingerMs, deadline);
    while (!stop.aborted && ctx.now() < lingerUntil) {
      const counts = ctx.store.counts();
      if (counts.completed >= top || counts.running === 0) break;
      await ctx.resultWaiters.wait(lingerUntil - ctx.now(), stop);
    }
    if (gone.signal.aborted) return;
    taken = await take(ctx, top, hold, true, plain);
  }
  const ids = taken.results.map((j) => j.id);
  if (ids.length > 0) ctx.logger.debug(plain ? 'pulled' : 'results leased', { count: ids.length, local: taken.local, jobIds: ids });
  if (plain) deliver(ctx, res, taken, taken.results, send);
  else deliver(ctx, res, taken, { receipt: taken.parts.length > 0 ? formatReceipt(taken.parts) : null, leaseMs, results: taken.results }, send, true);
}

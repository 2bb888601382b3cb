import { connect, pullLeased, settleReceipt, type ConnectedCluster } from '../cluster/connect.js';
import { DynworkError } from '../errors.js';
import type { PulledJob } from '../protocol/index.js';
import { cliProgress, progressBar, RateMeter, writeOut } from './ui.js';

/** How long results are held for us while we write them out (they come back if we never confirm). */
const HOLD_MS = 60_000;
/** The managers' longest hold (maxPullLeaseMs): a longer --json wait confirms late and may see some twice. */
const MAX_HOLD_MS = 3_600_000;

/** Why a pull stopped before its results were confirmed. */
class Stopped extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Results leave the queue only once they are written out: each batch is taken
 * under a receipt, written (and flushed), then acknowledged. A closed pipe,
 * Ctrl-C or a crash before that gives them back (at once, or when the receipt
 * runs out), so nothing taken is lost; each result is printed once per run.
 */
export async function pullCommand(o: { top: number; wait: boolean; timeout?: number; cluster: string; json: boolean }): Promise<void> {
  const c = connect(o.cluster);
  const timeoutS = o.timeout ?? 300;
  const deadline = Date.now() + timeoutS * 1000;
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stop.signal.aborted) process.exit(130);
    stop.abort(new Stopped(130, `interrupted by ${sig}`));
  };
  const quiet = (): void => undefined;
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  // EPIPE also comes as an 'error' event; the write's callback reports it.
  process.stdout.on('error', quiet);

  const held: string[] = [];
  const got: PulledJob[] = [];
  const seen = new Set<number>();
  const take = async (want: number, waitMs: number): Promise<void> => {
    // --json writes everything at the end, so what it takes is held until then.
    const hold = o.json && o.wait ? Math.min(MAX_HOLD_MS, deadline - Date.now() + HOLD_MS) : HOLD_MS;
    const r = await pullLeased(c, want, hold, waitMs, stop.signal);
    if (r.receipt) held.push(r.receipt);
    // A result can come twice only when a receipt ran out; it is still printed once.
    const fresh = r.results.filter((j) => !seen.has(j.id) && seen.add(j.id));
    got.push(...fresh);
    if (!o.json) {
      if (fresh.length > 0) await write(fresh.map((j) => `${j.id} ${j.result}\n`).join(''));
      await confirm(c, held);
    }
  };
  const write = async (text: string): Promise<void> => {
    try {
      await writeOut(text);
    } catch (err) {
      throw new Stopped(141, `output closed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };

  try {
    await take(o.top, 0);
    if (o.wait && got.length < o.top) {
      const step = cliProgress(o.json).step(`Waiting for results (${got.length}/${o.top})`);
      const rate = new RateMeter(got.length);
      const why = o.json || !process.stderr.isTTY ? undefined : new WaitReason(c);
      while (got.length < o.top) {
        if (Date.now() >= deadline) {
          step.fail(`Timed out with ${got.length}/${o.top} results`);
          if (o.json) {
            await write(JSON.stringify(got, null, 2) + '\n');
            await confirm(c, held);
          }
          throw new DynworkError('timeout', `only ${got.length} of ${o.top} results arrived within ${timeoutS} s`, {
            hint: `see progress with: dynwork status${o.cluster === 'default' ? '' : ` --cluster ${o.cluster}`}`,
          });
        }
        // A long-poll: answered as soon as results arrive at the manager, else
        // after 2 s (when results held by its peers are looked for again).
        await take(o.top - got.length, Math.max(1, Math.min(2000, deadline - Date.now())));
        rate.add(got.length);
        const reason = await why?.explain(rate.perSecond() === 0);
        step.update(`Waiting for results ${progressBar(got.length, o.top)} ${got.length}/${o.top}  ${rate.describe(o.top - got.length)}${reason ? `\n  ${reason}` : ''}`);
      }
      step.succeed(`Pulled ${got.length} results`);
    }
    if (o.json) {
      await write(JSON.stringify(got, null, 2) + '\n');
      await confirm(c, held);
    }
  } catch (err) {
    const reason: unknown = stop.signal.aborted ? stop.signal.reason : err;
    if (!(reason instanceof Stopped)) {
      await giveBack(c, held);
      throw err;
    }
    const back = await giveBack(c, held);
    process.stderr.write(`dynwork: ${reason.message}; ${back} result(s) not written out were given back to the queue\n`);
    process.exitCode = reason.exitCode;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    process.stdout.off('error', quiet);
    await c.close();
  }
}

/** Acknowledges what was written; a failure only means those results may come again later. */
async function confirm(c: ConnectedCluster, held: string[]): Promise<void> {
  for (const receipt of held.splice(0)) {
    try {
      await settleReceipt(c, receipt, 'ack');
    } catch (err) {
      process.stderr.write(`dynwork: warning: results written out could not be confirmed (${(err as Error).message}); they may be delivered again after ${HOLD_MS / 1000} s\n`);
    }
  }
}

/** Gives back what was not written, so it is pulled again at once; how many results. */
async function giveBack(c: ConnectedCluster, held: string[]): Promise<number> {
  let n = 0;
  for (const receipt of held.splice(0)) {
    // Bounded: a manager that does not answer lets the receipt run out instead.
    n += await settleReceipt(c, receipt, 'release').catch(() => 0);
  }
  return n;
}

/** Why nothing arrives, in words (looked up at most every 5 s, only while nothing arrives). */
class WaitReason {
  private at = 0;
  private last: string | undefined;

  constructor(private readonly c: ConnectedCluster) {}

  async explain(stalled: boolean): Promise<string | undefined> {
    if (!stalled) return (this.last = undefined);
    if (Date.now() - this.at < 5_000) return this.last;
    this.at = Date.now();
    const statuses = await Promise.all(this.c.clients.map(({ client }) => client.status().catch(() => null)));
    const up = statuses.filter((s) => s !== null);
    const queued = up.reduce((a, s) => a + s.queue.queued, 0);
    const running = up.reduce((a, s) => a + s.queue.running, 0);
    const workers = new Set(up.flatMap((s) => s.workers.map((w) => w.workerId))).size;
    const oldest = Math.max(0, ...up.map((s) => s.queue.oldestQueuedAgeMs ?? 0)) / 1000;
    const after = Number(this.c.state.settings.scaleUpAfterS ?? 20);
    if (up.length === 0) this.last = 'no manager answers: check with dynwork status';
    else if (queued + running === 0) this.last = 'nothing queued or running: every job is done and pulled (or none was enqueued)';
    else if (workers === 0) this.last = `no worker yet: the cluster scales up once the oldest job has waited ${after} s (it has waited ${Math.floor(oldest)} s)`;
    else this.last = `${workers} worker(s) busy; ${queued} queued, ${running} running`;
    return this.last;
  }
}

import { ManagerClient } from '../../client/manager-client.js';
import type { WorkerConfig } from '../../settings/worker.js';
import type { LogRing } from '../log-ring.js';
import { managerIdentity } from '../../protocol/tls-identity.js';

/** How often a worker sends its new log lines. */
const EVERY_MS = 5_000;
/** Most lines in one send (the rest go next time). */
const BATCH = 1_000;

/**
 * Sends the worker's new log lines to one manager every few seconds (the
 * first that takes them), so `dynwork logs` shows workers on machines no one
 * can reach. Best effort: lines that cannot be sent wait in the bounded ring,
 * and the oldest are dropped when it is full. The last lines go on close.
 */
export function shipLogs(config: WorkerConfig, ring: LogRing, workerId: string): { close(): Promise<void> } {
  // Pinned like the worker's own calls: its lines go only to a manager that proves who it is.
  const clients = config.managers.map(
    (e) =>
      new ManagerClient({
        endpoint: e,
        token: config.workerToken,
        timeoutMs: 3_000,
        retry: { retries: 0 },
        ...(config.ca ? { pin: { ca: config.ca, identity: managerIdentity(config.cluster, e.index) } } : {}),
      }),
  );
  let sent = 0;
  let busy: Promise<void> = Promise.resolve();
  const send = async (): Promise<void> => {
    for (;;) {
      const { lines, next } = ring.since(sent);
      if (lines.length === 0) return;
      const batch = lines.slice(0, BATCH);
      let delivered = false;
      for (const c of clients) {
        try {
          await c.shipLogs({ workerId, lines: batch });
          delivered = true;
          break;
        } catch {
          // the next manager, or the next round
        }
      }
      if (!delivered) return;
      // Lines dropped from a full ring before they went are skipped, not waited for.
      sent = next - lines.length + batch.length;
    }
  };
  const timer = setInterval(() => {
    busy = busy.then(send);
  }, EVERY_MS);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await (busy = busy.then(send));
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

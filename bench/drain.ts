import type { ManagerClient } from '../src/client/manager-client.js';

/**
 * Takes `n` results as a client would that wants them as soon as they are
 * done: a long-poll on every manager at once, each for its own results (it
 * answers as soon as a worker delivers some there).
 */
export async function drain(clients: ManagerClient[], n: number): Promise<void> {
  let got = 0;
  const done = new AbortController();
  await Promise.all(
    clients.map(async (client) => {
      try {
        while (got < n) {
          const results = await client.pullCompleted(10_000, { waitMs: 5_000, local: true, signal: done.signal });
          got += results.length;
        }
      } catch (err) {
        if (!done.signal.aborted) throw err;
      }
      done.abort();
    }),
  );
}

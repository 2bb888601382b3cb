/**
 * The load generator for the small-job benchmark, run as its own process so
 * its CPU is not the cluster's: enqueues N jobs (iterations=1) either in
 * batches or as single requests with some concurrency, then pulls until every
 * result is back (a long-poll per manager). Single requests go out as plain
 * keep-alive undici calls (what any HTTP load tool sends), so the figure is
 * the cluster's, not our client library's.
 *
 * It does that twice and prints one JSON line of timings after each round:
 * the first is a fresh process's (its code not yet compiled by V8's
 * optimizing tiers: a third to half of its CPU went there, 0.6-0.7 against
 * 0.3-0.4 CPU s for 20,000 jobs in batches), the second a warm client's, as
 * a load tool compiled ahead of time or any long-running producer sends.
 *
 *   node dist/bench/load-client.js CLUSTER N batch|single [concurrency]
 *
 * It reads the cluster's state (DYNWORK_HOME) for the addresses, the token
 * and the CA, like the CLI: no token on a command line.
 */
import { Agent, request } from 'undici';
import { connect } from '../src/cluster/connect.js';
import { drain } from './drain.js';

const [cluster, nRaw, mode, concRaw] = process.argv.slice(2);
const n = Number(nRaw);
const concurrency = Number(concRaw ?? 32);
const c = connect(cluster!, { timeoutMs: 30_000 });
const clients = c.clients.map((x) => x.client);
const token = c.state.clientToken;

/** One round of n jobs named after `round`; its timings. */
async function run(round: 'cold' | 'warm'): Promise<{ n: number; enqueueMs: number; totalMs: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  if (mode === 'batch') {
    const size = 1_000;
    const batches = Array.from({ length: Math.ceil(n / size) }, (_, b) => Array.from({ length: Math.min(size, n - b * size) }, (_, i) => ({ data: `small-${round}-${b * size + i}`, iterations: 1 })));
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async (_, lane) => {
        while (next < batches.length) await clients[lane % clients.length]!.enqueueBatch(batches[next++]!);
      }),
    );
  } else {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, lane) => {
        while (next < n) {
          const i = next++;
          const res = await request(`${bases[lane % bases.length]}/enqueue?iterations=1`, {
            dispatcher: agent,
            method: 'PUT',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
            body: `small-${round}-${i}`,
          });
          await res.body.text();
          if (res.statusCode !== 200) throw new Error(`enqueue answered ${res.statusCode}`);
        }
      }),
    );
  }
  const enqueuedAt = performance.now();
  await drain(clients, n);
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  return { n, enqueueMs: enqueuedAt - start, totalMs: end - start, cpuMs: (cpu.user + cpu.system) / 1000 };
}

// The managers' own CA, as the CLI pins it (plain undici, so the figure is the cluster's, not our client's).
const agent = new Agent(c.state.ca ? { connect: { ca: c.state.ca } } : {});
const bases = c.state.managers.map((m) => m.url);
for (const round of ['cold', 'warm'] as const) process.stdout.write(JSON.stringify({ round, mode, ...(await run(round)) }) + '\n');
await agent.close();
await c.close();

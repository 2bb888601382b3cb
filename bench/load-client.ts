/**
 * The load generator for the small-job benchmark, run as its own process so
 * its CPU is not the cluster's: enqueues N jobs (iterations=1) either in
 * batches or as single requests with some concurrency, then pulls until every
 * result is back (a long-poll per manager). Prints one JSON line of timings. Single requests go out as
 * plain keep-alive undici calls (what any HTTP load tool sends), so the figure
 * is the cluster's, not our client library's.
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

const start = performance.now();
let enqueued = 0;
if (mode === 'batch') {
  const size = 1_000;
  const batches = Array.from({ length: Math.ceil(n / size) }, (_, b) => Array.from({ length: Math.min(size, n - b * size) }, (_, i) => ({ data: `small-${b * size + i}`, iterations: 1 })));
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async (_, lane) => {
      while (next < batches.length) {
        const b = batches[next++]!;
        await clients[lane % clients.length]!.enqueueBatch(b);
        enqueued += b.length;
      }
    }),
  );
} else {
  // The managers' own CA, as the CLI pins it (plain undici, so the figure is the cluster's, not our client's).
  const agent = new Agent(c.state.ca ? { connect: { ca: c.state.ca } } : {});
  const bases = c.state.managers.map((m) => m.url);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (next < n) {
        const i = next++;
        const res = await request(`${bases[lane % bases.length]}/enqueue?iterations=1`, {
          dispatcher: agent,
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
          body: `small-${i}`,
        });
        await res.body.text();
        if (res.statusCode !== 200) throw new Error(`enqueue answered ${res.statusCode}`);
        enqueued++;
      }
    }),
  );
  await agent.close();
}
const enqueuedAt = performance.now();
await drain(clients, n);
const end = performance.now();
const cpu = process.cpuUsage();
process.stdout.write(JSON.stringify({ n, mode, enqueued, enqueueMs: enqueuedAt - start, totalMs: end - start, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n');
await c.close();

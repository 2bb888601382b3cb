/**
 * ManagerClient against a real HTTP server on 127.0.0.1 made here (a stand-in
 * manager that answers what each test needs), not a mock of our modules.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ApiError, ManagerClient, TransportError } from '../src/client/manager-client.js';
import { DynworkError } from '../src/errors.js';
import { memoryLogger, tempDir } from './helpers.js';

const TOKEN = 'test-token-0123456789abcdef-secret';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: Seen, res: ServerResponse, n: number) => void;

/** A stand-in manager: records every request, answers with `handler`. */
class StandIn {
  seen: Seen[] = [];
  handler: Handler = (_req, res) => json(res, 200, {});
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        this.seen.push(seen);
        this.handler(seen, res, this.seen.length);
      });
    });
  }

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    if (this.server.listening) await once(this.server, 'close');
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** A port nothing listens on (bound, then released). */
async function deadUrl(): Promise<string> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  s.close();
  await once(s, 'close');
  return `http://127.0.0.1:${port}`;
}

const STATUS = {
  manager: { index: 1, url: 'http://x', leader: true, startedAt: 'now', version: '0' },
  queue: { queued: 1, running: 0, completed: 0, failed: 0, oldestQueuedAgeMs: 5, queuedIterations: 10 },
  totals: { enqueued: 1, completed: 0, pulled: 0, leaseExpiries: 0, failed: 0 },
  throughput: 0,
  workers: [],
  healthy: true,
};

describe('ManagerClient', () => {
  let server: StandIn;
  let url: string;
  const clients: ManagerClient[] = [];
  const client = (over: Partial<ConstructorParameters<typeof ManagerClient>[0]> = {}) => {
    const c = new ManagerClient({ endpoint: url, token: TOKEN, timeoutMs: 2_000, retry: { minTimeoutMs: 10, maxTimeoutMs: 20 }, ...over });
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    server = new StandIn();
    url = await server.start();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.close();
  });

  test('enqueue sends a JSON body with the token and returns the id', async () => {
    server.handler = (_req, res) => json(res, 200, { id: 17001 });
    assert.equal(await client().enqueue('Hello wörld', 10), 17001);
    const [r] = server.seen;
    assert.equal(r?.method, 'PUT');
    assert.equal(r?.url, '/enqueue?iterations=10');
    assert.equal(r?.headers.authorization, `Bearer ${TOKEN}`);
    assert.match(String(r?.headers['content-type']), /application\/json/);
    assert.deepEqual(JSON.parse(r.body), { data: 'Hello wörld' });
  });

  test('enqueueBatch sends a JSON array and returns the ids in order', async () => {
    server.handler = (req, res) => json(res, 200, { ids: (JSON.parse(req.body) as unknown[]).map((_, i) => (i + 1) * 1000 + 1) });
    const ids = await client().enqueueBatch([
      { data: 'a', iterations: 1 },
      { data: 'b', iterations: 2 },
    ]);
    assert.deepEqual(ids, [1001, 2001]);
    assert.deepEqual(JSON.parse(server.seen[0]!.body), [
      { data: 'a', iterations: 1 },
      { data: 'b', iterations: 2 },
    ]);
  });

  test('an error body becomes an ApiError with status, apiCode and the message', async () => {
    server.handler = (_req, res) => json(res, 400, { error: { code: 'invalid_iterations', message: 'iterations must be an integer from 1 to 10000000, got "x"' } });
    const err = await client()
      .enqueue('a', 1)
      .then(
        () => assert.fail('expected an error'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ApiError);
    assert.ok(err instanceof DynworkError);
    assert.equal(err.code, 'http_error');
    assert.equal(err.status, 400);
    assert.equal(err.apiCode, 'invalid_iterations');
    assert.equal(err.message, 'iterations must be an integer from 1 to 10000000, got "x"');
  });

  test('a non-JSON error body still gives the status', async () => {
    server.handler = (_req, res) => res.writeHead(502).end('<html>bad gateway</html>');
    await assert.rejects(client({ retry: { retries: 0 } }).status(), (e: unknown) => e instanceof ApiError && e.status === 502 && e.apiCode === 'http_502');
  });

  test('a 2xx answer of the wrong shape is a clear error, not a crash later', async () => {
    server.handler = (_req, res) => json(res, 200, { jobs: 'nope' });
    await assert.rejects(client().lease({ workerId: 'w', max: 1 }), (e: unknown) => e instanceof ApiError && e.apiCode === 'invalid_response');
  });

  test('a server that never answers costs the timeout, then a timeout error', async () => {
    server.handler = () => undefined; // holds the request open
    const c = client({ timeoutMs: 200 });
    const t0 = Date.now();
    const err = await c.enqueue('a', 1).catch((e: unknown) => e);
    const took = Date.now() - t0;
    assert.ok(err instanceof TransportError, String(err));
    assert.equal(err.code, 'timeout');
    assert.equal(err.requestMayHaveArrived, true);
    assert.ok(took >= 150 && took < 2_000, `took ${took} ms`);
    assert.equal(server.seen.length, 1, 'enqueue is never retried');
  });

  test('a long-poll lease gets its wait on top of the timeout', async () => {
    server.handler = (_req, res) => void setTimeout(() => json(res, 200, { jobs: [{ id: 1001, data: 'x', iterations: 3 }], leaseMs: 30_000 }), 300).unref();
    const r = await client({ timeoutMs: 100 }).lease({ workerId: 'w', max: 5, maxIterations: 10, waitMs: 1_000 });
    assert.deepEqual(r, { jobs: [{ id: 1001, data: 'x', iterations: 3 }], leaseMs: 30_000 });
    assert.deepEqual(JSON.parse(server.seen[0]!.body), { workerId: 'w', max: 5, maxIterations: 10, waitMs: 1_000 });
  });

  test('a lease can be cancelled by its signal, promptly', async () => {
    server.handler = () => undefined;
    const ac = new AbortController();
    const t0 = Date.now();
    const p = client().lease({ workerId: 'w', max: 1, waitMs: 10_000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stopping')), 50).unref();
    await assert.rejects(p, /stopping/);
    assert.ok(Date.now() - t0 < 2_000);
  });

  test('a refused connection is unreachable, and says the request never arrived', async () => {
    const c = new ManagerClient({ endpoint: await deadUrl(), token: TOKEN, timeoutMs: 1_000, retry: { retries: 0 } });
    clients.push(c);
    const err = await c.enqueue('a', 1).catch((e: unknown) => e);
    assert.ok(err instanceof TransportError, String(err));
    assert.equal(err.code, 'unreachable');
    assert.equal(err.requestMayHaveArrived, false);
  });

  test('a moved manager is found again through its endpoint file', async () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'endpoint.json');
      server.handler = (_req, res) => json(res, 200, { id: 5002 });
      const { logger, lines } = memoryLogger();
      const stale = await deadUrl();
      const c = new ManagerClient({ endpoint: { index: 2, url: stale, endpointFile: file }, token: TOKEN, timeoutMs: 1_000, logger });
      clients.push(c);
      assert.equal(c.url, stale, 'no endpoint file yet: the configured address');
      // The manager comes up on another port and says so.
      writeFileSync(file, JSON.stringify({ url, port: Number(new URL(url).port), pid: process.pid }));
      // enqueue is not idempotent: safe anyway, the refused connection reached nobody.
      assert.equal(await c.enqueue('x', 1), 5002);
      assert.equal(c.url, url);
      assert.equal(server.seen.length, 1);
      // Later calls go straight to the new address.
      assert.equal(await c.enqueue('y', 1), 5002);
      assert.equal(server.seen.length, 2);
      assert.ok(lines.some((l) => l.includes('manager moved')));
      assert.ok(!lines.some((l) => l.includes(TOKEN)), 'the token is never logged');
    } finally {
      tmp.cleanup();
    }
  });

  test('an endpoint file present at start wins over the configured address (that port may be another manager)', async () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'endpoint.json');
      writeFileSync(file, JSON.stringify({ url, port: Number(new URL(url).port), pid: process.pid }));
      const c = new ManagerClient({ endpoint: { index: 2, url: await deadUrl(), endpointFile: file }, token: TOKEN, timeoutMs: 1_000 });
      clients.push(c);
      assert.equal(c.url, url);
    } finally {
      tmp.cleanup();
    }
  });

  test('without a usable endpoint file, a refused call stays unreachable', async () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'endpoint.json');
      const stale = await deadUrl();
      writeFileSync(file, JSON.stringify({ url: stale }));
      const c = new ManagerClient({ endpoint: { index: 1, url: stale, endpointFile: file }, token: TOKEN, timeoutMs: 1_000, retry: { retries: 0 } });
      clients.push(c);
      await assert.rejects(c.status(), (e: unknown) => e instanceof TransportError && e.code === 'unreachable');
    } finally {
      tmp.cleanup();
    }
  });

  test('idempotent calls are retried through 503s; enqueue, pull and lease are not', async () => {
    server.handler = (_req, res, n) => {
      if (n <= 2) return json(res, 503, { error: { code: 'store_unavailable', message: 'try later' } });
      json(res, 200, STATUS);
    };
    const c = client({ retry: { retries: 3, minTimeoutMs: 5, maxTimeoutMs: 10 } });
    const s = await c.status();
    assert.equal(s.queue.queuedIterations, 10);
    assert.equal(server.seen.length, 3, 'two failures, then the answer');

    for (const [name, call] of [
      ['enqueue', () => c.enqueue('a', 1)],
      ['pullCompleted', () => c.pullCompleted(2)],
      ['pullLeased', () => c.pullLeased(2, { leaseMs: 1000 })],
      ['peerReserve', () => c.peerReserve(2, 1000)],
      ['lease', () => c.lease({ workerId: 'w', max: 1 })],
    ] as const) {
      server.seen = [];
      server.handler = (_req, res) => json(res, 503, { error: { code: 'store_unavailable', message: 'try later' } });
      await assert.rejects(call(), (e: unknown) => e instanceof ApiError && e.status === 503, name);
      assert.equal(server.seen.length, 1, `${name} must not be retried`);
    }
  });

  test('heartbeat and complete are retried after a dropped connection; a 4xx is not retried', async () => {
    // The first request gets its socket destroyed: a network failure mid-call.
    server.handler = (req, res, n) => {
      if (n === 1) return res.socket?.destroy();
      if (req.url === '/internal/heartbeat') return json(res, 200, { extended: [1001], lost: [], leaseMs: 30_000 });
      json(res, 200, { accepted: [1001], rejected: [] });
    };
    const c = client();
    const hb = await c.heartbeat({ workerId: 'w', ids: [1001], threads: 1, busy: 1 });
    assert.deepEqual(hb.extended, [1001]);
    assert.equal(server.seen.length, 2);

    server.seen = [];
    server.handler = (_req, res, n) => {
      if (n === 1) return res.socket?.destroy();
      json(res, 200, { accepted: [1001], rejected: [] });
    };
    const done = await c.complete({ workerId: 'w', results: [{ id: 1001, result: 'a'.repeat(128) }] });
    assert.deepEqual(done, { accepted: [1001], rejected: [] });
    assert.equal(server.seen.length, 2);
    assert.equal(server.seen[0]!.body, server.seen[1]!.body, 'the same results are sent again');

    server.seen = [];
    server.handler = (_req, res) => json(res, 404, { error: { code: 'job_not_found', message: 'no job 7' } });
    await assert.rejects(c.getJob(7), (e: unknown) => e instanceof ApiError && e.status === 404 && e.apiCode === 'job_not_found');
    assert.equal(server.seen.length, 1);
  });

  test('retries give up after the policy, with the last error', async () => {
    server.handler = (_req, res) => json(res, 503, { error: { code: 'store_unavailable', message: 'still down' } });
    await assert.rejects(client({ retry: { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 2 } }).status(), /still down/);
    assert.equal(server.seen.length, 3);
  });

  test('healthz needs no token and reports a 503 as ok: false', async () => {
    server.handler = (_req, res) => json(res, 503, { ok: false, index: 1, error: { code: 'store_unavailable', message: 'disk gone' } });
    const h = await client({ retry: { retries: 0 } }).healthz();
    assert.equal(h.ok, false);
    assert.equal(server.seen[0]!.headers.authorization, undefined);
  });

  test('calls after close() fail clearly', async () => {
    const c = client();
    await c.close();
    await assert.rejects(c.status(), (e: unknown) => e instanceof DynworkError && e.code === 'internal');
  });
});

/**
 * The wire schemas (src/protocol) at both ends: a manager refuses a malformed
 * body with the documented 400 naming the field, and the client turns a
 * malformed answer into an error naming the route and the field.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { ApiError, ManagerClient } from '../src/client/manager-client.js';
import type { RunningManager } from '../src/runtime/manager/server.js';
import { auth, memoryLogger, startTestManager, tempDir, WORKER_TOKEN } from './helpers.js';

const HEX = 'a'.repeat(128);
const TOKEN = 'AAAAAAAAAAAAAAAAAAAAAA';

interface Bad {
  path: string;
  body: string;
  code: string;
  /** What the message must name (the field, or the body). */
  names: RegExp;
  worker?: boolean;
}

const internal = (path: string, body: unknown, names: RegExp): Bad => ({
  path,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  code: 'invalid_request',
  names,
  worker: true,
});

const bad: Bad[] = [
  internal('/internal/lease', [], /^body must be a JSON object/),
  internal('/internal/lease', { max: 1 }, /^workerId /),
  internal('/internal/lease', { workerId: 'w', max: 10_001 }, /^max must be an integer from 1 to 10000/),
  internal('/internal/lease', { workerId: 'w', max: 1, maxIterations: 0 }, /^maxIterations /),
  internal('/internal/lease', { workerId: 'w', max: 1, waitMs: 'soon' }, /^waitMs /),
  internal('/internal/complete', { workerId: 'w' }, /^results must be an array/),
  internal(
    '/internal/complete',
    {
      workerId: 'w',
      results: [
        { id: 1001, result: HEX },
        { id: 2001, result: 'short' },
      ],
    },
    /^results\[1\]\.result must be 128 lowercase hex/,
  ),
  internal('/internal/complete', { workerId: 'w', results: [{ id: 2 ** 53, result: HEX }] }, /^results\[0\]\.id /),
  internal('/internal/heartbeat', { workerId: 'w', ids: [1001, 'x'], threads: 1, busy: 0 }, /^ids\[1\] /),
  internal('/internal/heartbeat', { workerId: 'w', ids: [], busy: 0 }, /^threads /),
  internal('/internal/heartbeat', { workerId: 'w', ids: [], threads: 1, busy: -1 }, /^busy /),
  internal('/internal/heartbeat', { workerId: 'w', ids: [], threads: 1, busy: 0, hashRate: -5 }, /^hashRate must be a non-negative number/),
  internal('/internal/heartbeat', { workerId: 'w', ids: [], threads: 1, busy: 0, instanceId: '' }, /^instanceId /),
  internal('/internal/logs', { workerId: 'w', lines: [1] }, /^lines\[0\] must be a string/),
  internal('/internal/logs', { lines: [] }, /^workerId /),
  internal('/internal/ack', { token: 'nope' }, /^token must be a receipt token/),
  internal('/internal/release', {}, /^token /),
  { path: '/pullCompleted/ack', body: JSON.stringify({ receipt: `1:${TOKEN},x` }), code: 'invalid_receipt', names: /receipt/ },
  { path: '/pullCompleted/release', body: JSON.stringify({ receipt: 5 }), code: 'invalid_receipt', names: /receipt/ },
];

describe('a manager checks request bodies with the protocol schemas', () => {
  const tmp = tempDir();
  let m: RunningManager;
  before(async () => {
    m = await startTestManager(tmp.dir, {}, { logger: memoryLogger().logger });
  });
  after(async () => {
    await m.close();
    tmp.cleanup();
  });

  test(`${bad.length} malformed bodies: 400, the documented code, a message naming the field; nothing changes`, async () => {
    const before = m.ctx.store.counts();
    for (const c of bad) {
      const res = await fetch(m.url + c.path, {
        method: 'POST',
        headers: { ...auth(c.worker ? WORKER_TOKEN : undefined), 'content-type': 'application/json' },
        body: c.body,
      });
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      const what = `${c.path} ${c.body}`;
      assert.equal(res.status, 400, what);
      assert.equal(body.error?.code, c.code, what);
      assert.match(body.error?.message ?? '', c.names, what);
    }
    assert.deepEqual(m.ctx.store.counts(), before);
    assert.deepEqual(m.ctx.workers.list(Date.now()), [], 'no malformed heartbeat registered a worker');
  });

  test('the same routes take well-formed bodies', async () => {
    const post = async (path: string, body: unknown): Promise<unknown> => {
      const res = await fetch(m.url + path, { method: 'POST', headers: { ...auth(WORKER_TOKEN), 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
      return res.json();
    };
    assert.deepEqual(await post('/internal/lease', { workerId: 'w', max: 1, maxIterations: 5, waitMs: 0 }), { jobs: [], leaseMs: m.ctx.config.leaseMs });
    assert.deepEqual(await post('/internal/complete', { workerId: 'w', results: [{ id: 1001, result: HEX }] }), { accepted: [], rejected: [1001] });
    assert.deepEqual(await post('/internal/heartbeat', { workerId: 'w', ids: [], threads: 2, busy: 0, hashRate: null, instanceId: 'i-1' }), {
      extended: [],
      lost: [],
      leaseMs: m.ctx.config.leaseMs,
    });
    assert.deepEqual(await post('/internal/logs', { workerId: 'w', lines: ['{}'] }), { kept: 1 });
    assert.deepEqual(await post('/internal/ack', { token: TOKEN }), { count: 0 });
    const [w] = m.ctx.workers.list(Date.now());
    assert.equal(w?.threads, 2);
    assert.equal(w?.instanceId, 'i-1');
  });
});

describe('the client checks answers with the protocol schemas', () => {
  let server: Server;
  let answer: (res: ServerResponse) => void;
  let calls: number;
  let client: ManagerClient;

  beforeEach(async () => {
    calls = 0;
    server = createServer((req, res) => {
      calls++;
      req.resume();
      req.on('end', () => answer(res));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new ManagerClient({ endpoint: url, token: 't', timeoutMs: 2_000, retry: { retries: 2, minTimeoutMs: 10, maxTimeoutMs: 20 } });
  });
  afterEach(async () => {
    await client.close();
    server.closeAllConnections();
    server.close();
    if (server.listening) await once(server, 'close');
  });

  const wrong = (body: string) => (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(body);

  const cases: [string, () => Promise<unknown>, string, RegExp][] = [
    ['lease', () => client.lease({ workerId: 'w', max: 1 }), JSON.stringify({ jobs: [{ id: 1001, data: 'x', iterations: 0 }], leaseMs: 1_000 }), /POST \/internal\/lease: jobs\[0\]\.iterations /],
    ['heartbeat', () => client.heartbeat({ workerId: 'w', ids: [], threads: 1, busy: 0 }), JSON.stringify({ extended: [], lost: 'all', leaseMs: 1_000 }), /POST \/internal\/heartbeat: lost\b/],
    ['pull', () => client.pullCompleted(1), JSON.stringify([{ id: 1001, result: 'not a hash' }]), /POST \/pullCompleted: \[0\]\.result must be 128 lowercase hex/],
    ['status', () => client.status(), JSON.stringify({ manager: {}, queue: {} }), /GET \/status: manager\.index\b/],
    ['job', () => client.getJob(1001), JSON.stringify({ id: 1001, status: 'lost' }), /GET \/jobs\/1001: status\b/],
    ['not JSON', () => client.complete({ workerId: 'w', results: [] }), '<html>fine</html>', /POST \/internal\/complete: the answer is not JSON/],
  ];

  for (const [name, call, body, names] of cases) {
    test(`a malformed answer to ${name} is an invalid_response naming route and field, not retried`, async () => {
      answer = wrong(body);
      const err = await call().then(
        () => assert.fail('expected an error'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.apiCode, 'invalid_response');
      assert.match(err.message, names);
      assert.equal(calls, 1, 'a wrong answer is not a transient failure');
    });
  }

  test('an answer with more than the protocol names is still taken (a newer manager)', async () => {
    answer = wrong(JSON.stringify({ jobs: [{ id: 1001, data: 'x', iterations: 3, extra: true }], leaseMs: 1_000, more: 1 }));
    assert.deepEqual(await client.lease({ workerId: 'w', max: 1 }), { jobs: [{ id: 1001, data: 'x', iterations: 3 }], leaseMs: 1_000 });
  });
});

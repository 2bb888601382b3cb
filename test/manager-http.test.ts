import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningManager } from '../src/runtime/manager/server.js';
import { auth, CLIENT_TOKEN, memoryLogger, startTestManager, tempDir, waitFor, WORKER_TOKEN } from './helpers.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_CT = { 'content-type': 'application/json' };
const TEXT = { 'content-type': 'text/plain' };

describe('manager HTTP API', () => {
  let tmp: ReturnType<typeof tempDir>;
  let m: RunningManager;
  const log = memoryLogger();

  before(async () => {
    tmp = tempDir();
    m = await startTestManager(tmp.dir, {}, { logger: log.logger });
  });
  after(async () => {
    await m.close();
    tmp.cleanup();
  });

  const send = (c: { method?: string; path: string; headers?: Record<string, string>; body?: string | Uint8Array }) =>
    fetch(m.url + c.path, { method: c.method ?? 'PUT', headers: { ...auth(), ...c.headers }, ...(c.body === undefined ? {} : { body: c.body }) });

  test('the seed curl shapes and the other body forms enqueue jobs', async () => {
    const form = await send({ path: '/enqueue?iterations=10', headers: FORM, body: 'data=Hello' });
    assert.equal(form.status, 200);
    const { id } = (await form.json()) as { id: number };
    assert.ok(Number.isSafeInteger(id));

    const json = (await (await send({ path: '/enqueue?iterations=2', headers: JSON_CT, body: '{"data":"a b&c=d+e%20"}' })).json()) as { id: number };
    const text = (await (await send({ path: '/enqueue?iterations=3', headers: TEXT, body: 'héllo wörld ✓' })).json()) as { id: number };
    const batch = (await (await send({ path: '/enqueue?iterations=7', headers: JSON_CT, body: JSON.stringify([{ data: 'x' }, { data: '', iterations: 1 }]) })).json()) as { ids: number[] };
    const all = [id, json.id, text.id, ...batch.ids];
    assert.equal(new Set(all).size, 5);

    const job = (await (await send({ method: 'GET', path: `/jobs/${id}` })).json()) as { status: string; iterations: number };
    assert.equal(job.status, 'queued');
    assert.equal(job.iterations, 10);
    const textJob = (await (await send({ method: 'GET', path: `/jobs/${text.id}` })).json()) as { iterations: number };
    assert.equal(textJob.iterations, 3);

    const pull = await send({ method: 'POST', path: '/pullCompleted?top=2' });
    assert.equal(pull.status, 200);
    assert.deepEqual(await pull.json(), []);

    const status = (await (await send({ method: 'GET', path: '/status' })).json()) as { queue: { queued: number } };
    assert.equal(status.queue.queued, 5);
  });

  test('health needs no token; status and metrics take either token and show no job data', async () => {
    await send({ path: '/enqueue?iterations=1', headers: TEXT, body: 'secret-payload-42' });
    assert.equal((await fetch(`${m.url}/healthz`)).status, 200);
    for (const token of [CLIENT_TOKEN, WORKER_TOKEN]) {
      for (const path of ['/status', '/metrics']) {
        const res = await fetch(m.url + path, { headers: auth(token) });
        assert.equal(res.status, 200, `${path} with ${token}`);
        const text = await res.text();
        assert.ok(!text.includes('secret-payload-42'), `${path} leaks job data`);
        if (path === '/metrics') {
          assert.match(text, /dynwork_jobs\{state="queued"\} \d+/);
          assert.match(text, /dynwork_jobs_enqueued_total \d+/);
          assert.match(text, /dynwork_http_request_duration_seconds_bucket/);
          assert.match(text, /dynwork_oldest_queued_age_seconds/);
          assert.match(text, /dynwork_lease_expiries_total/);
          assert.match(text, /^dynwork_nodejs_eventloop_lag_p99_seconds [\d.e-]+$/m, 'event-loop lag is still measured');
        }
      }
    }
    for (const line of log.lines) {
      assert.ok(!line.includes('secret-payload-42') && !line.includes(CLIENT_TOKEN) && !line.includes(WORKER_TOKEN), `log leaks: ${line}`);
    }
  });
});

describe("the workers' calls, on their lean path and through Express", () => {
  test('the exact paths (served beside Express) answer every body as the Express routes do for the same call under another spelling', async () => {
    const tmp = tempDir();
    const m = await startTestManager(tmp.dir);
    try {
      const worker = { authorization: `Bearer ${WORKER_TOKEN}` };
      const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
        const r = await fetch(m.url + path, { method: 'POST', headers: { ...worker, 'content-type': 'application/json', ...headers }, body });
        return { status: r.status, body: await r.json() };
      };
      await fetch(`${m.url}/enqueue?iterations=1`, { method: 'PUT', headers: { ...auth(), 'content-type': 'text/plain' }, body: 'lean' });
      const cases: [string, string][] = [
        ['/internal/heartbeat', '{"workerId":"w","ids":[],"threads":1,"busy":0}'],
        ['/internal/heartbeat', '\uFEFF{"workerId":"w","ids":[],"threads":1,"busy":0}'],
        ['/internal/heartbeat', ''],
        ['/internal/heartbeat', '  "just a string"'],
        ['/internal/heartbeat', '{"workerId":'],
        ['/internal/complete', '{"workerId":"w","results":[{"id":1001,"result":"' + 'a'.repeat(128) + '"}]}'],
        ['/internal/lease', '{"workerId":"w","max":0}'],
      ];
      for (const [path, body] of cases) {
        const lean = await post(path, body);
        // A trailing slash is the same route to Express, and not the lean path's.
        const express = await post(`${path}/`, body);
        assert.deepEqual(lean, express, `${path} ${JSON.stringify(body)}`);
      }
      // A job leased on the lean path is the worker's, and its lease answer is the API's shape.
      const leased = await post('/internal/lease', '{"workerId":"w","max":5}');
      assert.equal(leased.status, 200);
      assert.deepEqual(
        (leased.body as { jobs: { data: string }[] }).jobs.map((j) => j.data),
        ['lean'],
      );
      // The worker token only: a client token is refused the same way on both.
      const asClient = { authorization: `Bearer ${CLIENT_TOKEN}` };
      assert.deepEqual(await post('/internal/lease', '{"workerId":"w","max":1}', asClient), await post('/internal/lease/', '{"workerId":"w","max":1}', asClient));
      const over = 'x'.repeat(m.ctx.config.limits.maxBodyBytes + 1);
      const tooBig = await post('/internal/heartbeat', over);
      assert.equal(tooBig.status, 413);
      assert.deepEqual(tooBig, await post('/internal/heartbeat/', over));
    } finally {
      await m.close();
      tmp.cleanup();
    }
  });
});

describe("the client's pull, on its lean path and through Express", () => {
  test('POST /pullCompleted (served beside Express) answers every query and token as the Express route does under another spelling, and hands each result out once', async () => {
    const tmp = tempDir();
    const m = await startTestManager(tmp.dir);
    try {
      const pull = async (path: string, headers: Record<string, string> = auth()) => {
        const r = await fetch(m.url + path, { method: 'POST', headers });
        return { status: r.status, body: await r.json() };
      };
      const queries = ['?top=1', '', '?top=abc', '?top=0', '?top=1&top=2', '?top=1&local=maybe', '?top=1&waitMs=x', '?top=1&waitMs=20&local=1', `?top=${m.ctx.config.limits.maxTop + 1}`];
      for (const q of queries) {
        const lean = await pull(`/pullCompleted${q}`);
        // A trailing slash is the same route to Express, and not the lean path's.
        const express = await pull(`/pullCompleted/${q}`);
        assert.deepEqual(lean, express, q);
      }
      assert.equal((await pull('/pullCompleted')).status, 400, 'top is required');
      for (const headers of [{}, { authorization: `Bearer ${WORKER_TOKEN}` }, { authorization: 'Bearer nope' }] as Record<string, string>[]) {
        const lean = await pull('/pullCompleted?top=1', headers);
        assert.ok(lean.status === 401 || lean.status === 403, JSON.stringify(lean));
        assert.deepEqual(lean, await pull('/pullCompleted/?top=1', headers));
      }
      // Two results: each path takes one, and neither hands out the other's.
      const worker = { authorization: `Bearer ${WORKER_TOKEN}`, 'content-type': 'application/json' };
      const ids: number[] = [];
      for (const data of ['a', 'b']) ids.push(((await (await fetch(`${m.url}/enqueue?iterations=1`, { method: 'PUT', headers: { ...auth(), ...TEXT }, body: data })).json()) as { id: number }).id);
      const leased = (await (await fetch(`${m.url}/internal/lease`, { method: 'POST', headers: worker, body: '{"workerId":"w","max":2}' })).json()) as { jobs: { id: number }[] };
      assert.deepEqual(
        leased.jobs.map((j) => j.id),
        ids,
      );
      const results = ids.map((id, i) => ({ id, result: 'ab'[i]!.repeat(128) }));
      const done = await fetch(`${m.url}/internal/complete`, { method: 'POST', headers: worker, body: JSON.stringify({ workerId: 'w', results }) });
      assert.equal(done.status, 200);
      const lean = await pull('/pullCompleted?top=1&waitMs=1000');
      const express = await pull('/pullCompleted/?top=1&waitMs=1000');
      assert.deepEqual(
        [lean, express],
        [
          { status: 200, body: [results[0]] },
          { status: 200, body: [results[1]] },
        ],
      );
      await waitFor('both deliveries acknowledged', () => m.ctx.store.counts().delivering === 0 || undefined, 5_000);
      assert.deepEqual(await pull('/pullCompleted?top=5'), { status: 200, body: [] });
    } finally {
      await m.close();
      tmp.cleanup();
    }
  });
});

describe('manager with its queue file gone', () => {
  test('enqueue answers 503 with a clear error, /healthz reports unhealthy, nothing crashes', async () => {
    const tmp = tempDir();
    const m = await startTestManager(tmp.dir);
    try {
      const ok = await fetch(`${m.url}/enqueue?iterations=1`, { method: 'PUT', headers: { ...auth(), ...FORM }, body: 'data=x' });
      assert.equal(ok.status, 200);
      for (const f of ['queue.db', 'queue.db-wal', 'queue.db-shm']) rmSync(join(tmp.dir, f), { force: true });
      const res = await fetch(`${m.url}/enqueue?iterations=1`, { method: 'PUT', headers: { ...auth(), ...FORM }, body: 'data=y' });
      assert.equal(res.status, 503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'store_unavailable');
      assert.match(body.error.message, /queue database .* is unavailable.*nothing was written/);
      const health = await fetch(`${m.url}/healthz`);
      assert.equal(health.status, 503);
      assert.equal(((await health.json()) as { ok: boolean }).ok, false);
    } finally {
      await m.close();
      tmp.cleanup();
    }
  });
});

describe('manager start-up and shutdown', () => {
  test('a taken port: it binds the next free one, logs it and writes it to endpoint.json', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as AddressInfo).port;
    const tmp = tempDir();
    const log = memoryLogger();
    const m = await startTestManager(tmp.dir, { port: taken }, { logger: log.logger });
    try {
      assert.notEqual(m.port, taken);
      assert.ok(m.port > taken && m.port <= taken + 100);
      const file = JSON.parse(readFileSync(join(tmp.dir, 'endpoint.json'), 'utf8')) as { url: string; port: number; pid: number };
      assert.deepEqual(file, { url: `http://127.0.0.1:${m.port}`, port: m.port, pid: process.pid });
      assert.ok(log.lines.some((l) => l.includes('"port taken; trying the next one"') && l.includes(`"port":${taken}`)));
      assert.ok(log.lines.some((l) => l.includes('"manager listening"') && l.includes(`"port":${m.port}`)));
      assert.equal((await fetch(`${m.url}/healthz`)).status, 200);
    } finally {
      await m.close();
      blocker.close();
      tmp.cleanup();
    }
  });

  test('close() lets an in-flight long-poll answer, refuses new connections, and closes the database cleanly', async () => {
    const tmp = tempDir();
    const m = await startTestManager(tmp.dir);
    const poll = fetch(`${m.url}/internal/lease`, {
      method: 'POST',
      headers: { ...auth(WORKER_TOKEN), 'content-type': 'application/json' },
      body: JSON.stringify({ workerId: 'w', max: 1, waitMs: 20_000 }),
    });
    await waitFor('the long-poll to be parked', () => m.ctx.waiters.size === 1);
    await m.close();
    const res = await poll;
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { jobs: [], leaseMs: 30_000 });
    await assert.rejects(fetch(`${m.url}/healthz`));
    // A clean close checkpoints the WAL into the database file.
    assert.equal(statSync(join(tmp.dir, 'queue.db-wal'), { throwIfNoEntry: false })?.size ?? 0, 0);
    tmp.cleanup();
  });
});

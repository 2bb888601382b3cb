import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningManager } from '../src/runtime/manager/server.js';
import { auth, CLIENT_TOKEN, memoryLogger, startTestManager, tempDir, waitFor, WORKER_TOKEN } from './helpers.js';

interface Case {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  status: number;
  code: string;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_CT = { 'content-type': 'application/json' };
const TEXT = { 'content-type': 'text/plain' };
const MiB = 1024 * 1024;

const badRequests: Case[] = [
  { name: 'iterations missing', path: '/enqueue', headers: FORM, body: 'data=x', status: 400, code: 'missing_iterations' },
  { name: 'iterations empty', path: '/enqueue?iterations=', headers: FORM, body: 'data=x', status: 400, code: 'invalid_iterations' },
  { name: 'iterations negative', path: '/enqueue?iterations=-1', headers: FORM, body: 'data=x', status: 400, code: 'invalid_iterations' },
  { name: 'iterations zero', path: '/enqueue?iterations=0', headers: FORM, body: 'data=x', status: 400, code: 'invalid_iterations' },
  { name: 'iterations float', path: '/enqueue?iterations=1.5', headers: FORM, body: 'data=x', status: 400, code: 'invalid_iterations' },
  { name: 'iterations exponent', path: '/enqueue?iterations=1e3', headers: FORM, body: 'data=x', status: 400, code: 'invalid_iterations' },
  { name: 'iterations hex', path: '/enqueue?iterations=0x10', headers: FORM, body: 'data=x', status: 400, code: 'invalid_iterations' },
  { name: 'iterations over the limit', path: '/enqueue?iterations=10000001', headers: FORM, body: 'data=x', status: 400, code: 'invalid_iterations' },
  { name: 'iterations huge', path: '/enqueue?iterations=99999999999999999999', headers: FORM, body: 'data=x', status: 400, code: 'invalid_iterations' },
  { name: 'iterations not a number', path: '/enqueue?iterations=ten', headers: FORM, body: 'data=x', status: 400, code: 'invalid_iterations' },
  { name: 'iterations repeated', path: '/enqueue?iterations=1&iterations=2', headers: FORM, body: 'data=x', status: 400, code: 'invalid_iterations' },
  { name: 'form without data', path: '/enqueue?iterations=1', headers: FORM, body: 'date=x', status: 400, code: 'missing_data' },
  { name: 'form with data twice', path: '/enqueue?iterations=1', headers: FORM, body: 'data=a&data=b', status: 400, code: 'invalid_data' },
  { name: 'data over 1 MiB', path: '/enqueue?iterations=1', headers: TEXT, body: 'x'.repeat(MiB + 1), status: 413, code: 'data_too_large' },
  { name: 'body over the body limit', path: '/enqueue?iterations=1', headers: TEXT, body: 'x'.repeat(2 * MiB + 1), status: 413, code: 'body_too_large' },
  { name: 'no content type', path: '/enqueue?iterations=1', body: new TextEncoder().encode('data=x'), status: 415, code: 'unsupported_media_type' },
  { name: 'xml content type', path: '/enqueue?iterations=1', headers: { 'content-type': 'application/xml' }, body: '<data/>', status: 415, code: 'unsupported_media_type' },
  { name: 'latin-1 charset', path: '/enqueue?iterations=1', headers: { 'content-type': 'text/plain; charset=latin1' }, body: 'x', status: 415, code: 'unsupported_charset' },
  { name: 'malformed JSON', path: '/enqueue?iterations=1', headers: JSON_CT, body: '{"data": "x"', status: 400, code: 'invalid_json' },
  { name: 'JSON scalar', path: '/enqueue?iterations=1', headers: JSON_CT, body: '42', status: 400, code: 'invalid_json' },
  { name: 'JSON data not a string', path: '/enqueue?iterations=1', headers: JSON_CT, body: '{"data": 5}', status: 400, code: 'invalid_data' },
  { name: 'JSON without data', path: '/enqueue?iterations=1', headers: JSON_CT, body: '{"dat": "x"}', status: 400, code: 'missing_data' },
  { name: 'JSON iterations float', path: '/enqueue', headers: JSON_CT, body: '{"data": "x", "iterations": 2.5}', status: 400, code: 'invalid_iterations' },
  {
    name: 'batch with one bad element',
    path: '/enqueue',
    headers: JSON_CT,
    body: JSON.stringify([{ data: 'a', iterations: 1 }, { data: 'b', iterations: 1 }, { data: 'c', iterations: -4 }]),
    status: 400,
    code: 'invalid_iterations',
  },
  { name: 'batch element not an object', path: '/enqueue?iterations=1', headers: JSON_CT, body: '[{"data":"a"}, "b"]', status: 400, code: 'invalid_job' },
  { name: 'empty batch', path: '/enqueue?iterations=1', headers: JSON_CT, body: '[]', status: 400, code: 'empty_batch' },
  { name: 'batch over the limit', path: '/enqueue?iterations=1', headers: JSON_CT, body: JSON.stringify(Array.from({ length: 11 }, () => ({ data: 'a' }))), status: 413, code: 'batch_too_large' },
  { name: 'invalid UTF-8', path: '/enqueue?iterations=1', headers: TEXT, body: new Uint8Array([0x64, 0xff, 0xfe, 0x61]), status: 400, code: 'invalid_utf8' },
  { name: 'top missing', method: 'POST', path: '/pullCompleted', status: 400, code: 'missing_top' },
  { name: 'top zero', method: 'POST', path: '/pullCompleted?top=0', status: 400, code: 'invalid_top' },
  { name: 'top over the limit', method: 'POST', path: '/pullCompleted?top=10001', status: 400, code: 'invalid_top' },
  { name: 'top float', method: 'POST', path: '/pullCompleted?top=2.5', status: 400, code: 'invalid_top' },
  { name: 'top negative', method: 'POST', path: '/pullCompleted?top=-3', status: 400, code: 'invalid_top' },
  { name: 'enqueue with GET', method: 'GET', path: '/enqueue?iterations=1', status: 405, code: 'method_not_allowed' },
  { name: 'pullCompleted with DELETE', method: 'DELETE', path: '/pullCompleted?top=1', status: 405, code: 'method_not_allowed' },
  { name: 'unknown route', method: 'GET', path: '/nope', status: 404, code: 'not_found' },
  { name: 'no token', path: '/enqueue?iterations=1', headers: { ...FORM, authorization: '' }, body: 'data=x', status: 401, code: 'unauthorized' },
  { name: 'wrong token', path: '/enqueue?iterations=1', headers: { ...FORM, authorization: 'Bearer nope-nope-nope-nope' }, body: 'data=x', status: 401, code: 'unauthorized' },
  { name: 'not a bearer header', path: '/enqueue?iterations=1', headers: { ...FORM, authorization: `Basic ${CLIENT_TOKEN}` }, body: 'data=x', status: 401, code: 'unauthorized' },
  { name: 'worker token on enqueue', path: '/enqueue?iterations=1', headers: { ...FORM, authorization: `Bearer ${WORKER_TOKEN}` }, body: 'data=x', status: 403, code: 'forbidden' },
  { name: 'client token on lease', method: 'POST', path: '/internal/lease', headers: JSON_CT, body: '{"workerId":"w","max":1}', status: 403, code: 'forbidden' },
  { name: 'client token on peer pull', method: 'POST', path: '/internal/pull?top=1', status: 403, code: 'forbidden' },
  { name: 'job id not a number', method: 'GET', path: '/jobs/abc', status: 400, code: 'invalid_id' },
  { name: 'unknown job', method: 'GET', path: '/jobs/999001', status: 404, code: 'job_not_found' },
  {
    name: 'lease without workerId',
    method: 'POST',
    path: '/internal/lease',
    headers: { ...JSON_CT, authorization: `Bearer ${WORKER_TOKEN}` },
    body: '{"max":1}',
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'complete with a malformed result',
    method: 'POST',
    path: '/internal/complete',
    headers: { ...JSON_CT, authorization: `Bearer ${WORKER_TOKEN}` },
    body: '{"workerId":"w","results":[{"id":1001,"result":"xyz"}]}',
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'internal call with malformed JSON',
    method: 'POST',
    path: '/internal/heartbeat',
    headers: { ...JSON_CT, authorization: `Bearer ${WORKER_TOKEN}` },
    body: '{"workerId":',
    status: 400,
    code: 'invalid_json',
  },
];

describe('manager HTTP API', () => {
  let tmp: ReturnType<typeof tempDir>;
  let m: RunningManager;
  const log = memoryLogger();

  before(async () => {
    tmp = tempDir();
    m = await startTestManager(
      tmp.dir,
      { limits: { maxDataBytes: MiB, maxBodyBytes: 2 * MiB, maxBatch: 10, maxIterations: 10_000_000, maxTop: 10_000 } },
      { logger: log.logger },
    );
  });
  after(async () => {
    await m.close();
    tmp.cleanup();
  });

  const send = (c: { method?: string; path: string; headers?: Record<string, string>; body?: string | Uint8Array }) =>
    fetch(m.url + c.path, { method: c.method ?? 'PUT', headers: { ...auth(), ...c.headers }, ...(c.body === undefined ? {} : { body: c.body }) });

  test(`${badRequests.length} bad requests each get their status and error body, and nothing is written`, async () => {
    assert.ok(badRequests.length >= 30);
    const before = m.ctx.store.counts();
    for (const c of badRequests) {
      const res = await send(c);
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      assert.equal(res.status, c.status, `${c.name}: status`);
      assert.equal(body.error?.code, c.code, `${c.name}: code`);
      assert.ok(typeof body.error?.message === 'string' && body.error.message.length > 5, `${c.name}: message`);
    }
    assert.deepEqual(m.ctx.store.counts(), before);
    assert.equal(m.ctx.metrics.totals.enqueued, 0);
    const health = await fetch(`${m.url}/healthz`);
    assert.equal(health.status, 200);
  });

  test('the seed curl shapes and the other body forms enqueue jobs', async () => {
    const form = await send({ path: '/enqueue?iterations=10', headers: FORM, body: 'data=Hello' });
    assert.equal(form.status, 200);
    const { id } = (await form.json()) as { id: number };
    assert.ok(Number.isSafeInteger(id));

    const json = (await (await send({ path: '/enqueue?iterations=2', headers: JSON_CT, body: '{"data":"a b&c=d+e%20"}' })).json()) as { id: number };
    const text = (await (await send({ path: '/enqueue?iterations=3', headers: TEXT, body: 'héllo wörld ✓' })).json()) as { id: number };
    const batch = (await (
      await send({ path: '/enqueue?iterations=7', headers: JSON_CT, body: JSON.stringify([{ data: 'x' }, { data: '', iterations: 1 }]) })
    ).json()) as { ids: number[] };
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

/**
 * Who may call what: every route × {no token, wrong token, client token,
 * worker token}. And nothing secret in logs, status or metrics; private files.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningManager } from '../src/runtime/manager/server.js';
import { CLIENT_TOKEN, memoryLogger, startTestManager, tempDir, WORKER_TOKEN } from './helpers.js';

type Who = 'none' | 'wrong' | 'wrongLength' | 'client' | 'worker';
const HEADER: Record<Who, string | undefined> = {
  none: undefined,
  wrong: `Bearer ${'z'.repeat(CLIENT_TOKEN.length)}`,
  wrongLength: 'Bearer short',
  client: `Bearer ${CLIENT_TOKEN}`,
  worker: `Bearer ${WORKER_TOKEN}`,
};

interface Route {
  method: string;
  path: string;
  body?: string;
  type?: string;
  /** Who gets in; everyone else: 401 without a valid token, 403 with the other one. */
  allowed: Who[];
  okStatus?: number;
}

const ROUTES: Route[] = [
  { method: 'GET', path: '/healthz', allowed: ['none', 'wrong', 'wrongLength', 'client', 'worker'] },
  // The dashboard page holds no data: it asks for the token, which its data needs.
  { method: 'GET', path: '/', allowed: ['none', 'wrong', 'wrongLength', 'client', 'worker'] },
  { method: 'GET', path: '/dashboard/data', allowed: ['client'] },
  { method: 'GET', path: '/jobs?state=failed', allowed: ['client'] },
  { method: 'GET', path: '/logs', allowed: ['client'] },
  { method: 'POST', path: '/internal/logs', type: 'application/json', body: '{"workerId":"m","lines":["{}"]}', allowed: ['worker'] },
  { method: 'PUT', path: '/enqueue?iterations=1', type: 'text/plain', body: 'matrix', allowed: ['client'] },
  { method: 'POST', path: '/pullCompleted?top=1', allowed: ['client'] },
  { method: 'GET', path: '/jobs/1001', allowed: ['client'] },
  { method: 'GET', path: '/status', allowed: ['client', 'worker'] },
  { method: 'GET', path: '/metrics', allowed: ['client', 'worker'] },
  { method: 'POST', path: '/internal/lease', type: 'application/json', body: '{"workerId":"m","max":1}', allowed: ['worker'] },
  { method: 'POST', path: '/internal/complete', type: 'application/json', body: '{"workerId":"m","results":[]}', allowed: ['worker'] },
  { method: 'POST', path: '/internal/heartbeat', type: 'application/json', body: '{"workerId":"m","ids":[],"threads":1,"busy":0}', allowed: ['worker'] },
  { method: 'POST', path: '/pullCompleted/lease?top=1&leaseMs=1000', allowed: ['client'] },
  { method: 'POST', path: '/pullCompleted/ack', type: 'application/json', body: '{"receipt":"1:AAAAAAAAAAAAAAAAAAAAAA"}', allowed: ['client'] },
  { method: 'POST', path: '/pullCompleted/release', type: 'application/json', body: '{"receipt":"1:AAAAAAAAAAAAAAAAAAAAAA"}', allowed: ['client'] },
  { method: 'POST', path: '/internal/reserve?top=1&leaseMs=1000', allowed: ['worker'] },
  { method: 'POST', path: '/internal/ack', type: 'application/json', body: '{"token":"AAAAAAAAAAAAAAAAAAAAAA"}', allowed: ['worker'] },
  { method: 'POST', path: '/internal/release', type: 'application/json', body: '{"token":"AAAAAAAAAAAAAAAAAAAAAA"}', allowed: ['worker'] },
];

function expectedStatus(r: Route, who: Who): number {
  if (r.allowed.includes(who)) return 200;
  if (who === 'client' || who === 'worker') return 403;
  return 401;
}

describe('access', () => {
  const tmp = tempDir();
  const log = memoryLogger();
  let m: RunningManager;
  before(async () => {
    m = await startTestManager(tmp.dir, {}, { logger: log.logger });
  });
  after(async () => {
    await m.close();
    tmp.cleanup();
  });

  test(`matrix: ${ROUTES.length} routes × 5 kinds of caller`, async () => {
    const who: Who[] = ['none', 'wrong', 'wrongLength', 'client', 'worker'];
    for (const r of ROUTES) {
      for (const w of who) {
        const h = HEADER[w];
        const res = await fetch(m.url + r.path, {
          method: r.method,
          headers: { ...(h ? { authorization: h } : {}), ...(r.type ? { 'content-type': r.type } : {}) },
          ...(r.body ? { body: r.body } : {}),
        });
        const text = await res.text();
        const want = expectedStatus(r, w);
        // A job that is not there is a 404 for whoever may ask.
        const got = r.path === '/jobs/1001' && res.status === 404 ? 200 : res.status;
        assert.equal(got, want, `${r.method} ${r.path} as ${w}: ${text.slice(0, 120)}`);
        if (want === 401) {
          assert.equal(res.headers.get('www-authenticate'), 'Bearer', `${r.path} as ${w}: WWW-Authenticate`);
          assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'unauthorized');
        }
        if (want === 403) assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'forbidden');
      }
    }
  });

  test('no token, job data or result in any log line, in /status or in /metrics; endpoint file private', async () => {
    const payload = 'access-matrix-secret-payload';
    const enq = await fetch(`${m.url}/enqueue?iterations=3`, {
      method: 'PUT',
      headers: { authorization: HEADER.client!, 'content-type': 'text/plain' },
      body: payload,
    });
    const { id } = (await enq.json()) as { id: number };
    const worker = { authorization: HEADER.worker!, 'content-type': 'application/json' };
    let leased: { id: number; data: string }[] = [];
    // Earlier matrix calls may have left queued jobs: lease until ours comes.
    while (!leased.some((j) => j.id === id)) {
      const r = await fetch(`${m.url}/internal/lease`, { method: 'POST', headers: worker, body: JSON.stringify({ workerId: 'm2', max: 100 }) });
      leased = ((await r.json()) as { jobs: { id: number; data: string }[] }).jobs;
      assert.ok(leased.length > 0, 'our job was leased');
    }
    let result = createHash('sha512').update(payload).digest('hex');
    for (let i = 1; i < 3; i++) result = createHash('sha512').update(result).digest('hex');
    const done = await fetch(`${m.url}/internal/complete`, { method: 'POST', headers: worker, body: JSON.stringify({ workerId: 'm2', results: [{ id, result }] }) });
    assert.deepEqual(((await done.json()) as { accepted: number[] }).accepted, [id]);
    for (const path of ['/status', '/metrics']) {
      const text = await (await fetch(m.url + path, { headers: { authorization: HEADER.client! } })).text();
      assert.ok(!text.includes(payload) && !text.includes(result), `${path} shows job data`);
    }
    const pulled = await (await fetch(`${m.url}/pullCompleted?top=100`, { method: 'POST', headers: { authorization: HEADER.client! } })).text();
    assert.ok(pulled.includes(result));
    assert.ok(
      log.lines.some((l) => l.includes('"completed"') && new RegExp(`"jobIds":\\[([0-9]+,)*${id}[,\\]]`).test(l)),
      'the completion was logged, with its job id',
    );
    for (const line of log.lines) {
      for (const secret of [CLIENT_TOKEN, WORKER_TOKEN, payload, result]) assert.ok(!line.includes(secret), `a log line leaks: ${line.slice(0, 200)}`);
    }
    assert.equal(statSync(join(tmp.dir, 'endpoint.json')).mode & 0o777, 0o600);
  });
});

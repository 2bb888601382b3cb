/**
 * Bad input and bad credentials on every endpoint (issue 5): each case gets
 * its documented status and error body, the server stays healthy, the store
 * is unchanged, and no token reaches the log.
 * Node's own HTTP layer answers a few (431 for huge headers, 408 for a slow
 * body) before our code runs: those have no JSON body, so only their status
 * is checked.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RunningManager } from '../src/runtime/manager/server.js';
import { auth, CLIENT_TOKEN, memoryLogger, startTestManager, tempDir, WORKER_TOKEN } from './helpers.js';

interface Case {
  name: string;
  method: string;
  path: string;
  token?: 'client' | 'worker';
  type?: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  status: number;
  /** The error code; null where Node's HTTP layer answers without our body. */
  code: string | null;
}

const MiB = 1024 * 1024;
const FORM = 'application/x-www-form-urlencoded';
const JSONT = 'application/json';
const TEXT = 'text/plain';
const enq = (q: string, body: string | Uint8Array, type: string | undefined, status: number, code: string, name: string): Case => ({
  name,
  method: 'PUT',
  path: `/enqueue${q}`,
  ...(type ? { type } : {}),
  body,
  status,
  code,
});
const iter = (v: string, name: string): Case => enq(`?iterations=${v}`, 'data=x', FORM, 400, 'invalid_iterations', `iterations ${name}`);
const top = (q: string, name: string, path = '/pullCompleted', token: 'client' | 'worker' = 'client'): Case => ({
  name: `${path} top ${name}`,
  method: 'POST',
  path: `${path}${q}`,
  token,
  status: 400,
  code: q.includes('top=') ? 'invalid_top' : 'missing_top',
});
const internal = (path: string, body: string, name: string): Case => ({
  name,
  method: 'POST',
  path,
  token: 'worker',
  type: JSONT,
  body,
  status: 400,
  code: 'invalid_request',
});

const cases: Case[] = [
  iter('', 'empty'),
  iter('-1', 'negative'),
  iter('-0', 'negative zero'),
  iter('0', 'zero'),
  iter('1.5', 'float'),
  iter('1.0', 'float that is whole'),
  iter('1e3', 'exponent'),
  iter('0x10', 'hex'),
  iter('10000001', 'over the limit'),
  iter('99999999999999999999', 'huge'),
  iter('9007199254740993', 'past the safe integers'),
  iter('ten', 'a word'),
  iter('NaN', 'NaN'),
  iter('Infinity', 'Infinity'),
  iter('%2B5', 'with a plus sign'),
  iter('%205', 'with a space'),
  iter('1_000', 'with an underscore'),
  iter('%EF%BC%91', 'a full-width digit'),
  iter('1&iterations=2', 'given twice'),
  enq('', 'data=x', FORM, 400, 'missing_iterations', 'iterations missing'),
  top('', 'missing'),
  top('?top=', 'empty'),
  top('?top=0', 'zero'),
  top('?top=-3', 'negative'),
  top('?top=2.5', 'float'),
  top('?top=1e2', 'exponent'),
  top('?top=0x10', 'hex'),
  top('?top=abc', 'a word'),
  top('?top=10001', 'over the limit'),
  top('?top=99999999999999999999', 'huge'),
  top('?top=1&top=2', 'given twice'),
  top('?top=0&leaseMs=1000', 'zero', '/internal/reserve', 'worker'),
  { name: 'waitMs zero', method: 'POST', path: '/pullCompleted?top=1&waitMs=0', status: 400, code: 'invalid_waitMs' },
  { name: 'waitMs over the long-poll limit', method: 'POST', path: '/pullCompleted?top=1&waitMs=20001', status: 400, code: 'invalid_waitMs' },
  { name: 'waitMs a word', method: 'POST', path: '/pullCompleted?top=1&waitMs=soon', status: 400, code: 'invalid_waitMs' },
  { name: 'local a word', method: 'POST', path: '/pullCompleted?top=1&local=yes', status: 400, code: 'invalid_local' },
  { name: 'local given twice', method: 'POST', path: '/pullCompleted?top=1&local=1&local=0', status: 400, code: 'invalid_local' },
  top('?top=x&leaseMs=1000', 'a word', '/internal/reserve', 'worker'),
  enq('?iterations=1', 'date=x', FORM, 400, 'missing_data', 'form data missing'),
  enq('?iterations=1', '', FORM, 400, 'missing_data', 'form body empty'),
  enq('?iterations=1', 'data=a&data=b', FORM, 400, 'invalid_data', 'form data given twice'),
  enq('?iterations=1', 'x'.repeat(MiB + 1), TEXT, 413, 'data_too_large', 'text data 1 MiB + 1'),
  enq('?iterations=1', `data=${'x'.repeat(MiB + 1)}`, FORM, 413, 'data_too_large', 'form data 1 MiB + 1'),
  enq('?iterations=1', JSON.stringify({ data: 'x'.repeat(MiB + 1) }), JSONT, 413, 'data_too_large', 'JSON data 1 MiB + 1'),
  enq('?iterations=1', 'x'.repeat(2 * MiB + 1), TEXT, 413, 'body_too_large', 'body over the body limit'),
  enq('?iterations=1', new Uint8Array([0x80, 0x81, 0xfe, 0xff]), TEXT, 400, 'invalid_utf8', 'binary (invalid UTF-8) text'),
  enq('?iterations=1', new Uint8Array([0x64, 0x61, 0x74, 0x61, 0x3d, 0xc3, 0x28]), FORM, 400, 'invalid_utf8', 'form with invalid UTF-8'),
  enq('?iterations=1', new Uint8Array([0x7b, 0x22, 0x64, 0x22, 0x3a, 0xed, 0xa0, 0x80, 0x7d]), JSONT, 400, 'invalid_utf8', 'JSON with an encoded surrogate'),
  enq('?iterations=1', new TextEncoder().encode('data=x'), undefined, 415, 'unsupported_media_type', 'no content type'),
  enq('?iterations=1', '<data>x</data>', 'application/xml', 415, 'unsupported_media_type', 'XML'),
  enq('?iterations=1', 'data=x', 'multipart/form-data; boundary=x', 415, 'unsupported_media_type', 'multipart'),
  enq('?iterations=1', '<b>x</b>', 'text/html', 415, 'unsupported_media_type', 'HTML'),
  enq('?iterations=1', 'x', 'text/plain; charset=latin1', 415, 'unsupported_charset', 'latin-1 text'),
  enq('?iterations=1', '{"data":"x"}', 'application/json; charset=utf-16', 415, 'unsupported_charset', 'UTF-16 JSON'),
  enq('?iterations=1', 'data=x', `${FORM}; charset=iso-8859-1`, 415, 'unsupported_charset', 'ISO-8859-1 form'),
  enq('?iterations=1', '', JSONT, 400, 'invalid_json', 'JSON body empty'),
  enq('?iterations=1', '{"data": "x"', JSONT, 400, 'invalid_json', 'JSON cut short'),
  enq('?iterations=1', "{'data': 'x'}", JSONT, 400, 'invalid_json', 'JSON with single quotes'),
  enq('?iterations=1', '"x"', JSONT, 400, 'invalid_json', 'JSON string'),
  enq('?iterations=1', 'null', JSONT, 400, 'invalid_json', 'JSON null'),
  enq('?iterations=1', '42', JSONT, 400, 'invalid_json', 'JSON number'),
  enq('?iterations=1', '{"data": ["x"]}', JSONT, 400, 'invalid_data', 'JSON data an array'),
  enq('?iterations=1', '{"data": 5}', JSONT, 400, 'invalid_data', 'JSON data a number'),
  enq('?iterations=1', '{"dat": "x"}', JSONT, 400, 'missing_data', 'JSON data missing'),
  enq('', '{"data": "x", "iterations": "5"}', JSONT, 400, 'invalid_iterations', 'JSON iterations a string'),
  enq('', '{"data": "x", "iterations": 0}', JSONT, 400, 'invalid_iterations', 'JSON iterations zero'),
  enq('', '{"data": "x", "iterations": 2.5}', JSONT, 400, 'invalid_iterations', 'JSON iterations a float'),
  enq('', '[{"data":"a","iterations":1},{"data":"b","iterations":1.5}]', JSONT, 400, 'invalid_iterations', 'batch with one float'),
  enq('', '[{"data":"a","iterations":1},{"data":"b"}]', JSONT, 400, 'missing_iterations', 'batch element without iterations'),
  enq('?iterations=1', '[{"data":"a"},{"data":2}]', JSONT, 400, 'invalid_data', 'batch element data a number'),
  enq('?iterations=1', '[{"data":"a"},null]', JSONT, 400, 'invalid_job', 'batch element null'),
  enq('?iterations=1', '[{"data":"a"},[]]', JSONT, 400, 'invalid_job', 'batch element an array'),
  enq('?iterations=1', '[{"data":"a"},"b"]', JSONT, 400, 'invalid_job', 'batch element a string'),
  enq('?iterations=1', JSON.stringify([{ data: 'a' }, { data: 'x'.repeat(MiB + 1) }]), JSONT, 413, 'data_too_large', 'batch with one element too big'),
  enq('?iterations=1', JSON.stringify(Array.from({ length: 11 }, () => ({ data: 'a' }))), JSONT, 413, 'batch_too_large', 'batch over the count limit'),
  enq('?iterations=1', '[]', JSONT, 400, 'empty_batch', 'empty batch'),
  { name: 'job id negative', method: 'GET', path: '/jobs/-1', status: 400, code: 'invalid_id' },
  { name: 'job id float', method: 'GET', path: '/jobs/1.5', status: 400, code: 'invalid_id' },
  { name: 'job id zero', method: 'GET', path: '/jobs/0', status: 400, code: 'invalid_id' },
  { name: 'job id huge', method: 'GET', path: '/jobs/99999999999999999999', status: 400, code: 'invalid_id' },
  { name: 'job id a word', method: 'GET', path: '/jobs/abc', status: 400, code: 'invalid_id' },
  { name: 'job unknown', method: 'GET', path: '/jobs/424242001', status: 404, code: 'job_not_found' },
  internal('/internal/lease', '{"workerId":"w","max":0}', 'lease max zero'),
  internal('/internal/lease', '{"workerId":"w","max":"5"}', 'lease max a string'),
  internal('/internal/lease', '{"workerId":"w","max":1,"waitMs":-1}', 'lease waitMs negative'),
  internal('/internal/lease', '[]', 'lease body an array'),
  internal('/internal/lease', '{"max":1}', 'lease workerId missing'),
  internal('/internal/complete', '{"workerId":"w","results":{}}', 'complete results not an array'),
  internal('/internal/complete', '{"workerId":"w","results":[{"id":1.5,"result":"' + 'a'.repeat(128) + '"}]}', 'complete id a float'),
  internal('/internal/complete', '{"workerId":"w","results":[{"id":1001,"result":"' + 'A'.repeat(128) + '"}]}', 'complete result in capitals'),
  internal('/internal/heartbeat', '{"workerId":"w","ids":["1001"],"threads":1,"busy":0}', 'heartbeat ids strings'),
  internal('/internal/heartbeat', '{"workerId":"w","ids":[],"threads":0,"busy":0}', 'heartbeat threads zero'),
  internal('/internal/heartbeat', '{"workerId":"","ids":[],"threads":1,"busy":0}', 'heartbeat workerId empty'),
  { ...internal('/internal/heartbeat', '{"workerId":', 'heartbeat JSON cut short'), code: 'invalid_json' },
  { name: 'no token', method: 'PUT', path: '/enqueue?iterations=1', type: FORM, body: 'data=x', headers: { authorization: '' }, status: 401, code: 'unauthorized' },
  { name: 'wrong token', method: 'PUT', path: '/enqueue?iterations=1', type: FORM, body: 'data=x', headers: { authorization: 'Bearer nope-nope-nope-nope' }, status: 401, code: 'unauthorized' },
  { name: 'not a bearer header', method: 'PUT', path: '/enqueue?iterations=1', type: FORM, body: 'data=x', headers: { authorization: `Basic ${CLIENT_TOKEN}` }, status: 401, code: 'unauthorized' },
  { name: 'worker token on enqueue', method: 'PUT', path: '/enqueue?iterations=1', token: 'worker', type: FORM, body: 'data=x', status: 403, code: 'forbidden' },
  { name: 'client token on lease', method: 'POST', path: '/internal/lease', type: JSONT, body: '{"workerId":"w","max":1}', status: 403, code: 'forbidden' },
  { name: 'client token on peer pull', method: 'POST', path: '/internal/pull?top=1', status: 403, code: 'forbidden' },
  { name: 'PATCH /enqueue', method: 'PATCH', path: '/enqueue?iterations=1', status: 405, code: 'method_not_allowed' },
  { name: 'GET /enqueue', method: 'GET', path: '/enqueue?iterations=1', status: 405, code: 'method_not_allowed' },
  { name: 'DELETE /pullCompleted', method: 'DELETE', path: '/pullCompleted?top=1', status: 405, code: 'method_not_allowed' },
  { name: 'PROPFIND /status', method: 'PROPFIND', path: '/status', status: 405, code: 'method_not_allowed' },
  { name: 'POST /healthz', method: 'POST', path: '/healthz', status: 405, code: 'method_not_allowed' },
  { name: 'PUT /jobs/1001', method: 'PUT', path: '/jobs/1001', status: 405, code: 'method_not_allowed' },
  { name: 'DELETE /metrics', method: 'DELETE', path: '/metrics', status: 405, code: 'method_not_allowed' },
  { name: 'GET /internal/lease', method: 'GET', path: '/internal/lease', token: 'worker', status: 405, code: 'method_not_allowed' },
  { name: 'unknown route', method: 'GET', path: '/enqueue/more', status: 404, code: 'not_found' },
  { name: 'unknown internal route', method: 'POST', path: '/internal/nope', token: 'worker', type: JSONT, body: '{}', status: 404, code: 'not_found' },
  { name: 'unknown page', method: 'GET', path: '/nothing-here', status: 404, code: 'not_found' },
  { name: 'very long URL', method: 'POST', path: `/pullCompleted?top=1&pad=${'x'.repeat(100_000)}`, status: 431, code: null },
  { name: 'very long header', method: 'POST', path: '/pullCompleted?top=1', headers: { 'x-pad': 'y'.repeat(100_000) }, status: 431, code: null },
];

describe('bad input, every endpoint', () => {
  const tmp = tempDir();
  let m: RunningManager;
  const log = memoryLogger();
  before(async () => {
    m = await startTestManager(
      tmp.dir,
      { requestTimeoutMs: 1_000, limits: { maxDataBytes: MiB, maxBodyBytes: 2 * MiB, maxBatch: 10, maxIterations: 10_000_000, maxTop: 10_000 } },
      { logger: log.logger },
    );
  });
  after(async () => {
    await m.close();
    tmp.cleanup();
  });

  test(`${cases.length} cases: documented status and error body; healthy and unchanged afterwards`, async () => {
    assert.ok(cases.length >= 60, `${cases.length} cases`);
    const before = m.ctx.store.counts();
    for (const c of cases) {
      const token = c.token === 'worker' ? WORKER_TOKEN : CLIENT_TOKEN;
      const res = await fetch(m.url + c.path, {
        method: c.method,
        headers: { ...auth(token), ...(c.type ? { 'content-type': c.type } : {}), ...c.headers },
        ...(c.body === undefined ? {} : { body: c.body }),
      });
      const text = await res.text();
      assert.equal(res.status, c.status, `${c.name}: status (${text.slice(0, 200)})`);
      if (c.code !== null) {
        const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
        assert.equal(body.error?.code, c.code, `${c.name}: code`);
        assert.ok((body.error?.message ?? '').length > 5, `${c.name}: message`);
      }
    }
    assert.deepEqual(m.ctx.store.counts(), before, 'the store is unchanged');
    assert.equal(m.ctx.metrics.totals.enqueued, 0);
    assert.equal((await fetch(`${m.url}/healthz`)).status, 200);
    for (const line of log.lines) assert.ok(!line.includes(CLIENT_TOKEN) && !line.includes(WORKER_TOKEN), `log leaks a token: ${line}`);
  });

  test('a slowloris body is cut off by the request timeout, and the server stays healthy', async () => {
    const sock = connect(m.port, '127.0.0.1');
    let received = '';
    sock.on('data', (d) => (received += d.toString()));
    const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
    sock.write(`PUT /enqueue?iterations=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CLIENT_TOKEN}\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nab`);
    // Trickle a byte now and then; the server must hang up on its own.
    const trickle = setInterval(() => sock.writable && sock.write('c'), 200);
    const bound = setTimeout(() => sock.destroy(new Error('the server never closed the slow connection')), 15_000);
    await closed;
    clearInterval(trickle);
    clearTimeout(bound);
    assert.match(received, /^HTTP\/1\.1 408/);
    assert.equal(m.ctx.store.counts().queued, 0);
    assert.equal((await fetch(`${m.url}/healthz`)).status, 200);
  });
});

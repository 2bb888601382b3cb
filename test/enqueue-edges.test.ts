/**
 * Enqueue input edges (review finding 9): text that is not valid Unicode is
 * refused on every enqueue path, a committed job's answer survives garbage
 * sent after it on the same connection, and 100 Continue waits for the token.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createApp } from '../src/runtime/manager/app.js';
import type { RunningManager } from '../src/runtime/manager/server.js';
import { auth, CLIENT_TOKEN, memoryLogger, startTestManager, tempDir } from './helpers.js';

const FORM = 'application/x-www-form-urlencoded';
const JSONT = 'application/json';

/** Writes `bytes` on a raw socket and returns everything the server sent until it closed. */
function raw(port: number, bytes: string | Buffer, opts: { endAfterWrite?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    const bound = setTimeout(() => sock.destroy(new Error(`the server did not close the connection; got so far: ${JSON.stringify(got)}`)), 10_000);
    sock.on('data', (d) => (got += d.toString('latin1')));
    sock.on('error', (err) => {
      clearTimeout(bound);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(bound);
      resolve(got);
    });
    sock.write(bytes);
    if (opts.endAfterWrite) sock.end();
  });
}

describe('enqueue input edges', () => {
  const tmp = tempDir();
  let m: RunningManager;
  let express: Server;
  let expressUrl: string;
  before(async () => {
    m = await startTestManager(tmp.dir, {}, { logger: memoryLogger().logger });
    // The Express app alone, without the server's lean path in front: it must not answer PUT /enqueue itself.
    express = createServer(createApp(m.ctx));
    await new Promise<void>((r) => express.listen(0, '127.0.0.1', r));
    expressUrl = `http://127.0.0.1:${(express.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => express.close(r));
    await m.close();
    tmp.cleanup();
  });

  const bad: [string, string, string, string][] = [
    ['JSON data with a lone high surrogate', '?iterations=1', JSONT, '{"data":"\\ud800"}'],
    ['JSON data with a lone low surrogate', '?iterations=1', JSONT, '{"data":"a\\udc00b"}'],
    ['a batch element with a lone surrogate', '?iterations=1', JSONT, '[{"data":"ok"},{"data":"\\ud83d"}]'],
    ['form data %FF', '?iterations=1', FORM, 'data=%FF'],
    ['form data with a cut UTF-8 sequence', '?iterations=1', FORM, 'data=ab%C3'],
  ];
  test('PUT /enqueue has one implementation: every spelling Express would route goes to it, the router has none', async () => {
    for (const path of ['/enqueue', '/enqueue/', '/ENQUEUE', '/Enqueue/']) {
      const res = await fetch(`${m.url}${path}?iterations=1`, { method: 'PUT', headers: { ...auth(), 'content-type': FORM }, body: 'data=one' });
      assert.equal(res.status, 200, path);
      assert.ok(Number.isSafeInteger(((await res.json()) as { id: number }).id), path);
    }
    const before = m.ctx.store.counts().queued;
    const res = await fetch(`${expressUrl}/enqueue?iterations=1`, { method: 'PUT', headers: { ...auth(), 'content-type': FORM }, body: 'data=one' });
    assert.notEqual(res.status, 200);
    assert.equal(m.ctx.store.counts().queued, before, 'the router enqueued nothing');
    // Out of the way of the tests below, which lease what they enqueue.
    m.ctx.store.lease('test-drain', 100, Infinity, 3_600_000, Date.now());
  });

  for (const path of ['/enqueue', '/ENQUEUE/'] as const) {
    test(`${path}: text that is not valid Unicode is refused with 400 invalid_utf8, nothing enqueued`, async () => {
      const base = m.url;
      const before = m.ctx.store.counts().queued;
      for (const [name, q, type, body] of bad) {
        const res = await fetch(`${base}${path}${q}`, { method: 'PUT', headers: { ...auth(), 'content-type': type }, body });
        const text = await res.text();
        assert.equal(res.status, 400, `${name}: ${text}`);
        assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'invalid_utf8', name);
      }
      assert.equal(m.ctx.store.counts().queued, before);
      // Valid escapes still work: a surrogate pair, percent-encoded UTF-8, a literal % and +.
      const ok: [string, string, string][] = [
        [JSONT, '{"data":"\\ud83d\\ude00"}', '😀'],
        [FORM, 'data=%C3%A9+x%zz%', 'é x%zz%'],
      ];
      for (const [type, body, want] of ok) {
        const res = await fetch(`${base}${path}?iterations=1`, { method: 'PUT', headers: { ...auth(), 'content-type': type }, body });
        assert.equal(res.status, 200, body);
        const { id } = (await res.json()) as { id: number };
        const job = m.ctx.store.lease('w', 1, 10, 1000, Date.now());
        assert.deepEqual(
          job.map((j) => [j.id, j.data]),
          [[id, want]],
        );
      }
    });
  }

  test('garbage after a valid enqueue on one connection: the 200 for the committed job arrives, then the 400', async () => {
    const before = m.ctx.store.counts().queued;
    const got = await raw(
      m.port,
      `PUT /enqueue?iterations=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CLIENT_TOKEN}\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello` + 'GARBAGE \x00\x01\x02 not http\r\n\r\n',
    );
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n/, got);
    const id = Number(/\{"id":(\d+)\}/.exec(got)?.[1]);
    assert.ok(id > 0, got);
    assert.equal(m.ctx.store.get(id)?.status, 'queued');
    assert.equal(m.ctx.store.counts().queued, before + 1);
    assert.match(got.slice(got.indexOf('}') + 1), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*"code":"bad_request"/);
  });

  test('garbage on a fresh connection still gets a 400', async () => {
    assert.match(await raw(m.port, 'NOT HTTP AT ALL\r\n\r\n'), /^HTTP\/1\.1 400 /);
  });

  test('Expect: 100-continue with a missing or wrong token: 401 and no 100 Continue', async () => {
    for (const authz of ['', 'Authorization: Bearer wrong-token-0123456789\r\n']) {
      const got = await raw(m.port, `PUT /enqueue?iterations=1 HTTP/1.1\r\nHost: x\r\n${authz}Content-Type: text/plain\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
      assert.doesNotMatch(got, /100 Continue/, got);
      assert.match(got, /^HTTP\/1\.1 401 Unauthorized\r\n[\s\S]*"code":"unauthorized"/, got);
    }
  });

  test('Expect: 100-continue with the client token: 100 Continue, then the job is enqueued', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const sock = connect(m.port, '127.0.0.1');
      let text = '';
      const bound = setTimeout(() => sock.destroy(new Error(`no answer; got ${JSON.stringify(text)}`)), 10_000);
      sock.on('error', reject);
      sock.on('data', (d) => {
        text += d.toString();
        // The body goes only once the server has invited it.
        if (text === 'HTTP/1.1 100 Continue\r\n\r\n') sock.write('hello');
        if (text.endsWith('}')) {
          clearTimeout(bound);
          sock.end();
          resolve(text);
        }
      });
      sock.write(`PUT /enqueue?iterations=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CLIENT_TOKEN}\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    });
    assert.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*\{"id":\d+\}$/);
  });
});

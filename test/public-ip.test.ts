import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { discoverPublicIp } from '../src/cluster/public-ip.js';
import { DynworkError } from '../src/errors.js';

/** checkip.amazonaws.com's part, played on 127.0.0.1: each path answers one way. */
describe('finding the deployer public IP for the API rule', () => {
  let server: Server;
  let base: string;
  const sockets = new Set<Socket>();
  const answers: Record<string, (res: ServerResponse) => void> = {
    '/ok': (res) => res.end('203.0.113.9\n'),
    '/down': (res) => res.writeHead(503).end('Service Unavailable'),
    '/not-an-ip': (res) => res.end('999.1.1.1\n'),
    '/hang': () => undefined,
  };

  before(async () => {
    server = createServer((req, res) => answers[req.url ?? '']?.(res));
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  test('the address the service answers with', async () => {
    assert.equal(await discoverPublicIp(`${base}/ok`), '203.0.113.9');
  });

  test('an error answer, a non-address, or no answer: one line naming what happened, and the flag that avoids asking', async () => {
    const cases: [string, RegExp][] = [
      ['/down', /^could not find your public IP address \(unexpected answer from http:\/\/127\.0\.0\.1:\d+\/down: 503 "Service Unavailable"\)$/],
      ['/not-an-ip', /^could not find your public IP address \(unexpected answer from http:\/\/127\.0\.0\.1:\d+\/not-an-ip: 200 "999\.1\.1\.1"\)$/],
      ['/hang', /^could not find your public IP address \(no answer from http:\/\/127\.0\.0\.1:\d+\/hang within 0\.3s\)$/],
    ];
    for (const [path, message] of cases) {
      await assert.rejects(discoverPublicIp(`${base}${path}`, 300), (err: unknown) => {
        assert.ok(err instanceof DynworkError, path);
        assert.match(err.message, message);
        assert.equal(err.hint, 'pass --allow-cidr A.B.C.D/32 (who may reach the API)');
        return true;
      });
    }
  });
});

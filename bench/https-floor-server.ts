/**
 * The bare HTTPS server of bench/ceilings.ts: answers every request with a
 * job id, as PUT /enqueue does, and nothing else (no routing, queue or disk).
 *
 *   node dist/bench/https-floor-server.js CERT KEY   (forked, with an IPC channel)
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';

const [certFile, keyFile] = process.argv.slice(2);
const body = JSON.stringify({ id: 1 });
const server = createServer({ cert: readFileSync(certFile!), key: readFileSync(keyFile!) }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
process.on('message', () => {
  const u = process.cpuUsage();
  process.send!({ cpuMs: (u.user + u.system) / 1000 });
});
// Gone with the bench: a lost parent ends it too.
process.on('disconnect', () => process.exit(0));

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Node's own answers to a request it could not parse (the same statuses its default handler sends). */
const STATUS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'headers_too_large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large', 'body_too_large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request_timeout'],
};

/**
 * Answers requests Node's parser rejects without losing earlier answers on
 * the same keep-alive connection. Node's default writes its 400 and destroys
 * the socket at once, even while a request before the garbage is still being
 * committed: that client then never learns its job was enqueued. Here the
 * error answer waits until every earlier response on the socket is sent.
 *
 * Returns the function to call for each request the server handles.
 */
export function answerClientErrors(server: Server, graceMs: number): (req: IncomingMessage, res: ServerResponse) => void {
  const open = new WeakMap<Socket, Set<{ req: IncomingMessage; res: ServerResponse }>>();
  const failed = new WeakSet<Socket>();

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A reset or broken connection: nobody is left to answer, and destroying it
    // at once lets handlers see the client gone (a long-poll must not lease
    // jobs to a dead worker).
    if (!err.code?.startsWith('HPE_') && err.code !== 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.destroy();
      return;
    }
    // The parser may report again as more bytes arrive; one answer is enough.
    if (failed.has(socket)) return;
    failed.add(socket);
    // Only requests read in full can still be answered; one cut off by this
    // error (a slow body timing out) never will be, so it is not waited for.
    const owed = [...(open.get(socket) ?? [])].filter((x) => x.req.complete && !x.res.writableFinished);
    const timer = setTimeout(() => socket.destroy(), graceMs);
    timer.unref();
    let left = owed.length;
    const answer = (): void => {
      clearTimeout(timer);
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      const [status, reason, code] = STATUS[err.code ?? ''] ?? [400, 'Bad Request', 'bad_request'];
      const body = JSON.stringify({ error: { code, message: `the request could not be read as HTTP/1.1 (${err.code ?? 'parse error'})` } });
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      socket.destroySoon();
    };
    // A peer that has hung up gets nothing more: destroying now lets a parked
    // long-poll see it is gone instead of handing jobs to a closed socket.
    if (socket.readableEnded || socket.destroyed) left = 0;
    socket.once('end', () => socket.destroy());
    if (left === 0) {
      answer();
      return;
    }
    for (const { res } of owed) {
      let counted = false;
      const one = (): void => {
        if (counted) return;
        counted = true;
        if (--left === 0) answer();
      };
      res.once('finish', one);
      res.once('close', one);
    }
  });

  return (req, res) => {
    const socket = req.socket;
    let set = open.get(socket);
    if (!set) open.set(socket, (set = new Set()));
    const entry = { req, res };
    set.add(entry);
    res.once('close', () => set.delete(entry));
  };
}

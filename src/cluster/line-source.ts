import { TextDecoder } from 'node:util';
import { DynworkError } from '../errors.js';

/**
 * The lines of a byte stream as strings, read as they are needed (the stream
 * is pulled only when the next line is wanted, so memory holds one line and
 * one read chunk). A line is cut at `\n`, a trailing `\r` dropped, and a last
 * line without `\n` kept; an empty last line is not a line.
 *
 * A line longer than `maxLineBytes` is an error as soon as it gets that long,
 * so an endless line (`/dev/zero`) fails fast without being buffered. Bytes
 * that are not UTF-8 are an error too: decoding them would replace them with
 * U+FFFD and the job would hash something other than the file's contents.
 */
export async function* readLines(stream: AsyncIterable<Buffer | string>, maxLineBytes: number, name: string): AsyncGenerator<string> {
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let pieces: Buffer[] = [];
  let size = 0;
  let line = 1;
  const tooLong = (): DynworkError =>
    new DynworkError('usage', `line ${line} of ${name} is longer than ${maxLineBytes} bytes, the most one job's data may hold; nothing was enqueued`, {
      hint: 'each line is one job: split that data, or check this is the file you meant',
    });
  const finish = (): string => {
    let bytes = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    pieces = [];
    size = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, -1);
    if (bytes.length > maxLineBytes) throw tooLong();
    try {
      return utf8.decode(bytes);
    } catch {
      throw new DynworkError('usage', `line ${line} of ${name} is not valid UTF-8 text; nothing was enqueued`, { hint: 'convert the file to UTF-8 (e.g. iconv -t UTF-8)' });
    }
  };

  let chunks: AsyncIterator<Buffer | string>;
  try {
    chunks = stream[Symbol.asyncIterator]();
  } catch (err) {
    throw cannotRead(name, err);
  }
  try {
    for (;;) {
      let next: IteratorResult<Buffer | string>;
      try {
        next = await chunks.next();
      } catch (err) {
        throw cannotRead(name, err);
      }
      if (next.done) break;
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        const end = nl === -1 ? chunk.length : nl;
        size += end - start;
        // One byte of slack for a `\r` before the `\n`.
        if (size > maxLineBytes + 1) throw tooLong();
        if (end > start) pieces.push(chunk.subarray(start, end));
        if (nl === -1) break;
        yield finish();
        line++;
        start = nl + 1;
      }
    }
    if (size > 0) yield finish();
  } finally {
    // Stops the read (and closes the file) when the caller gives up early.
    await chunks.return?.();
  }
}

function cannotRead(name: string, err: unknown): DynworkError {
  return new DynworkError('usage', `cannot read ${name}: ${(err as Error).message}`, { cause: err });
}

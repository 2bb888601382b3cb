import { TextDecoder } from 'node:util';
import { checkData, checkIterationsValue } from '../../job/validate.js';
import type { NewJob } from '../../protocol/index.js';
import type { Limits } from '../../settings/limits.js';
import { HttpError } from './http-error.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ACCEPTED = 'use application/x-www-form-urlencoded (data=…), application/json or text/plain';

export interface ParsedEnqueue {
  jobs: NewJob[];
  batch: boolean;
}

/**
 * Turns an /enqueue body into jobs, all checked before anything is written:
 * a form `data=…` (what `curl -d` sends), JSON `{"data": …}`, a JSON array
 * batch `[{data, iterations?}, …]`, or a raw text/plain body.
 * `iterations` is the query's value; batch elements may override it.
 */
export function parseEnqueueBody(contentType: string | undefined, body: Buffer | undefined, iterations: number | undefined, limits: Limits): ParsedEnqueue {
  const { type, charset } = splitContentType(contentType);
  if (!type) throw new HttpError(415, 'unsupported_media_type', `missing Content-Type: ${ACCEPTED}`);
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new HttpError(415, 'unsupported_charset', `charset ${charset} is not supported: send UTF-8`);
  }
  const text = decode(body ?? Buffer.alloc(0));
  const needIterations = (): number => {
    if (iterations === undefined) {
      throw new HttpError(400, 'missing_iterations', 'iterations is required: an integer from 1 to ' + limits.maxIterations);
    }
    return iterations;
  };

  switch (type) {
    case 'application/x-www-form-urlencoded': {
      const values = formValues(text, 'data');
      if (values.length > 1) throw new HttpError(400, 'invalid_data', 'data was given more than once');
      return { jobs: [{ data: checkData(values[0], limits), iterations: needIterations() }], batch: false };
    }
    case 'text/plain':
      return { jobs: [{ data: checkData(text, limits), iterations: needIterations() }], batch: false };
    case 'application/json': {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new HttpError(400, 'invalid_json', `body is not valid JSON: ${(err as Error).message}`);
      }
      if (Array.isArray(json)) return { jobs: parseBatch(json, iterations, limits), batch: true };
      if (json === null || typeof json !== 'object') {
        throw new HttpError(400, 'invalid_json', 'JSON body must be an object {"data": …} or an array of them');
      }
      const obj = json as Record<string, unknown>;
      const iters = obj.iterations === undefined ? needIterations() : checkIterationsValue(obj.iterations, limits.maxIterations, '');
      return { jobs: [{ data: checkData(obj.data, limits), iterations: iters }], batch: false };
    }
    default:
      throw new HttpError(415, 'unsupported_media_type', `Content-Type ${type} is not supported: ${ACCEPTED}`);
  }
}

function parseBatch(items: unknown[], iterations: number | undefined, limits: Limits): NewJob[] {
  if (items.length === 0) throw new HttpError(400, 'empty_batch', 'batch is empty: send at least one job');
  if (items.length > limits.maxBatch) {
    throw new HttpError(413, 'batch_too_large', `batch has ${items.length} jobs; at most ${limits.maxBatch} per request`);
  }
  return items.map((item, i) => {
    const where = `job ${i}: `;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new HttpError(400, 'invalid_job', `${where}must be an object {"data": …, "iterations": …}`);
    }
    const obj = item as Record<string, unknown>;
    let iters: number;
    if (obj.iterations !== undefined) iters = checkIterationsValue(obj.iterations, limits.maxIterations, where);
    else if (iterations !== undefined) iters = iterations;
    else throw new HttpError(400, 'missing_iterations', `${where}iterations is required (in the job or the query)`);
    return { data: checkData(obj.data, limits, where), iterations: iters };
  });
}

/**
 * Every value of `name` in a form body, percent-decoded as UTF-8 that must be
 * valid: URLSearchParams would turn `%FF` into U+FFFD and we would hash that.
 * Otherwise as URLSearchParams: `+` is a space, a bad `%` escape stays literal.
 */
function formValues(text: string, name: string): string[] {
  const values: string[] = [];
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = percentDecode(eq === -1 ? pair : pair.slice(0, eq)).toString('utf8');
    if (key !== name) continue;
    const value = eq === -1 ? '' : pair.slice(eq + 1);
    try {
      values.push(utf8.decode(percentDecode(value)));
    } catch {
      throw new HttpError(400, 'invalid_utf8', `form field ${name} is not valid UTF-8 once percent-decoded`);
    }
  }
  return values;
}

/** The bytes of a form-urlencoded token (WHATWG rules: `+` is a space, a `%` not followed by two hex digits is literal). */
function percentDecode(s: string): Buffer {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0x2b) out[n++] = 0x20;
    else if (b === 0x25 && i + 2 < src.length && isHex(src[i + 1]!) && isHex(src[i + 2]!)) {
      out[n++] = parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16);
      i += 2;
    } else out[n++] = b;
  }
  return out.subarray(0, n);
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function decode(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new HttpError(400, 'invalid_utf8', 'body is not valid UTF-8');
  }
}

function splitContentType(header: string | undefined): { type: string; charset: string | undefined } {
  if (!header) return { type: '', charset: undefined };
  const [type = '', ...params] = header.split(';');
  let charset: string | undefined;
  for (const p of params) {
    const [k, v] = p.split('=');
    if (k?.trim().toLowerCase() === 'charset') charset = v?.trim().replace(/^"|"$/g, '').toLowerCase();
  }
  return { type: type.trim().toLowerCase(), charset };
}

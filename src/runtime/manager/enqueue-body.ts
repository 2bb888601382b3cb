import { TextDecoder } from 'node:util';
import { checkData, checkIterationsValue } from '../../job/validate.js';
import type { NewJob } from '../protocol.js';
import type { Limits } from '../config.js';
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
export function parseEnqueueBody(
  contentType: string | undefined,
  body: Buffer | undefined,
  iterations: number | undefined,
  limits: Limits,
): ParsedEnqueue {
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
      const form = new URLSearchParams(text);
      const values = form.getAll('data');
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

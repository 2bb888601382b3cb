import type { Limits } from '../settings/limits.js';
import { JobInputError } from './input-error.js';

export type { NewJob } from '../protocol/index.js';

const DIGITS = /^[0-9]{1,16}$/;
/** In a `u` regex a surrogate pair is one code point, so only unpaired halves match. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * A query parameter that must be a plain decimal integer in [1, max]: no sign,
 * fraction, exponent, hex or repeats (`?top=1&top=2` is refused, not guessed).
 */
export function parseCountParam(name: string, raw: unknown, max: number): number {
  const what = `${name} must be an integer from 1 to ${max}`;
  if (raw === undefined) throw new JobInputError(400, `missing_${name}`, `${name} is required: ${what}`);
  if (Array.isArray(raw)) throw new JobInputError(400, `invalid_${name}`, `${name} was given more than once; ${what}`);
  if (typeof raw !== 'string' || !DIGITS.test(raw)) throw new JobInputError(400, `invalid_${name}`, `${what}, got ${quote(raw)}`);
  const n = Number(raw);
  if (n < 1 || n > max) throw new JobInputError(400, `invalid_${name}`, `${what}, got ${raw}`);
  return n;
}

/** A query flag: `1`/`true` or `0`/`false`; absent is false. */
export function parseFlagParam(name: string, raw: unknown): boolean {
  if (raw === undefined || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new JobInputError(400, `invalid_${name}`, `${name} must be 1 or 0 (true or false), got ${JSON.stringify(raw).slice(0, 60)}`);
}

/** A JSON value for iterations (batch bodies): an integer number in [1, max]. */
export function checkIterationsValue(raw: unknown, max: number, where: string): number {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > max) {
    throw new JobInputError(400, 'invalid_iterations', `${where}iterations must be an integer from 1 to ${max}, got ${quote(raw)}`);
  }
  return raw;
}

export function checkData(raw: unknown, limits: Limits, where = ''): string {
  if (raw === undefined || raw === null) throw new JobInputError(400, 'missing_data', `${where}data is required`);
  if (typeof raw !== 'string') throw new JobInputError(400, 'invalid_data', `${where}data must be a string`);
  // A JSON "\ud800" escape decodes to a lone surrogate, which UTF-8 cannot
  // hold: hashing it would silently hash U+FFFD instead of what was sent.
  if (LONE_SURROGATE.test(raw)) throw new JobInputError(400, 'invalid_utf8', `${where}data holds a lone UTF-16 surrogate, which is not valid Unicode text`);
  // Counting UTF-16 units first avoids encoding every small string to count its bytes.
  if (raw.length * 3 > limits.maxDataBytes && Buffer.byteLength(raw, 'utf8') > limits.maxDataBytes) {
    throw new JobInputError(413, 'data_too_large', `${where}data is over ${limits.maxDataBytes} bytes`);
  }
  return raw;
}

function quote(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v) ?? typeof v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

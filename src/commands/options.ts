import { DynworkError } from '../errors.js';

/** Parses a whole-number option, with a one-line error naming it. */
export function intOption(name: string, min: number, max: number) {
  return (raw: string): number => {
    if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new DynworkError('usage', `${name} must be an integer from ${min} to ${max}, got "${raw}"`, { hint: `see dynwork --help` });
    }
    return Number(raw);
  };
}

/**
 * Parses a seconds option: up to three decimals (the runtime counts whole
 * milliseconds), from 0.001 to `max`, so a value accepted here is one the
 * cluster can run with.
 */
export function secondsOption(name: string, max = 86_400) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^[0-9]{1,9}(\.[0-9]{1,3})?$/.test(raw) || n < 0.001 || n > max) {
      throw new DynworkError('usage', `${name} must be a number of seconds from 0.001 to ${max} (at most 3 decimals), got "${raw}"`, { hint: 'see dynwork --help' });
    }
    return n;
  };
}

/** A job id as enqueue printed it. */
export function jobIdArg(raw: string): number {
  if (!/^[0-9]{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw)) || Number(raw) < 1) {
    throw new DynworkError('usage', `not a job id: "${raw}" (job ids are positive integers, as enqueue printed them)`, { hint: 'dynwork jobs --state queued lists some' });
  }
  return Number(raw);
}

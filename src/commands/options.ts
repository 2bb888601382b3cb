import { DynworkError } from '../errors.js';
import { inIntRange, inSecondsRange, intRangeMessage, secondsRangeMessage, type Range } from '../settings/bounds.js';

/** Parses a whole-number option, with a one-line error naming it. */
export function intOption(name: string, range: Range) {
  return (raw: string): number => {
    if (!/^[0-9]+$/.test(raw) || !inIntRange(Number(raw), range)) {
      throw new DynworkError('usage', `${intRangeMessage(name, range)}, got "${raw}"`, { hint: `see dynwork --help` });
    }
    return Number(raw);
  };
}

/**
 * Parses a seconds option: up to three decimals (the runtime counts whole
 * milliseconds), within `range`, so a value accepted here is one the
 * cluster can run with.
 */
export function secondsOption(name: string, range: Range) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^[0-9]{1,9}(\.[0-9]{1,3})?$/.test(raw) || !inSecondsRange(n, range)) {
      throw new DynworkError('usage', `${secondsRangeMessage(name, range)}, got "${raw}"`, { hint: 'see dynwork --help' });
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

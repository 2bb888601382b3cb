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

/** Parses a seconds option (fractions allowed). */
export function secondsOption(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(raw) || !(n > 0)) {
      throw new DynworkError('usage', `${name} must be a positive number of seconds, got "${raw}"`, { hint: 'see dynwork --help' });
    }
    return n;
  };
}

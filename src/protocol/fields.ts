import { z } from 'zod';

/*
 * Building blocks of the wire schemas. Their messages all start with "must",
 * so a field's path in front reads as a sentence the caller can act on:
 * "max must be an integer from 1 to 10000".
 */

export function int(min: number, max: number): z.ZodInt {
  const msg = `must be an integer from ${min} to ${max}`;
  return z.int({ error: msg }).min(min, msg).max(max, msg);
}

/** A job id, a count…: any safe integer (z.int refuses the unsafe ones). */
export const safeInt = z.int({ error: 'must be an integer' });

export const nonNegative = z.number({ error: 'must be a non-negative number' }).nonnegative('must be a non-negative number');

export const positive = z.number({ error: 'must be a positive number' }).positive('must be a positive number');

export function text(max = 200): z.ZodString {
  const msg = `must be a non-empty string of at most ${max} characters`;
  return z.string({ error: msg }).min(1, msg).max(max, msg);
}

export function list<T extends z.ZodType>(item: T, max: number, what: string): z.ZodArray<T> {
  const msg = `must be an array of at most ${max} ${what}`;
  return z.array(item, { error: msg }).max(max, msg);
}

/** A JSON object body; the message names the body when it is not one. */
export function body<S extends z.ZodRawShape>(shape: S): z.ZodObject<S> {
  return z.object(shape, { error: 'must be a JSON object' });
}

/** The first thing wrong, named by its path: `results[2].result must be 128 lowercase hex characters`. */
export function describeIssue(error: z.ZodError, whole = 'body'): string {
  const issue = error.issues[0];
  if (!issue) return `${whole} is not valid`;
  let where = '';
  for (const key of issue.path) where += typeof key === 'number' ? `[${key}]` : where ? `.${String(key)}` : String(key);
  where ||= whole;
  return issue.message.startsWith('must ') ? `${where} ${issue.message}` : `${where}: ${issue.message}`;
}

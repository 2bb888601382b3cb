import type { z } from 'zod';
import { DynworkError } from '../errors.js';

/** Every problem in one message, one per line, each naming its field. */
export function formatIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

export function parseConfig<T extends z.ZodType>(schema: T, value: unknown, source: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new DynworkError('config_invalid', `invalid config ${source}: ${formatIssues(r.error)}`, {
      hint: 'fix the listed fields and start again',
    });
  }
  Object.freeze(r.data);
  return r.data;
}

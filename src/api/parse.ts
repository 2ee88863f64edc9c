/** Request parsing with zod: a failure becomes 400 `validation_failed` naming the field. */
import type { z, ZodType } from 'zod';
import { validationError } from './errors';

export function parse<S extends ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(where, result.error);
  return result.data;
}

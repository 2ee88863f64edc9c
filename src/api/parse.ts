/** Request parsing with zod: a failure becomes 400 `validation_failed` naming the field. */
import type { z, ZodType } from 'zod';
import { HttpError, validationError } from './errors';

export function parse<S extends ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params' | 'header'): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(where, result.error);
  return result.data;
}

/**
 * The request's `Idempotency-Key` header, validated.
 * @throws 400 validation_failed with field `header.idempotency-key`.
 */
export function idempotencyKeyOf(req: { get(name: string): string | undefined }, schema: ZodType<string | undefined>): string | undefined {
  const result = schema.safeParse(req.get('idempotency-key'));
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new HttpError(400, 'validation_failed', `header.idempotency-key: ${issue.message}`, 'header.idempotency-key');
  }
  return result.data;
}

/**
 * `Idempotency-Key` for create requests (docs/PRODUCT.md#idempotent-creates): a repeated or
 * concurrent duplicate request returns the first one's resource and creates nothing; the same key
 * with a different body is refused.
 *
 * The key is claimed inside the creating transaction with INSERT ... ON CONFLICT DO NOTHING: a
 * concurrent duplicate blocks on the primary key until the first transaction ends, then sees its row
 * (committed) or takes the key (rolled back).
 */
import { createHash } from 'node:crypto';
import type { Prisma } from '../generated/prisma/client';

export type IdempotencyClaim = { kind: 'new' } | { kind: 'replay'; taskId: string | null; sessionId: string | null } | { kind: 'mismatch' };

/** SHA-256 (hex) of `body` as canonical JSON (object keys sorted), so key order does not matter. */
export function requestHash(body: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(body)))
    .digest('hex');
}

/** Claims `key` within `scope` for a request with `hash`, in the caller's transaction. */
export async function claimIdempotencyKey(tx: Prisma.TransactionClient, input: { scope: string; key: string; hash: string }): Promise<IdempotencyClaim> {
  const inserted = await tx.$executeRaw`
    INSERT INTO idempotency_keys (scope, key, request_hash) VALUES (${input.scope}, ${input.key}, ${input.hash})
    ON CONFLICT DO NOTHING`;
  if (inserted === 1) return { kind: 'new' };
  const existing = await tx.idempotencyKey.findUniqueOrThrow({ where: { scope_key: { scope: input.scope, key: input.key } } });
  if (existing.requestHash !== input.hash) return { kind: 'mismatch' };
  return { kind: 'replay', taskId: existing.taskId, sessionId: existing.sessionId };
}

/** Records what the request that claimed `key` created. */
export async function bindIdempotencyKey(tx: Prisma.TransactionClient, input: { scope: string; key: string; taskId?: string; sessionId?: string }): Promise<void> {
  await tx.idempotencyKey.update({ where: { scope_key: { scope: input.scope, key: input.key } }, data: { taskId: input.taskId, sessionId: input.sessionId } });
}

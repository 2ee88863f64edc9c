/**
 * The one idempotent creation of the service, used by every create that takes an `Idempotency-Key`
 * (a task, a tab): a repeated or concurrent duplicate request returns the first one's resource and
 * creates nothing; the same key with a different request is refused. The key is claimed in the
 * creating transaction (../db/idempotency.ts), so a concurrent duplicate waits for the first request's
 * transaction and then replays what it committed, or takes the key if it rolled back.
 */
import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { bindIdempotencyKey, claimIdempotencyKey, requestHash } from '../db/idempotency';
import { DomainError } from './errors';

/** What the first request with the key created (the ids it was bound to). */
export interface FirstRequest {
  taskId: string | null;
  sessionId: string | null;
}

export interface IdempotentCreation<Created, Replayed> {
  /** Where `key` is unique, e.g. `tasks:<workspaceId>` or `sessions:<taskId>`. */
  scope: string;
  /** The request's key; undefined: no key, `create` just runs in a transaction. */
  key: string | undefined;
  /** The request as parsed; its hash (key order does not matter) tells a repeat from another request. */
  request: unknown;
  /** Creates the resource in `tx`. */
  create(tx: Prisma.TransactionClient): Promise<Created>;
  /** The ids of what `create` made, recorded with the key. */
  bindTo(created: Created): { taskId?: string; sessionId?: string };
  /** Reads, in `tx`, what the first request with the key created. */
  replay(tx: Prisma.TransactionClient, first: FirstRequest): Promise<Replayed>;
}

/** `replayed: false` with what this call created, or `replayed: true` with the first request's resource. */
export type IdempotentOutcome<Created, Replayed> = { replayed: false; value: Created } | { replayed: true; value: Replayed };

/**
 * Claim -> mismatch -> replay or create, all in one transaction.
 * @throws DomainError mismatch `idempotency_key_reused` (field `idempotencyKey`) when the key was used
 *   with another request; nothing is written then. Whatever `create` or `replay` throws (the
 *   transaction is rolled back and the key released).
 */
export async function createIdempotently<Created, Replayed>(prisma: PrismaClient, spec: IdempotentCreation<Created, Replayed>): Promise<IdempotentOutcome<Created, Replayed>> {
  const { scope, key } = spec;
  return prisma.$transaction(async (tx): Promise<IdempotentOutcome<Created, Replayed>> => {
    if (key) {
      const claim = await claimIdempotencyKey(tx, { scope, key, hash: requestHash(spec.request) });
      if (claim.kind === 'mismatch') {
        throw new DomainError('mismatch', 'idempotency_key_reused', 'this Idempotency-Key was used with a different request body', { field: 'idempotencyKey' });
      }
      if (claim.kind === 'replay') return { replayed: true, value: await spec.replay(tx, { taskId: claim.taskId, sessionId: claim.sessionId }) };
    }
    const created = await spec.create(tx);
    if (key) await bindIdempotencyKey(tx, { scope, key, ...spec.bindTo(created) });
    return { replayed: false, value: created };
  });
}

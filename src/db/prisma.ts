/**
 * Prisma 7 client on the `pg` driver adapter (no native query engine is needed).
 */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client';

export type { PrismaClient };
export type { Prisma } from '../generated/prisma/client';

/**
 * Limits of the connection pool, so that an unreachable or silent database fails a call within
 * seconds (then classified by ./unavailable.ts) instead of hanging it: opening a connection may take
 * 5 s, and TCP keep-alive notices a peer that vanished.
 */
const POOL_OPTIONS = { connectionTimeoutMillis: 5_000, keepAlive: true } as const;

/**
 * An interactive transaction may wait this long for a pooled connection (ms; Prisma's default is 2 s).
 * A burst of creates that open a tab (each an interactive transaction) on a busy machine waited longer
 * than 2 s for one of the pool's 10 connections and was answered 503 (P2028, measured with 20
 * concurrent creates by scripts/reliability/stack-restart.ts); a database that is down still fails
 * within the 5 s connection timeout.
 */
const TRANSACTION_OPTIONS = { maxWait: 10_000 } as const;

/**
 * Creates a Prisma client for `databaseUrl`. The caller owns it and must `$disconnect()` it (which
 * also ends its pool).
 *
 * A terminated connection (57P01 from `pg_terminate_backend`, a failover, a restart, an idle-session
 * timeout, a pooler) is an outage, never a crash: every connection of the pool gets an `error`
 * listener the moment it connects, for its whole life. Without it, a connection that the server ends
 * while the pool hands it to a transaction (pg-pool has taken its idle listener off, the adapter has
 * not put its own on yet) emits `error` with no listener, which ends the process. The query that was
 * using the connection still fails, and ./unavailable.ts classifies that failure.
 * @param onConnectionError told of each such error (for a log line); default: ignored.
 */
export function createPrismaClient(databaseUrl: string, onConnectionError: (err: Error) => void = () => undefined): PrismaClient {
  const pool = new pg.Pool({ connectionString: databaseUrl, ...POOL_OPTIONS });
  pool.on('connect', (client) => client.on('error', onConnectionError));
  pool.on('error', onConnectionError); // an idle connection's error (the pool has already dropped it)
  return new PrismaClient({
    adapter: new PrismaPg(pool, { disposeExternalPool: true, onPoolError: onConnectionError, onConnectionError }),
    transactionOptions: TRANSACTION_OPTIONS,
  });
}

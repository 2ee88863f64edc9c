/**
 * Prisma 7 client on the `pg` driver adapter (no native query engine is needed).
 */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

export type { PrismaClient };
export type { Prisma } from '../generated/prisma/client';

/**
 * Limits of the connection pool, so that an unreachable or silent database fails a call within
 * seconds (then classified by ./unavailable.ts) instead of hanging it: opening a connection may take
 * 5 s, and TCP keep-alive notices a peer that vanished.
 */
const POOL_OPTIONS = { connectionTimeoutMillis: 5_000, keepAlive: true } as const;

/** Creates a Prisma client for `databaseUrl`. The caller owns it and must `$disconnect()` it. */
export function createPrismaClient(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl, ...POOL_OPTIONS }) });
}

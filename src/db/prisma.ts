/**
 * Prisma 7 client on the `pg` driver adapter (no native query engine is needed).
 */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

export type { PrismaClient };
export type { Prisma } from '../generated/prisma/client';

/** Creates a Prisma client for `databaseUrl`. The caller owns it and must `$disconnect()` it. */
export function createPrismaClient(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}

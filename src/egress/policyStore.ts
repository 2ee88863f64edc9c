/**
 * A workspace's egress policy at rest (table `workspace_egress_policies`, one row per workspace that
 * has set one). A workspace without a row has the service's default policy (EGRESS_DEFAULT_MODE and
 * EGRESS_DEFAULT_HOSTS), which the caller passes in: nothing here reads the configuration.
 */
import type { EgressPolicy, EgressPolicyRecord } from '../domain/workspaceSettings';
import type { PrismaClient } from '../generated/prisma/client';

/** The part of the Prisma client (or of a transaction) the store uses. */
export type EgressPolicyDb = Pick<PrismaClient, 'workspaceEgressPolicy'>;

/**
 * The workspace's policy: its own (`isDefault: false`), or `defaults` (`isDefault: true`) when it has
 * set none. The hosts are a copy: changing them changes neither the row nor `defaults`.
 * @throws Prisma errors (e.g. the database is unavailable).
 */
export async function getEgressPolicy(prisma: EgressPolicyDb, workspaceId: string, defaults: EgressPolicy): Promise<EgressPolicyRecord> {
  const row = await prisma.workspaceEgressPolicy.findUnique({ where: { workspaceId }, select: { mode: true, hosts: true } });
  return row ? { mode: row.mode, hosts: [...row.hosts], isDefault: false } : { mode: defaults.mode, hosts: [...defaults.hosts], isDefault: true };
}

/**
 * Sets the workspace's policy, replacing any earlier one. `policy.hosts` is stored as given: the
 * caller has checked each with validHostPattern (src/domain/hostPattern.ts) and lower-cased and de-duplicated
 * the list.
 * @returns the stored policy (`isDefault: false`).
 * @throws Prisma errors.
 */
export async function putEgressPolicy(prisma: EgressPolicyDb, workspaceId: string, policy: EgressPolicy): Promise<EgressPolicyRecord> {
  const row = await prisma.workspaceEgressPolicy.upsert({
    where: { workspaceId },
    create: { workspaceId, mode: policy.mode, hosts: policy.hosts },
    update: { mode: policy.mode, hosts: policy.hosts },
    select: { mode: true, hosts: true },
  });
  return { mode: row.mode, hosts: row.hosts, isDefault: false };
}

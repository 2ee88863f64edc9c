/**
 * A workspace's egress policy (docs/SECURITY.md#egress): read it (its own, or the service's default),
 * replace it. The egress proxy applies it to every request of the workspace's sandboxes.
 */
import type { EgressPolicy, EgressPolicyRecord } from '../domain/workspaceSettings';
import { getEgressPolicy, putEgressPolicy } from '../egress/policyStore';
import type { ServiceDeps } from './deps';

/** What the egress policy use cases need. */
export interface EgressPolicyDeps extends Pick<ServiceDeps, 'prisma'> {
  /** The policy of a workspace that has set none (EGRESS_DEFAULT_MODE, EGRESS_DEFAULT_HOSTS). */
  egressDefaults: EgressPolicy;
}

/** The workspace's policy, or the default with `isDefault: true`. @throws database errors. */
export function readEgressPolicy(deps: EgressPolicyDeps, workspaceId: string): Promise<EgressPolicyRecord> {
  return getEgressPolicy(deps.prisma, workspaceId, deps.egressDefaults);
}

/**
 * Replaces the workspace's policy. `policy.hosts` must be valid patterns (src/domain/hostPattern.ts
 * validHostPattern; the request schema checks them); they are stored lower case, each once, in the
 * order given.
 * @returns the stored policy (`isDefault: false`).
 * @throws database errors.
 */
export function replaceEgressPolicy(deps: Pick<ServiceDeps, 'prisma'>, workspaceId: string, policy: EgressPolicy): Promise<EgressPolicyRecord> {
  const hosts = [...new Set(policy.hosts.map((h) => h.toLowerCase()))];
  return putEgressPolicy(deps.prisma, workspaceId, { mode: policy.mode, hosts });
}

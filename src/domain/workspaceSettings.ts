/**
 * A workspace's settings as the API shows them (docs/SECURITY.md#egress): which model provider keys
 * it has (never the keys), and its egress policy: what its sandboxes may reach through the host's
 * egress proxy besides their model API. Pure data: no I/O.
 */
import type { EgressMode as StoredEgressMode } from '../generated/prisma/enums';
import type { ModelProvider } from './agents';

/** Whether a workspace has a key for a model provider, as the API shows it (`GET /v1/workspaces/{id}/credentials`). */
export interface CredentialRecord {
  provider: ModelProvider;
  configured: boolean;
  /** When the key was last set (ISO-8601); null when none is. */
  updatedAt: string | null;
}

/** The API's record of a credential status (src/credentials/store.ts CredentialStatus): the time as ISO-8601, nothing else. */
export function toCredentialRecord(status: { provider: ModelProvider; configured: boolean; updatedAt: Date | null }): CredentialRecord {
  return { provider: status.provider, configured: status.configured, updatedAt: status.updatedAt?.toISOString() ?? null };
}

/**
 * - `deny`: nothing but the model API;
 * - `allowlist`: the model API and the hosts the policy lists (exact names, or `*.suffix` for any
 *   subdomain of suffix: src/domain/hostPattern.ts);
 * - `allow`: any host.
 */
export const EGRESS_MODES = ['deny', 'allowlist', 'allow'] as const;
export type EgressMode = (typeof EGRESS_MODES)[number];

/** A policy: its mode and, for `allowlist`, its host patterns (lower case; kept but unused in the other modes). */
export interface EgressPolicy {
  mode: EgressMode;
  hosts: string[];
}

/** A workspace's policy as the API shows it: `isDefault` when the workspace has set none (EGRESS_DEFAULT_MODE / EGRESS_DEFAULT_HOSTS). */
export interface EgressPolicyRecord extends EgressPolicy {
  isDefault: boolean;
}

/** Most host patterns one policy may list. */
export const MAX_EGRESS_HOSTS = 100;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** `true`; does not compile when {@link EGRESS_MODES} and the Prisma enum `EgressMode` drift apart. */
export const EGRESS_MODES_MATCH_SCHEMA: Same<EgressMode, StoredEgressMode> = true;

/**
 * Warm sandbox pools as the API shows them (docs/ARCHITECTURE.md#warm-sandbox-pools): per workspace,
 * repository and provider, how many ready sandboxes to keep and for how long an unclaimed one is kept.
 */

/** Most members one pool may keep. */
export const MAX_POOL_SIZE = 20;
/** Bounds of a pool's idle timeout, in seconds. */
export const MIN_POOL_IDLE_TIMEOUT_SECONDS = 10;
export const MAX_POOL_IDLE_TIMEOUT_SECONDS = 7 * 24 * 3600;
/** Idle timeout of a pool that sets none: 30 minutes, in seconds. */
export const DEFAULT_POOL_IDLE_TIMEOUT_SECONDS = 1800;

/** One pool with its members counted now. */
export interface SandboxPoolRecord {
  id: string;
  workspaceId: string;
  repository: string;
  provider: string;
  /** The agent whose session each member has open before a task claims it. */
  agent: string;
  /** Ready members it keeps; 0 = off. */
  size: number;
  /** An unclaimed member older than this (since it became ready) is replaced, in seconds. */
  idleTimeoutSeconds: number;
  /** Members claimable now. */
  ready: number;
  /** Members being made (cloning, starting sandbox-agent). */
  warming: number;
  /** Why the newest member failed to warm, one sentence; null when the last one warmed. */
  lastError: string | null;
  updatedAt: string;
}

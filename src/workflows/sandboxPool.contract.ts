/**
 * Contract of the `sandboxPool` workflow (docs/ARCHITECTURE.md#warm-sandbox-pools): one run per warm
 * sandbox pool, on the shared task queue, that keeps the pool at its size and replaces members idle
 * past the pool's timeout. A claim (src/pools/claim.ts) or a change of the pool's settings wakes it with
 * {@link refillSandboxPoolSignal} (signal-with-start, so a pool whose run ended gets a new one); it also
 * wakes on its own when the next member is due to expire. A pool of size 0 with no member left ends
 * its run.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

export const SANDBOX_POOL_WORKFLOW_TYPE = 'sandboxPool';

/** Workflow id of a pool's run (`sandbox-pool-<poolId>`). */
export function sandboxPoolWorkflowId(poolId: string): string {
  return `sandbox-pool-${poolId}`;
}

export interface SandboxPoolInput {
  poolId: string;
}

/** A member and the task queue of the sandbox host it lives on. */
export interface PoolMemberLocation {
  memberId: string;
  taskQueue: string;
}

/** What one look at the pool found (planSandboxPool). */
export interface SandboxPoolPlan {
  /** The pool is gone, or has size 0 and no member left: the run ends. */
  retired: boolean;
  /** Members marked `expiring` (idle too long, beyond the size, or the pool is off): to destroy. */
  expiring: PoolMemberLocation[];
  /** Members left `warming` by a run or worker that stopped mid-way: to warm again. */
  unfinished: PoolMemberLocation[];
  /** New members to place and warm. */
  shortfall: number;
  /** When to look again without a signal (the next member's expiry, at most a minute), ms. */
  nextCheckMs: number;
}

/** What warming one member ended with. */
export interface WarmOutcome {
  ready: boolean;
  /** Why it is not ready (it was destroyed): one sentence. */
  error?: string;
}

/** The activities of a pool run: planning and placement on the shared queue, the rest on the member's host. */
export interface SandboxPoolActivities {
  /** Marks due members `expiring` and says what to do (see {@link SandboxPoolPlan}). */
  planSandboxPool(input: SandboxPoolInput): Promise<SandboxPoolPlan>;
  /** A new `warming` member on the host placement picks (src/hosts/placement.ts), or null when no live host has room. */
  placeWarmSandbox(input: SandboxPoolInput): Promise<PoolMemberLocation | null>;
  /**
   * On the member's host: clones the repository, starts sandbox-agent (confined like any sandbox,
   * with the workspace's egress) and opens the agent session for the pool's agent, then marks it `ready`. A member that failed for good, or was
   * marked `expiring` meanwhile, is destroyed and its row removed.
   */
  warmSandbox(input: { memberId: string }): Promise<WarmOutcome>;
  /** On the member's host: destroys an `expiring` member (processes, network, files) and removes its row. */
  destroyWarmSandbox(input: { memberId: string }): Promise<void>;
}

/** Signal: look at the pool now (a member was claimed, or its settings changed). */
export const refillSandboxPoolSignal = defineSignal('refillSandboxPool');

export interface SandboxPoolState {
  poolId: string;
  /** What the run is doing now. */
  phase: 'planning' | 'expiring' | 'warming' | 'waiting';
  /** Members being warmed by this round. */
  warming: number;
  /** Rounds since this run (or its continue-as-new predecessor) started. */
  rounds: number;
  /** The newest warm failure this run saw, one sentence. */
  lastError: string | null;
}

/** Query: the run's live state, from workflow memory. */
export const sandboxPoolStateQuery = defineQuery<SandboxPoolState>('sandboxPoolState');

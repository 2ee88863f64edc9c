/**
 * `sandboxPool`: keeps one warm sandbox pool at its size (contract and rules: ./sandboxPool.contract.ts,
 * docs/ARCHITECTURE.md#warm-sandbox-pools). Each round:
 *   plan (mark due members expiring) -> destroy the expiring ones on their hosts -> place and warm the
 *   missing ones on theirs -> wait for a claim, a settings change or the next expiry.
 * Planning and placement are local activities; warming and destroying run on the member's sandbox
 * host's task queue. Workflow code only: no I/O.
 */
import { condition, continueAsNew, proxyActivities, proxyLocalActivities, setHandler, sleep, type ActivityOptions } from '@temporalio/workflow';
import { POOL_ACTIVITY_OPTIONS, POOL_FAILURE_BACKOFF_MS, POOL_ROUNDS_PER_RUN } from './policies';
import {
  refillSandboxPoolSignal,
  sandboxPoolStateQuery,
  type PoolMemberLocation,
  type SandboxPoolActivities,
  type SandboxPoolInput,
  type SandboxPoolState,
} from './sandboxPool.contract';

/** The pool's local activities with a one-line Web UI `summary` (metadata only: no patch; test/replay). */
const planning = (summary: string) => proxyLocalActivities<Pick<SandboxPoolActivities, 'planSandboxPool' | 'placeWarmSandbox'>>({ ...POOL_ACTIVITY_OPTIONS.plan, summary });

/** The host activities of a member, on its host's task queue. */
const onHost = (options: ActivityOptions, taskQueue: string, summary: string) =>
  proxyActivities<Pick<SandboxPoolActivities, 'warmSandbox' | 'destroyWarmSandbox'>>({ ...options, taskQueue, summary });

export async function sandboxPool(input: SandboxPoolInput): Promise<void> {
  const state: SandboxPoolState = { poolId: input.poolId, phase: 'planning', warming: 0, rounds: 0, lastError: null };
  let lookAgain = false;
  setHandler(refillSandboxPoolSignal, () => {
    lookAgain = true;
  });
  setHandler(sandboxPoolStateQuery, () => state);

  for (; state.rounds < POOL_ROUNDS_PER_RUN; state.rounds++) {
    state.phase = 'planning';
    lookAgain = false;
    const plan = await planning('pool: compare the warm sandboxes with the pool’s size and age').planSandboxPool(input);
    if (plan.retired) return;

    state.phase = 'expiring';
    await Promise.all(
      plan.expiring.map((m) => onHost(POOL_ACTIVITY_OPTIONS.destroy, m.taskQueue, `pool: remove expired warm sandbox ${m.memberId}`).destroyWarmSandbox({ memberId: m.memberId })),
    );

    state.phase = 'warming';
    const members: PoolMemberLocation[] = [...plan.unfinished];
    for (let i = 0; i < plan.shortfall; i++) {
      const placed = await planning('pool: place a new warm sandbox on a live sandbox host').placeWarmSandbox(input);
      if (!placed) break; // no host has room: members never wait for it, tasks come first
      members.push(placed);
    }
    state.warming = members.length;
    const outcomes = await Promise.all(
      members.map((m) =>
        onHost(POOL_ACTIVITY_OPTIONS.warm, m.taskQueue, `pool: clone and start sandbox-agent in warm sandbox ${m.memberId}`)
          .warmSandbox({ memberId: m.memberId })
          .catch((err: Error) => ({ ready: false, error: err.message })),
      ),
    );
    state.warming = 0;
    const failed = outcomes.find((o) => !o.ready && o.error);
    if (failed) state.lastError = failed.error ?? null;

    state.phase = 'waiting';
    if (failed) await sleep(POOL_FAILURE_BACKOFF_MS);
    else await condition(() => lookAgain, plan.nextCheckMs);
  }
  await continueAsNew<typeof sandboxPool>(input);
}

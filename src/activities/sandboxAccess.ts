/**
 * Looking up a task's provider and a sandbox's handle from Postgres, for activities, and the check
 * that a sandbox's activity runs on the host that holds it (docs/DEPLOYMENT.md#placement).
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { PrismaClient, Sandbox } from '../generated/prisma/client';
import { handleOfStored, type ProviderRegistry, type SandboxHandle, type SandboxProvider } from '../providers/types';

/** Failure type of a sandbox activity that reached a host other than the sandbox's own: a routing bug, never retried. */
export const SANDBOX_MISROUTED = 'SandboxMisrouted';

/** @throws non-retryable `ProviderUnavailable` for an id this worker does not serve. */
export function providerFor(providers: ProviderRegistry, providerId: string): SandboxProvider {
  const provider = providers.get(providerId);
  if (!provider) throw ApplicationFailure.nonRetryable(`unknown provider "${providerId}"`, 'ProviderUnavailable');
  return provider;
}

/**
 * Refuses, loudly, to act on a sandbox this host does not hold: its activity was scheduled on the
 * wrong task queue, and acting would touch another machine's sandbox by a path or port that means
 * something else here.
 * @throws non-retryable {@link SANDBOX_MISROUTED} naming both hosts.
 */
export function assertOnThisHost(row: Pick<Sandbox, 'id' | 'hostId'>, hostId: string): void {
  if (row.hostId !== hostId) {
    throw ApplicationFailure.nonRetryable(`sandbox ${row.id} lives on host ${row.hostId ?? '(none)'}; this is host ${hostId}`, SANDBOX_MISROUTED);
  }
}

/** A sandbox row with its provider and handle. */
export interface LoadedSandbox {
  row: Sandbox;
  provider: SandboxProvider;
  handle: SandboxHandle;
}

/**
 * The sandbox row `sandboxId` with its provider and handle, on host `hostId`.
 * @throws non-retryable {@link SANDBOX_MISROUTED} when it lives on another host; retryable
 *   `SandboxBroken` while the provider has not made the sandbox yet.
 */
export async function loadSandbox(prisma: PrismaClient, providers: ProviderRegistry, sandboxId: string, hostId: string): Promise<LoadedSandbox> {
  return withProvider(providers, await prisma.sandbox.findUniqueOrThrow({ where: { id: sandboxId } }), hostId);
}

/**
 * A sandbox row already read, with its provider and handle, on host `hostId`.
 * @throws as {@link loadSandbox}.
 */
export function withProvider(providers: ProviderRegistry, row: Sandbox, hostId: string): LoadedSandbox {
  assertOnThisHost(row, hostId);
  const handle = handleOfStored(row);
  if (!handle) throw ApplicationFailure.retryable(`sandbox ${row.id} is not created yet`, 'SandboxBroken');
  return { row, provider: providerFor(providers, row.providerId), handle };
}

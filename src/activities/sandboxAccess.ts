/**
 * Looking up a task's provider and a sandbox's handle from Postgres, for activities.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { PrismaClient, Sandbox } from '../generated/prisma/client';
import { handleOfStored, type ProviderRegistry, type SandboxHandle, type SandboxProvider } from '../providers/types';

/** @throws non-retryable `ProviderUnavailable` for an id this worker does not serve. */
export function providerFor(providers: ProviderRegistry, providerId: string): SandboxProvider {
  const provider = providers.get(providerId);
  if (!provider) throw ApplicationFailure.nonRetryable(`unknown provider "${providerId}"`, 'ProviderUnavailable');
  return provider;
}

/** A sandbox row with its provider and handle. */
export interface LoadedSandbox {
  row: Sandbox;
  provider: SandboxProvider;
  handle: SandboxHandle;
}

/**
 * The sandbox row `sandboxId` with its provider and handle.
 * @throws retryable `SandboxBroken` while the provider has not made the sandbox yet.
 */
export async function loadSandbox(prisma: PrismaClient, providers: ProviderRegistry, sandboxId: string): Promise<LoadedSandbox> {
  return withProvider(providers, await prisma.sandbox.findUniqueOrThrow({ where: { id: sandboxId } }));
}

/**
 * A sandbox row already read, with its provider and handle.
 * @throws retryable `SandboxBroken` while the provider has not made the sandbox yet.
 */
export function withProvider(providers: ProviderRegistry, row: Sandbox): LoadedSandbox {
  const handle = handleOfStored(row);
  if (!handle) throw ApplicationFailure.retryable(`sandbox ${row.id} is not created yet`, 'SandboxBroken');
  return { row, provider: providerFor(providers, row.providerId), handle };
}

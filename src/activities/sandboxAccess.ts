/**
 * Looking up a task's provider and a sandbox's handle from Postgres, for activities.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { PrismaClient, Sandbox } from '../generated/prisma/client';
import type { ProviderRegistry, SandboxHandle, SandboxProvider } from '../providers/types';

/** @throws non-retryable `ProviderUnavailable` for an id this worker does not serve. */
export function providerFor(providers: ProviderRegistry, providerId: string): SandboxProvider {
  const provider = providers.get(providerId);
  if (!provider) throw ApplicationFailure.nonRetryable(`unknown provider "${providerId}"`, 'ProviderUnavailable');
  return provider;
}

/**
 * The sandbox row `sandboxId` with its provider and handle.
 * @throws retryable `SandboxBroken` while the provider has not made the sandbox yet.
 */
export async function loadSandbox(
  prisma: PrismaClient,
  providers: ProviderRegistry,
  sandboxId: string,
): Promise<{ row: Sandbox; provider: SandboxProvider; handle: SandboxHandle }> {
  const row = await prisma.sandbox.findUniqueOrThrow({ where: { id: sandboxId } });
  if (!row.providerSandboxId || !row.directory) throw ApplicationFailure.retryable(`sandbox ${sandboxId} is not created yet`, 'SandboxBroken');
  return {
    row,
    provider: providerFor(providers, row.providerId),
    handle: {
      sandboxKey: row.id,
      providerSandboxId: row.providerSandboxId,
      directory: row.directory,
      agentEndpoint: row.agentEndpoint ?? undefined,
      details: row.details as Record<string, unknown>,
    },
  };
}

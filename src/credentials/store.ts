/**
 * A workspace's model provider keys at rest (table `workspace_credentials`, one row per workspace and
 * provider): each key is sealed (./sealing.ts) with the service's sealing key before it is written,
 * bound to its workspace and provider, so the table never holds a key in plain text and a sealed value
 * copied to another row does not open. Only {@link readWorkspaceKey} (the host's egress proxy, when it
 * forwards a model request) ever opens one; nothing here returns a key to an API client.
 */
import { MODEL_PROVIDERS, type ModelProvider } from '../domain/agents';
import type { PrismaClient } from '../generated/prisma/client';
import { openSealed, sealSecret } from './sealing';

/** The part of the Prisma client (or of a transaction) the store uses. */
export type CredentialsDb = Pick<PrismaClient, 'workspaceCredential'>;

/** Whether a workspace has a key for one provider (never the key itself). */
export interface CredentialStatus {
  provider: ModelProvider;
  configured: boolean;
  /** When the key was last set; null when none is. */
  updatedAt: Date | null;
}

/** What a sealed key is bound to: it opens only for this workspace and provider. */
function contextOf(workspaceId: string, provider: ModelProvider): string {
  return `workspace-credential\u0000${workspaceId}\u0000${provider}`;
}

/**
 * Stores `apiKey` as the workspace's key for `provider`, sealed with `key`, replacing any earlier one.
 * @param key the sealing key (CREDENTIALS_ENCRYPTION_KEY, 32 bytes).
 * @returns `{provider, configured: true, updatedAt}`.
 * @throws RangeError when `key` is not 32 bytes; Prisma errors (e.g. the database is unavailable).
 */
export async function setWorkspaceCredential(
  prisma: CredentialsDb,
  key: Buffer,
  input: { workspaceId: string; provider: ModelProvider; apiKey: string },
): Promise<CredentialStatus> {
  const { sealed, keyId } = sealSecret(key, input.apiKey, contextOf(input.workspaceId, input.provider));
  const row = await prisma.workspaceCredential.upsert({
    where: { workspaceId_provider: { workspaceId: input.workspaceId, provider: input.provider } },
    create: { workspaceId: input.workspaceId, provider: input.provider, sealedKey: sealed, keyId },
    update: { sealedKey: sealed, keyId },
    select: { updatedAt: true },
  });
  return { provider: input.provider, configured: true, updatedAt: row.updatedAt };
}

/**
 * Which providers the workspace has a key for: one entry per MODEL_PROVIDERS entry, in that order.
 * Opens nothing, so it works without the sealing key. A key sealed with an earlier sealing key counts
 * as configured (it cannot be opened until it is set again).
 */
export async function listWorkspaceCredentials(prisma: CredentialsDb, workspaceId: string): Promise<CredentialStatus[]> {
  const rows = await prisma.workspaceCredential.findMany({ where: { workspaceId }, select: { provider: true, updatedAt: true } });
  const updatedAtOf = new Map(rows.map((r) => [r.provider, r.updatedAt]));
  return MODEL_PROVIDERS.map((provider) => {
    const updatedAt = updatedAtOf.get(provider) ?? null;
    return { provider, configured: updatedAt !== null, updatedAt };
  });
}

/** Removes the workspace's key for `provider`. @returns whether there was one. */
export async function deleteWorkspaceCredential(prisma: CredentialsDb, workspaceId: string, provider: ModelProvider): Promise<boolean> {
  const { count } = await prisma.workspaceCredential.deleteMany({ where: { workspaceId, provider } });
  return count > 0;
}

/**
 * The workspace's key for `provider` in plain text, for the egress proxy to put on a model request;
 * null when the workspace has none.
 * @param key the sealing key (CREDENTIALS_ENCRYPTION_KEY, 32 bytes).
 * @throws SealedSecretError (./sealing.ts) `key_mismatch` when the key was sealed with another sealing
 *   key (set it again), `malformed` / `authentication_failed` when the row was altered; RangeError when
 *   `key` is not 32 bytes; Prisma errors.
 */
export async function readWorkspaceKey(prisma: CredentialsDb, key: Buffer, workspaceId: string, provider: ModelProvider): Promise<string | null> {
  const row = await prisma.workspaceCredential.findUnique({
    where: { workspaceId_provider: { workspaceId, provider } },
    select: { sealedKey: true, keyId: true },
  });
  if (!row) return null;
  return openSealed(key, { sealed: row.sealedKey, keyId: row.keyId }, contextOf(workspaceId, provider));
}

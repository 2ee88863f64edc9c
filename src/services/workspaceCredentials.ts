/**
 * A workspace's model provider keys: set one, list which are set, remove one. The keys are sealed at
 * rest (src/credentials); no use case here ever returns one. The egress proxy reads them on the host
 * (src/credentials/store.ts readWorkspaceKey); they never enter a sandbox.
 */
import { deleteWorkspaceCredential, listWorkspaceCredentials, setWorkspaceCredential, type CredentialStatus } from '../credentials/store';
import type { ModelProvider } from '../domain/agents';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';

export type { CredentialStatus };

/** Retry-After (seconds) of `credentials_unavailable`: an operator has to configure the sealing key and restart the service. */
export const CREDENTIALS_RETRY_AFTER_SECONDS = 60;

/** What the credential use cases need. */
export interface CredentialDeps extends Pick<ServiceDeps, 'prisma'> {
  /** The sealing key (CREDENTIALS_ENCRYPTION_KEY, 32 bytes); null when the service has none. */
  credentialsKey: Buffer | null;
}

/**
 * Stores `apiKey` as the workspace's key for `provider`, replacing any earlier one.
 * @returns `{provider, configured: true, updatedAt}`; never the key.
 * @throws DomainError `unavailable` `credentials_unavailable` (retry after 60 s) when the service has
 *   no sealing key; database errors.
 */
export async function setCredential(deps: CredentialDeps, input: { workspaceId: string; provider: ModelProvider; apiKey: string }): Promise<CredentialStatus> {
  if (!deps.credentialsKey) {
    throw new DomainError('unavailable', 'credentials_unavailable', 'model keys cannot be stored: this service has no credentials encryption key (CREDENTIALS_ENCRYPTION_KEY)', {
      retryAfterSeconds: CREDENTIALS_RETRY_AFTER_SECONDS,
    });
  }
  return setWorkspaceCredential(deps.prisma, deps.credentialsKey, input);
}

/** One entry per model provider (`anthropic`, `openai`): whether the workspace has a key and since when. Needs no sealing key. */
export function listCredentials(deps: Pick<ServiceDeps, 'prisma'>, workspaceId: string): Promise<CredentialStatus[]> {
  return listWorkspaceCredentials(deps.prisma, workspaceId);
}

/** Removes the workspace's key for `provider`; removing one that is not set changes nothing. @returns whether there was one. */
export function deleteCredential(deps: Pick<ServiceDeps, 'prisma'>, workspaceId: string, provider: ModelProvider): Promise<boolean> {
  return deleteWorkspaceCredential(deps.prisma, workspaceId, provider);
}

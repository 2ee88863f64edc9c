/**
 * Response shapes of the workspace settings endpoints (../routes/workspaces.ts) as zod schemas, for the
 * OpenAPI document (./document.ts) only, like ./responses.ts: each `meta.id` names its component, the
 * routes build their answers with src/domain/workspaceSettings.ts and the egress policy store, and
 * {@link WORKSPACE_RESPONSE_SCHEMAS_MATCH_RECORDS} stops the type check when a schema drifts from the
 * type it mirrors.
 */
import { z } from 'zod';
import { MODEL_PROVIDERS } from '../../domain/agents';
import { EGRESS_MODES, type CredentialRecord, type EgressPolicyRecord } from '../../domain/workspaceSettings';
import type { SandboxPoolRecord } from '../../domain/sandboxPools';

export const credentialRecord = z
  .object({
    provider: z.enum(MODEL_PROVIDERS),
    configured: z.boolean().meta({ description: 'Whether the workspace has a key for this provider. The key itself is never shown.' }),
    updatedAt: z.iso.datetime().nullable().meta({ description: 'When the key was last set; null when none is.' }),
  })
  .meta({ id: 'CredentialRecord', description: 'Whether a workspace has a key for one model provider; never the key.' });

export const credentialList = z
  .object({ items: z.array(credentialRecord).meta({ description: 'One entry per model provider, configured or not.' }) })
  .meta({ id: 'CredentialList', description: 'The workspace’s model provider keys, as configured or not.' });

export const egressPolicyRecord = z
  .object({
    mode: z.enum(EGRESS_MODES).meta({ description: '`deny`: only the model API; `allowlist`: the model API and `hosts`; `allow`: any host.' }),
    hosts: z.array(z.string()).meta({ description: 'Host patterns reachable in `allowlist` mode: `name` or `*.name` (any subdomain), lower case.' }),
    isDefault: z.boolean().meta({ description: 'True when the workspace has set no policy and has the service’s default (EGRESS_DEFAULT_MODE, EGRESS_DEFAULT_HOSTS).' }),
  })
  .meta({ id: 'EgressPolicy', description: 'What the workspace’s sandboxes may reach through the egress proxy besides their model API (docs/SECURITY.md#egress).' });

export const sandboxPoolRecord = z
  .object({
    id: z.uuid(),
    workspaceId: z.string(),
    repository: z.string(),
    provider: z.string(),
    agent: z.string().meta({ description: 'The agent whose session each member has open before a task claims it.' }),
    size: z.number().int().meta({ description: 'Ready sandboxes the pool keeps; 0 = off.' }),
    idleTimeoutSeconds: z.number().int().meta({ description: 'An unclaimed member older than this (since ready) is replaced, in seconds.' }),
    ready: z.number().int().meta({ description: 'Members a new task can claim now.' }),
    warming: z.number().int().meta({ description: 'Members being made (clone, sandbox-agent start).' }),
    lastError: z.string().nullable().meta({ description: 'Why the newest member failed to warm (one sentence); null when the last one warmed.' }),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'SandboxPool', description: 'A warm sandbox pool of one repository: sandboxes kept cloned with sandbox-agent running, claimed by the workspace’s new tasks.' });

export const sandboxPoolList = z.object({ items: z.array(sandboxPoolRecord) }).meta({ id: 'SandboxPoolList', description: 'The workspace’s warm sandbox pools, oldest first.' });

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Type-level proof that each schema's output is exactly the type the routes answer with (true). */
export type WorkspaceResponseSchemasMatchRecords = [
  Same<z.output<typeof credentialRecord>, CredentialRecord>,
  Same<z.output<typeof egressPolicyRecord>, EgressPolicyRecord>,
  Same<z.output<typeof sandboxPoolRecord>, SandboxPoolRecord>,
] extends true[]
  ? true
  : never;

/** `true`; does not compile when {@link WorkspaceResponseSchemasMatchRecords} is not. */
export const WORKSPACE_RESPONSE_SCHEMAS_MATCH_RECORDS: WorkspaceResponseSchemasMatchRecords = true;

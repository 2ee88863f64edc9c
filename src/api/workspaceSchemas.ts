/**
 * Request schemas of the workspace settings endpoints (./routes/workspaces.ts): model provider keys
 * and the egress policy. Zod, strict (unknown fields are rejected), like ./schemas.ts; the `.meta()`
 * descriptions only feed the OpenAPI document (./openapi/document.ts).
 */
import { z } from 'zod';
import { MODEL_PROVIDERS } from '../domain/agents';
import { EGRESS_MODES, MAX_EGRESS_HOSTS } from '../domain/workspaceSettings';
import { MAX_HOST_NAME_LENGTH, validHostPattern } from '../domain/hostPattern';
import { createTaskBody } from './schemas';
import { DEFAULT_POOL_IDLE_TIMEOUT_SECONDS, MAX_POOL_IDLE_TIMEOUT_SECONDS, MAX_POOL_SIZE, MIN_POOL_IDLE_TIMEOUT_SECONDS } from '../domain/sandboxPools';

/** The workspace id syntax of the task endpoints (letters, digits, `._-`, 1..100). */
const workspaceId = createTaskBody.shape.workspaceId;

const provider = z.enum(MODEL_PROVIDERS).meta({ description: 'Model provider whose API the workspace’s agents call.' });

/** `/v1/workspaces/{workspaceId}/…` */
export const workspaceParams = z.object({ workspaceId }).strict();

/** `/v1/workspaces/{workspaceId}/credentials/{provider}` */
export const credentialParams = z.object({ workspaceId, provider }).strict();

/** Body of `PUT …/credentials/{provider}`. Messages never repeat the key. */
export const putCredentialBody = z
  .object({
    apiKey: z
      .string()
      .min(8)
      .max(500)
      .regex(/^[\x21-\x7e]+$/, 'visible ASCII characters only: no spaces, line breaks or NUL')
      .meta({ description: 'The provider’s API key. Stored sealed; never shown again by any endpoint.', writeOnly: true }),
  })
  .strict();

/** One allowlist entry: a host name or `*.` and a host name (src/domain/hostPattern.ts), compared in lower case. */
const hostPattern = z
  .string()
  .max(MAX_HOST_NAME_LENGTH)
  .toLowerCase()
  .refine(validHostPattern, 'a host name (at least two labels, no port, no IP address) or *. and a host name')
  .meta({ description: 'A host name (`github.com`) or `*.` and a host name (`*.github.com`: any subdomain, not github.com itself); no port, no IP address.' });

/** Body of `PUT …/egress-policy`. */
export const putEgressPolicyBody = z
  .object({
    mode: z.enum(EGRESS_MODES).meta({ description: '`deny`: only the model API; `allowlist`: the model API and `hosts`; `allow`: any host.' }),
    hosts: z
      .array(hostPattern)
      .max(MAX_EGRESS_HOSTS)
      .default([])
      .meta({ description: `Hosts reachable in \`allowlist\` mode (at most ${MAX_EGRESS_HOSTS}); kept but unused in the other modes. Stored lower case, each once.` }),
  })
  .strict();

/** Body of `PUT …/sandbox-pools`: one repository's warm pool (docs/ARCHITECTURE.md#warm-sandbox-pools). */
export const putSandboxPoolBody = z
  .object({
    repository: createTaskBody.shape.repository,
    provider: createTaskBody.shape.provider,
    agent: createTaskBody.shape.agent.meta({
      description:
        'Agent whose session each member opens ahead, so a task of that agent finds it open; default the service’s default agent (DEFAULT_AGENT). A task of another agent claims a member too and opens its own session.',
    }),
    size: z
      .number()
      .int()
      .min(0)
      .max(MAX_POOL_SIZE)
      .meta({ description: `Ready sandboxes to keep for the repository's new tasks (0..${MAX_POOL_SIZE}); 0 turns the pool off and destroys its members.` }),
    idleTimeoutSeconds: z
      .number()
      .int()
      .min(MIN_POOL_IDLE_TIMEOUT_SECONDS)
      .max(MAX_POOL_IDLE_TIMEOUT_SECONDS)
      .default(DEFAULT_POOL_IDLE_TIMEOUT_SECONDS)
      .meta({
        description: `A member unclaimed this long after it became ready is destroyed and replaced (fresh clone), in seconds; default ${DEFAULT_POOL_IDLE_TIMEOUT_SECONDS}.`,
      }),
  })
  .strict();

/**
 * Workspace settings endpoints (REST, JSON), mounted at /v1/workspaces:
 *
 *   PUT    /v1/workspaces/:workspaceId/credentials/:provider   set the workspace's model provider key
 *   GET    /v1/workspaces/:workspaceId/credentials             which providers have a key (never the keys)
 *   DELETE /v1/workspaces/:workspaceId/credentials/:provider   remove a key
 *   GET    /v1/workspaces/:workspaceId/egress-policy           the workspace's egress policy (or the default)
 *   PUT    /v1/workspaces/:workspaceId/egress-policy           replace it
 *   GET    /v1/workspaces/:workspaceId/sandbox-pools           its warm sandbox pools (operationId listSandboxPools)
 *   PUT    /v1/workspaces/:workspaceId/sandbox-pools           set one repository's pool (operationId putSandboxPool)
 *
 * Each handler parses the request, checks that the workspace is the token's own (403
 * `workspace_forbidden` on `params.workspaceId` otherwise, as for listing or creating in another
 * workspace), calls one use case (src/services) and shapes the answer. No answer, error or log line
 * carries a key. Errors: see ../errors.ts.
 */
import { Router } from 'express';
import type { AgentId } from '../../domain/agents';
import { toCredentialRecord, type EgressPolicy } from '../../domain/workspaceSettings';
import type { ServiceDeps } from '../../services/deps';
import { readEgressPolicy, replaceEgressPolicy } from '../../services/egressPolicy';
import { deleteCredential, listCredentials, setCredential } from '../../services/workspaceCredentials';
import { assertOwnWorkspace } from '../auth';
import { parse } from '../parse';
import { credentialParams, putCredentialBody, putEgressPolicyBody, putSandboxPoolBody, workspaceParams } from '../workspaceSchemas';
import { readSandboxPools, setSandboxPool } from '../../services/sandboxPools';
import { checkRepository, type RepositoryPolicy } from '../../repositories/policy';

export interface WorkspaceRouteDeps extends Pick<ServiceDeps, 'prisma' | 'temporal' | 'taskQueue' | 'logger'> {
  /** Provider ids the worker serves (`local`, ...). */
  providerIds: readonly string[];
  /** Which repositories a pool (like a task) may name (../../repositories/policy.ts). */
  repositoryPolicy: RepositoryPolicy;
  /** Agent of a pool that names none (DEFAULT_AGENT). */
  defaultAgent: AgentId;
  /** Sealing key of the workspaces' model provider keys (CREDENTIALS_ENCRYPTION_KEY, 32 bytes); null: keys cannot be set (503 `credentials_unavailable`). */
  credentialsKey: Buffer | null;
  /** Egress policy of a workspace that has set none (EGRESS_DEFAULT_MODE, EGRESS_DEFAULT_HOSTS). */
  egressDefaults: EgressPolicy;
}

export function workspaceRoutes(deps: WorkspaceRouteDeps): Router {
  const router = Router();

  /**
   * Set the workspace's key for a model provider (`anthropic` | `openai`), replacing any earlier one.
   * Body { apiKey: 8..500 visible ASCII characters }. 200 { provider, configured: true, updatedAt }
   * (CredentialRecord; never the key). 400 validation_failed (`params.provider`, `body.apiKey`);
   * 403 workspace_forbidden; 503 credentials_unavailable (+ Retry-After) when the service has no sealing key.
   */
  router.put('/:workspaceId/credentials/:provider', async (req, res) => {
    const params = parse(credentialParams, req.params, 'params');
    const body = parse(putCredentialBody, req.body ?? {}, 'body');
    assertOwnWorkspace(res, params.workspaceId, 'params.workspaceId');
    const status = await setCredential(deps, { workspaceId: params.workspaceId, provider: params.provider, apiKey: body.apiKey });
    res.json(toCredentialRecord(status));
  });

  /** Which providers the workspace has a key for. 200 { items: CredentialRecord[] }, one per provider. 403 workspace_forbidden. */
  router.get('/:workspaceId/credentials', async (req, res) => {
    const { workspaceId } = parse(workspaceParams, req.params, 'params');
    assertOwnWorkspace(res, workspaceId, 'params.workspaceId');
    res.json({ items: (await listCredentials(deps, workspaceId)).map(toCredentialRecord) });
  });

  /** Remove the workspace's key for a provider. 204, also when none was set. 400 validation_failed (`params.provider`); 403 workspace_forbidden. */
  router.delete('/:workspaceId/credentials/:provider', async (req, res) => {
    const { workspaceId, provider } = parse(credentialParams, req.params, 'params');
    assertOwnWorkspace(res, workspaceId, 'params.workspaceId');
    await deleteCredential(deps, workspaceId, provider);
    res.status(204).end();
  });

  /** The workspace's egress policy. 200 { mode, hosts, isDefault } (EgressPolicy; isDefault: it has set none). 403 workspace_forbidden. */
  router.get('/:workspaceId/egress-policy', async (req, res) => {
    const { workspaceId } = parse(workspaceParams, req.params, 'params');
    assertOwnWorkspace(res, workspaceId, 'params.workspaceId');
    res.json(await readEgressPolicy(deps, workspaceId));
  });

  /**
   * Replace the workspace's egress policy. Body { mode: deny | allowlist | allow, hosts?: string[] (at
   * most 100 host patterns, src/egress/hostPattern.ts) }. 200 { mode, hosts, isDefault: false }.
   * 400 validation_failed (e.g. `body.hosts.0`); 403 workspace_forbidden.
   */
  router.put('/:workspaceId/egress-policy', async (req, res) => {
    const { workspaceId } = parse(workspaceParams, req.params, 'params');
    const body = parse(putEgressPolicyBody, req.body ?? {}, 'body');
    assertOwnWorkspace(res, workspaceId, 'params.workspaceId');
    res.json(await replaceEgressPolicy(deps, workspaceId, body));
  });

  /** The workspace's warm sandbox pools, counted now. 200 { items: SandboxPool[] }. 403 workspace_forbidden. */
  router.get('/:workspaceId/sandbox-pools', async (req, res) => {
    const { workspaceId } = parse(workspaceParams, req.params, 'params');
    assertOwnWorkspace(res, workspaceId, 'params.workspaceId');
    res.json({ items: await readSandboxPools(deps, workspaceId) });
  });

  /**
   * Set one repository's warm pool (OpenAPI operationId putSandboxPool). 200 SandboxPool. 400
   * validation_failed | unknown_provider | repository_not_allowed; 403 workspace_forbidden; 503
   * workflow_start_failed (+ Retry-After).
   */
  router.put('/:workspaceId/sandbox-pools', async (req, res) => {
    const { workspaceId } = parse(workspaceParams, req.params, 'params');
    const body = parse(putSandboxPoolBody, req.body ?? {}, 'body');
    assertOwnWorkspace(res, workspaceId, 'params.workspaceId');
    res.json(
      await setSandboxPool({ ...deps, checkRepository: (r) => checkRepository(r, deps.repositoryPolicy) }, { workspaceId, ...body, agent: body.agent ?? deps.defaultAgent }),
    );
  });

  return router;
}

/**
 * Workspace settings routes (model provider keys, egress policy, warm sandbox pools), mounted at
 * /v1/workspaces. Each handler parses the request, authorizes it (the workspace must be the token's),
 * calls one service (src/services) and shapes the answer; no answer, error or log line carries a key.
 * The REST contract is the OpenAPI document (GET /openapi.json, built by src/api/openapi/document.ts);
 * errors map in ../errors.ts.
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

  /** PUT /v1/workspaces/:workspaceId/credentials/:provider — putCredential (operationId). */
  router.put('/:workspaceId/credentials/:provider', async (req, res) => {
    const params = parse(credentialParams, req.params, 'params');
    const body = parse(putCredentialBody, req.body ?? {}, 'body');
    assertOwnWorkspace(res, params.workspaceId, 'params.workspaceId');
    const status = await setCredential(deps, { workspaceId: params.workspaceId, provider: params.provider, apiKey: body.apiKey });
    res.json(toCredentialRecord(status));
  });

  /** GET /v1/workspaces/:workspaceId/credentials — listCredentials (operationId). */
  router.get('/:workspaceId/credentials', async (req, res) => {
    const { workspaceId } = parse(workspaceParams, req.params, 'params');
    assertOwnWorkspace(res, workspaceId, 'params.workspaceId');
    res.json({ items: (await listCredentials(deps, workspaceId)).map(toCredentialRecord) });
  });

  /** DELETE /v1/workspaces/:workspaceId/credentials/:provider — deleteCredential (operationId). */
  router.delete('/:workspaceId/credentials/:provider', async (req, res) => {
    const { workspaceId, provider } = parse(credentialParams, req.params, 'params');
    assertOwnWorkspace(res, workspaceId, 'params.workspaceId');
    await deleteCredential(deps, workspaceId, provider);
    res.status(204).end();
  });

  /** GET /v1/workspaces/:workspaceId/egress-policy — getEgressPolicy (operationId). */
  router.get('/:workspaceId/egress-policy', async (req, res) => {
    const { workspaceId } = parse(workspaceParams, req.params, 'params');
    assertOwnWorkspace(res, workspaceId, 'params.workspaceId');
    res.json(await readEgressPolicy(deps, workspaceId));
  });

  /** PUT /v1/workspaces/:workspaceId/egress-policy — putEgressPolicy (operationId). */
  router.put('/:workspaceId/egress-policy', async (req, res) => {
    const { workspaceId } = parse(workspaceParams, req.params, 'params');
    const body = parse(putEgressPolicyBody, req.body ?? {}, 'body');
    assertOwnWorkspace(res, workspaceId, 'params.workspaceId');
    res.json(await replaceEgressPolicy(deps, workspaceId, body));
  });

  /** GET /v1/workspaces/:workspaceId/sandbox-pools — listSandboxPools (operationId). */
  router.get('/:workspaceId/sandbox-pools', async (req, res) => {
    const { workspaceId } = parse(workspaceParams, req.params, 'params');
    assertOwnWorkspace(res, workspaceId, 'params.workspaceId');
    res.json({ items: await readSandboxPools(deps, workspaceId) });
  });

  /** PUT /v1/workspaces/:workspaceId/sandbox-pools — putSandboxPool (operationId). */
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

/**
 * The egress proxy's view of the database, and the token issuer the agent-starting activities use:
 * everything of src/egress that reads or writes Postgres, built from the worker's dependencies.
 */
import type { PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../logger';
import type { AgentEgress } from '../providers/types';
import { egressSocketPath } from '../providers/local/layout';
import type { EgressPolicy } from '../domain/workspaceSettings';
import type { ModelProvider } from '../domain/agents';
import type { TaskEventNotifier } from '../db/notifier';
import { recordModelUsage } from '../db/modelUsage';
import { readWorkspaceKey } from '../credentials/store';
import { getEgressPolicy } from './policyStore';
import { issueEgressToken } from './tokens';
import { createEgressProxy, type EgressProxy } from './egressProxy';

/** Issues the egress of an agent about to start in sandbox `sandboxId` of workspace `workspaceId`. */
export type EgressIssuer = (sandbox: { sandboxId: string; workspaceId: string }) => () => Promise<AgentEgress>;

/**
 * An issuer that makes a new token, stores its hash on the sandbox row (replacing the previous agent's,
 * which stops working at once) and answers the workspace's policy mode. A warm pool member's hash is
 * stored on its `warm_sandboxes` row, which the proxy does not read: its agent has no model access
 * until a claim moves the hash to the task's sandbox row (src/pools/claim.ts).
 */
export function createEgressIssuer(prisma: PrismaClient, defaults: EgressPolicy): EgressIssuer {
  return ({ sandboxId, workspaceId }) =>
    async () => {
      const { token, hash } = issueEgressToken();
      const { count } = await prisma.sandbox.updateMany({ where: { id: sandboxId }, data: { egressTokenHash: hash } });
      if (count === 0) await prisma.warmSandbox.update({ where: { id: sandboxId }, data: { egressTokenHash: hash } });
      const policy = await getEgressPolicy(prisma, workspaceId, defaults);
      return { token, mode: policy.mode };
    };
}

export interface HostedEgressProxyDeps {
  prisma: PrismaClient;
  notifier: TaskEventNotifier;
  logger: Logger;
  /** Sealing key of the workspaces' model keys; null: no key can be read (model requests get 401 no key). */
  credentialsKey: Buffer | null;
  defaults: EgressPolicy;
  modelOrigins: Record<ModelProvider, string>;
  modelTimeoutMs: number;
}

/** The egress proxy backed by Postgres: tokens of live sandboxes, sealed keys, policies, usage records. */
export function createHostedEgressProxy(deps: HostedEgressProxyDeps): EgressProxy {
  return createEgressProxy({
    logger: deps.logger,
    modelOrigins: deps.modelOrigins,
    modelTimeoutMs: deps.modelTimeoutMs,
    async sandboxByTokenHash(tokenHash) {
      const row = await deps.prisma.sandbox.findUnique({
        where: { egressTokenHash: tokenHash },
        select: { id: true, state: true, taskId: true, task: { select: { workspaceId: true } } },
      });
      // A destroyed or lost sandbox's token is dead even if some process of it still held it.
      if (!row || row.state === 'destroyed' || row.state === 'lost') return null;
      return { sandboxId: row.id, taskId: row.taskId, workspaceId: row.task.workspaceId };
    },
    modelKey: (workspaceId, provider) => (deps.credentialsKey ? readWorkspaceKey(deps.prisma, deps.credentialsKey, workspaceId, provider) : Promise.resolve(null)),
    egressPolicy: (workspaceId) => getEgressPolicy(deps.prisma, workspaceId, deps.defaults),
    async recordUsage(sandbox, provider, reading) {
      await recordModelUsage(deps.prisma, deps.notifier, { taskId: sandbox.taskId, sandboxId: sandbox.sandboxId, provider, ...reading });
    },
  });
}

/** A sandbox host's egress: the proxy, listening, and the issuer of its agents' tokens. */
export interface SandboxHostEgress {
  proxy: EgressProxy;
  issuer: EgressIssuer;
}

/**
 * Starts the egress of a sandbox host (the worker, or a test stack's worker): the hosted proxy on
 * {@link egressSocketPath}(`sandboxRoot`), and the token issuer with the same default policy.
 */
export async function startSandboxHostEgress(deps: HostedEgressProxyDeps & { sandboxRoot: string }): Promise<SandboxHostEgress> {
  const proxy = createHostedEgressProxy(deps);
  await proxy.listen(egressSocketPath(deps.sandboxRoot));
  return { proxy, issuer: createEgressIssuer(deps.prisma, deps.defaults) };
}

/**
 * BENCHMARK-ONLY route, mounted at /v1/bench only when ENABLE_BENCHMARK_PROVIDERS=1 (never in
 * production), and so not in the OpenAPI document: the floor createTask is measured against in
 * docs/BENCHMARKS.md (scenario 1). It makes the same Prisma insert of a task row as POST /v1/tasks and
 * nothing else (no validation, history event, notification or workflow start).
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { PrismaClient } from '../../generated/prisma/client';
import { workspaceOf } from '../auth';

export function benchRoutes(deps: { prisma: PrismaClient }): Router {
  const router = Router();
  /** POST /v1/bench/floor — no operationId (benchmark-only, not in the OpenAPI document). */
  router.post('/floor', async (req, res) => {
    const id = randomUUID();
    const body = (req.body ?? {}) as { repository?: string; prompt?: string };
    await deps.prisma.task.create({
      data: {
        id,
        workspaceId: workspaceOf(res),
        repository: String(body.repository ?? ''),
        prompt: String(body.prompt ?? ''),
        providerId: 'floor',
        agentType: 'claude',
        // Same columns and cost as createTask's insert; `archived` so no recovery sweep takes it for
        // a task whose run was never started.
        status: 'archived',
        statusMessage: 'benchmark floor row',
        workflowId: `floor-${id}`,
      },
    });
    res.status(201).json({ id });
  });
  return router;
}

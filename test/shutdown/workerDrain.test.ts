/**
 * SIGTERM drains the worker process: an activity in flight finishes (within the 20 s shutdown grace
 * time) and its result reaches Temporal before the process exits 0; a new worker then carries on.
 */
import path from 'node:path';
import { temporal as temporalProto } from '@temporalio/proto';
import { createPrismaClient } from '../../src/db/prisma';
import { createTemporalClient } from '../../src/temporal/client';
import { authedFetch } from '../../src/dev/stack/auth';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTestApi } from '../../src/dev/stack/testApi';
import { spawnService } from '../../src/dev/serviceProcess';

describe('worker shutdown', () => {
  it('lets the activity in flight finish on SIGTERM, exits 0, and a new worker continues', async () => {
    const stack = readStack();
    const taskQueue = `drain-worker-${Date.now()}`;
    const prisma = createPrismaClient(stack.databaseUrl);
    const temporal = await createTemporalClient({ address: stack.temporalAddress, namespace: stack.namespace });
    const { api, baseUrl } = await startTestApi({ stack, prisma, temporal, taskQueue, providerIds: ['instant'] });
    // The worker runs as its own process with the benchmark-only provider, each step taking 3 s.
    const startWorker = () =>
      spawnService('worker', {
        env: {
          ...process.env,
          DATABASE_URL: stack.databaseUrl,
          TEMPORAL_ADDRESS: stack.temporalAddress,
          TEMPORAL_TASK_QUEUE: taskQueue,
          ENABLE_BENCHMARK_PROVIDERS: '1',
          INSTANT_PROVIDER_DELAY_MS: '3000',
          LOG_LEVEL: 'silent',
        },
        stdio: 'ignore',
      });
    const first = startWorker();
    const firstExit = new Promise<number | null>((resolve) => first.once('exit', (code) => resolve(code)));
    let second: ReturnType<typeof startWorker> | undefined;
    try {
      const res = await authedFetch(`${baseUrl}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ workspaceId: 'ws-worker-drain', repository: path.join(stack.workDir, 'any'), prompt: 'Drain me', provider: 'instant' }),
      });
      const task = (await res.json()) as { id: string; workflowId: string };
      // Wait until the sandbox step's activity is really running on the worker (the task's status
      // changes just before the activity is scheduled, so it alone could race the SIGTERM).
      for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 20))) {
        const { status } = await prisma.task.findUniqueOrThrow({ where: { id: task.id }, select: { status: true } });
        const pending = status === 'init_create_sandbox' ? ((await temporal.workflow.getHandle(task.workflowId).describe()).raw.pendingActivities ?? []) : [];
        if (pending.some((a) => a.activityType?.name === 'createSandbox' && a.state === temporalProto.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED)) break;
        if (Date.now() > deadline) throw new Error(`the sandbox step never started (${status})`);
      }
      first.kill('SIGTERM'); // the 3 s sandbox step is in flight
      expect(await firstExit).toBe(0);

      // The step's attempt 1 completed before the worker exited: no timeout, no second attempt.
      const history = await temporal.workflow.getHandle(task.workflowId).fetchHistory();
      const events = history.events ?? [];
      const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'createSandbox');
      const completed = events.find(
        (e) => e.activityTaskCompletedEventAttributes && String(e.activityTaskCompletedEventAttributes.scheduledEventId) === String(scheduled?.eventId),
      );
      expect(scheduled).toBeDefined();
      expect(completed).toBeDefined();
      expect(events.some((e) => e.activityTaskTimedOutEventAttributes)).toBe(false);

      second = startWorker();
      const result = await temporal.workflow.getHandle(task.workflowId).result();
      expect(result.status).toBe('running');
    } finally {
      first.kill('SIGKILL');
      second?.kill('SIGTERM');
      await api.close();
      await temporal.connection.close();
      await prisma.$disconnect();
    }
  });
});

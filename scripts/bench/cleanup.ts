/**
 * The benchmark's clean-up of its real sandboxes: every task of the `local` provider is killed
 * through the API, so the service removes each sandbox the way it always does (killTask: agent and
 * processes ended, network namespace, disk and cgroups removed, files deleted), before the worker stops.
 */
import type { PrismaClient } from '../../src/generated/prisma/client';
import type { TaskServiceClient } from '../../client';

/** How long the kills get to finish, in ms. */
const KILL_PATIENCE_MS = 5 * 60_000;

export async function killLocalTasks(prisma: PrismaClient, rest: TaskServiceClient): Promise<void> {
  const tasks = await prisma.task.findMany({ where: { providerId: 'local', status: { notIn: ['killed'] } }, select: { id: true } });
  for (const { id } of tasks) await rest.POST('/v1/tasks/{id}/kill', { params: { path: { id } } });
  for (const deadline = Date.now() + KILL_PATIENCE_MS; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
    const left = await prisma.sandbox.count({ where: { providerId: 'local', state: { not: 'destroyed' } } });
    const killing = await prisma.task.count({ where: { id: { in: tasks.map((t) => t.id) }, status: { not: 'killed' } } });
    if (left === 0 && killing === 0) return;
  }
  process.stderr.write('some local sandboxes were not removed in time\n');
}

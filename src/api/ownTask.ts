/** Looking up the task a request's path names, within the request token's workspace. */
import type { Request, Response } from 'express';
import type { PrismaClient, Task } from '../generated/prisma/client';
import { workspaceOf } from './auth';
import { HttpError } from './errors';
import { parse } from './parse';
import { taskIdParams } from './schemas';

/**
 * The task of `req.params.id` if it belongs to the token's workspace.
 * @throws 400 validation_failed (`params.id` not a uuid); 404 task_not_found — also for another
 *   workspace's task, so its existence does not leak.
 */
export async function findOwnTask(prisma: PrismaClient, req: Request, res: Response): Promise<Task> {
  const { id } = parse(taskIdParams, { id: req.params.id }, 'params');
  const task = await prisma.task.findFirst({ where: { id, workspaceId: workspaceOf(res) } });
  if (!task) throw new HttpError(404, 'task_not_found', `no task ${id}`, 'params.id');
  return task;
}

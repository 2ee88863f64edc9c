/** Looking up the task or tab a request's path names, within the request token's workspace. */
import type { Request, Response } from 'express';
import type { PrismaClient, Task, WorkbenchSession } from '../generated/prisma/client';
import { findTabInWorkspace } from '../services/tabReads';
import { findTaskInWorkspace } from '../services/taskReads';
import { workspaceOf } from './auth';
import { parse } from './parse';
import { sessionParams, taskIdParams } from './schemas';

/**
 * The task of `req.params.id` if it belongs to the token's workspace.
 * @throws 400 validation_failed (`params.id` not a uuid); 404 task_not_found — also for another
 *   workspace's task, so its existence does not leak.
 */
export async function findOwnTask(prisma: PrismaClient, req: Request, res: Response): Promise<Task> {
  const { id } = parse(taskIdParams, { id: req.params.id }, 'params');
  return findTaskInWorkspace(prisma, { workspaceId: workspaceOf(res), taskId: id });
}

/**
 * The tab of `req.params.sessionId` on task `req.params.id`, if the task belongs to the token's workspace.
 * @throws 400 validation_failed (bad `params.id` / `params.sessionId`); 404 session_not_found — also
 *   for a missing task or another workspace's.
 */
export async function findOwnTab(prisma: PrismaClient, req: Request, res: Response): Promise<WorkbenchSession> {
  const { id, sessionId } = parse(sessionParams, req.params, 'params');
  return findTabInWorkspace(prisma, { workspaceId: workspaceOf(res), taskId: id, sessionId });
}

/**
 * Workbench tab endpoints (seeds/04), under /v1/tasks/:id/sessions. No request here provisions
 * anything or opens an agent session inline: each persists a cheap mutation and hands the work to the
 * tab's `workbenchSession` workflow (see src/workflows/sessionContracts.ts).
 *
 *   POST   /                         open a tab -> 201 placeholder (pending_provision | pending_session_create)
 *   GET    /                         open tabs, in creation order
 *   GET    /:sessionId               tab detail with draft and a transcript page (after, limit)
 *   POST   /:sessionId/messages      send a message (202); 409 session_not_ready unless ready
 *   PUT    /:sessionId/draft         save the draft
 *   POST   /:sessionId/read          clear the unread mark
 *   POST   /:sessionId/retry         new attempt for a tab in error (202); 409 session_not_in_error otherwise
 *   DELETE /:sessionId               close the tab (any status); the agent session is ended in the background
 *
 * Every change is mirrored as a task history event (`session.*`) pushed to the task's room.
 */
import { Router, type Request, type Response } from 'express';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { startUnlessRunning } from '../../temporal/client';
import type { PrismaClient } from '../../generated/prisma/client';
import { appendTranscriptEntry, insertSession, updateSession } from '../../db/sessions';
import { toSessionRecord, toTranscriptEntryRecord } from '../../domain/records';
import type { Logger } from '../../logger';
import type { TaskEventNotifier } from '../../realtime/notifier';
import {
  WORKBENCH_SESSION_WORKFLOW_TYPE,
  closeSessionSignal,
  retrySessionSignal,
  sendMessageSignal,
  type WorkbenchSessionInput,
} from '../../workflows/sessionContracts';
import { workspaceOf } from '../auth';
import { findOwnTask } from '../ownTask';
import { HttpError } from '../errors';
import { idempotencyKeyOf, parse } from '../parse';
import { bindIdempotencyKey, claimIdempotencyKey, requestHash } from '../../db/idempotency';
import { createSessionBody, draftBody, idempotencyKeyHeader, messageBody, sessionParams, transcriptQuery } from '../schemas';

export interface SessionRouteDeps {
  prisma: PrismaClient;
  temporal: Client;
  notifier: TaskEventNotifier;
  taskQueue: string;
  logger: Logger;
}

/**
 * Starts a tab's run. Already started (by provisionTask's release of waiting tabs) counts as success.
 * @throws what the Temporal client throws otherwise.
 */
export async function startWorkbenchSession(temporal: Client, taskQueue: string, input: WorkbenchSessionInput & { workflowId: string }): Promise<void> {
  await startUnlessRunning(() =>
    temporal.workflow.start(WORKBENCH_SESSION_WORKFLOW_TYPE, { taskQueue, workflowId: input.workflowId, args: [{ taskId: input.taskId, sessionId: input.sessionId }] }),
  );
}

export function sessionRoutes(deps: SessionRouteDeps): Router {
  const { prisma, notifier } = deps;
  const router = Router({ mergeParams: true });

  const findTask = (req: Request, res: Response) => findOwnTask(prisma, req, res);
  const findSession = async (req: Request, res: Response) => {
    const { id, sessionId } = parse(sessionParams, req.params, 'params');
    const session = await prisma.workbenchSession.findFirst({ where: { id: sessionId, taskId: id, task: { workspaceId: workspaceOf(res) } } });
    if (!session) throw new HttpError(404, 'session_not_found', `no session ${sessionId} on task ${id}`, 'params.sessionId');
    return session;
  };
  /** Signals the tab's run; a run that has ended already needs nothing. */
  const signal = async (workflowId: string, send: (h: ReturnType<Client['workflow']['getHandle']>) => Promise<void>) => {
    try {
      await send(deps.temporal.workflow.getHandle(workflowId));
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  };

  /**
   * Open a tab. Body { agent?, model? }. 201 + Location, SessionRecord with status `pending_provision`
   * (no ready sandbox yet) or `pending_session_create`. 404 task_not_found; 409 task_closed for a
   * killed or archived task; 503 workflow_start_failed (the row is removed again). Header
   * `Idempotency-Key` (optional, per task): a repeat answers 201 with the first tab and
   * `Idempotent-Replayed: true`; the same key with another body is 422 idempotency_key_reused.
   */
  router.post('/', async (req, res) => {
    const task = await findTask(req, res);
    const body = parse(createSessionBody, req.body ?? {}, 'body');
    if (task.status === 'killed' || task.status === 'archived') throw new HttpError(409, 'task_closed', `task is ${task.status}`);
    const idempotencyKey = idempotencyKeyOf(req, idempotencyKeyHeader);
    const scope = `sessions:${task.id}`;
    const outcome = await prisma.$transaction(async (tx) => {
      if (idempotencyKey) {
        const claim = await claimIdempotencyKey(tx, { scope, key: idempotencyKey, hash: requestHash(body) });
        if (claim.kind === 'mismatch') throw new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different request body', 'header.idempotency-key');
        if (claim.kind === 'replay') return { kind: 'replay' as const, replay: await tx.workbenchSession.findUniqueOrThrow({ where: { id: claim.sessionId! } }) };
      }
      const created = await insertSession(tx, notifier, { task, agent: body.agent ?? task.agentType, model: body.model });
      if (idempotencyKey) await bindIdempotencyKey(tx, { scope, key: idempotencyKey, sessionId: created.id });
      return { kind: 'created' as const, created };
    });
    if (outcome.kind === 'replay') {
      res.status(201).location(`/v1/tasks/${task.id}/sessions/${outcome.replay.id}`).set('Idempotent-Replayed', 'true').json(toSessionRecord(outcome.replay));
      return;
    }
    const session = outcome.created;
    try {
      await startWorkbenchSession(deps.temporal, deps.taskQueue, { taskId: task.id, sessionId: session.id, workflowId: session.workflowId });
    } catch (err) {
      deps.logger.error({ err, sessionId: session.id }, 'starting workbenchSession failed; removing the tab');
      await prisma.workbenchSession.delete({ where: { id: session.id } }).catch(() => undefined);
      throw new HttpError(503, 'workflow_start_failed', 'the tab could not be opened; try again');
    }
    res.status(201).location(`/v1/tasks/${task.id}/sessions/${session.id}`).json(toSessionRecord(session));
  });

  /** Open tabs of the task in creation order. 200 { items: SessionRecord[] }. */
  router.get('/', async (req, res) => {
    const task = await findTask(req, res);
    const rows = await prisma.workbenchSession.findMany({ where: { taskId: task.id, closed: false }, orderBy: { ordinal: 'asc' } });
    res.json({ items: rows.map(toSessionRecord) });
  });

  /**
   * Tab detail with its draft and a page of its transcript (entries with index > after, oldest first).
   * 200 { session, transcript: { items: TranscriptEntryRecord[], nextCursor: number | null } }.
   */
  router.get('/:sessionId', async (req, res) => {
    const session = await findSession(req, res);
    const q = parse(transcriptQuery, req.query, 'query');
    const rows = await prisma.transcriptEntry.findMany({ where: { sessionId: session.id, index: { gt: q.after } }, orderBy: { index: 'asc' }, take: q.limit });
    const last = rows[rows.length - 1];
    res.json({
      session: toSessionRecord(session),
      transcript: { items: rows.map(toTranscriptEntryRecord), nextCursor: last && last.index < session.lastEntryIndex ? last.index : null },
    });
  });

  /**
   * Send a message. Body { text }. 202 { entry } once the message is in the transcript; the prompt goes
   * to the agent in the background and the reply streams in as `session.transcript` events.
   * 409 session_not_ready when the tab is pending, in error or closed: nothing is stored.
   */
  router.post('/:sessionId/messages', async (req, res) => {
    const found = await findSession(req, res);
    const { text } = parse(messageBody, req.body ?? {}, 'body');
    const entry = await prisma.$transaction(async (tx) => {
      const [row] = await tx.$queryRaw<Array<{ status: string; closed: boolean }>>`SELECT status::text AS status, closed FROM workbench_sessions WHERE id = ${found.id} FOR UPDATE`;
      if (!row || row.closed || (row.status !== 'ready' && row.status !== 'running')) {
        throw new HttpError(409, 'session_not_ready', `the session is ${row?.closed ? 'closed' : row?.status}; messages can be sent once it is ready`);
      }
      return appendTranscriptEntry(tx, notifier, { sessionId: found.id, role: 'user', text, delivery: 'pending' });
    });
    await signal(found.workflowId, (h) => h.signal(sendMessageSignal, { entryIndex: entry.index }));
    res.status(202).json({ entry: toTranscriptEntryRecord(entry) });
  });

  /** Save the draft (survives reloads). Body { draft }. 200 SessionRecord. */
  router.put('/:sessionId/draft', async (req, res) => {
    const found = await findSession(req, res);
    const { draft } = parse(draftBody, req.body ?? {}, 'body');
    res.json(toSessionRecord(await prisma.workbenchSession.update({ where: { id: found.id }, data: { draft } })));
  });

  /** Clear the unread mark. 200 SessionRecord. */
  router.post('/:sessionId/read', async (req, res) => {
    const found = await findSession(req, res);
    if (found.unread) {
      await prisma.$transaction((tx) =>
        updateSession(tx, notifier, { sessionId: found.id, type: 'session.updated', patch: { unread: false }, dedupeKey: `read:${found.id}:${found.lastEntryIndex}` }),
      );
    }
    res.json(toSessionRecord(await prisma.workbenchSession.findUniqueOrThrow({ where: { id: found.id } })));
  });

  /** New attempt for a tab in `error`. 202 SessionRecord; 409 session_not_in_error otherwise. */
  router.post('/:sessionId/retry', async (req, res) => {
    const found = await findSession(req, res);
    if (found.closed || found.status !== 'error') throw new HttpError(409, 'session_not_in_error', `the session is ${found.closed ? 'closed' : found.status}`);
    await signal(found.workflowId, (h) => h.signal(retrySessionSignal));
    res.status(202).json(toSessionRecord(found));
  });

  /**
   * Close the tab, whatever its status (soft delete). 200 SessionRecord (closed). Its run then ends the
   * agent session, including one still being created. Closing a closed tab changes nothing.
   */
  router.delete('/:sessionId', async (req, res) => {
    const found = await findSession(req, res);
    if (!found.closed) {
      await prisma.$transaction((tx) =>
        updateSession(tx, notifier, { sessionId: found.id, type: 'session.closed', patch: { closed: true, closedAt: new Date() }, dedupeKey: `session:${found.id}:closed` }),
      );
    }
    await signal(found.workflowId, (h) => h.signal(closeSessionSignal));
    res.json(toSessionRecord(await prisma.workbenchSession.findUniqueOrThrow({ where: { id: found.id } })));
  });

  return router;
}

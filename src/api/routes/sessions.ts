/**
 * Workbench tab endpoints, under /v1/tasks/:id/sessions. No request here provisions anything or opens
 * an agent session inline: each persists a cheap mutation and hands the work to the tab's
 * `workbenchSession` workflow (see src/workflows/workbenchSession.contract.ts).
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
 * Every change is mirrored as a task history event (`session.*`) pushed to the task's room. Each
 * handler parses the request, finds the task or tab in the token's workspace, calls one use case
 * (src/services) and shapes the answer. Errors: see ../errors.ts.
 */
import { Router } from 'express';
import { toSessionRecord, toTranscriptEntryRecord } from '../../domain/records';
import { closeTab } from '../../services/closeTab';
import type { ServiceDeps } from '../../services/deps';
import { markTabRead } from '../../services/markTabRead';
import { openTab } from '../../services/openTab';
import { retryTab } from '../../services/retryTab';
import { saveDraft } from '../../services/saveDraft';
import { sendMessage } from '../../services/sendMessage';
import { listOpenTabs, tabTranscript } from '../../services/tabReads';
import { findOwnTab, findOwnTask } from '../ownTask';
import { idempotencyKeyOf, parse } from '../parse';
import { createSessionBody, draftBody, idempotencyKeyHeader, messageBody, transcriptQuery } from '../schemas';

export type SessionRouteDeps = ServiceDeps;

export function sessionRoutes(deps: SessionRouteDeps): Router {
  const { prisma } = deps;
  const router = Router({ mergeParams: true });

  /**
   * Open a tab. Body { agent?, model? }. 201 + Location, SessionRecord with status `pending_provision`
   * (no ready sandbox yet) or `pending_session_create`. 404 task_not_found; 409 task_closed for a
   * killed or archived task; 503 workflow_start_failed (the row is removed again). Header
   * `Idempotency-Key` (optional, per task): a repeat answers 201 with the first tab and
   * `Idempotent-Replayed: true`; the same key with another body is 422 idempotency_key_reused.
   */
  router.post('/', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    const body = parse(createSessionBody, req.body ?? {}, 'body');
    const idempotencyKey = idempotencyKeyOf(req, idempotencyKeyHeader);
    const { session, replayed } = await openTab(deps, task, { ...body, idempotencyKey });
    if (replayed) res.set('Idempotent-Replayed', 'true');
    res.status(201).location(`/v1/tasks/${task.id}/sessions/${session.id}`).json(toSessionRecord(session));
  });

  /** Open tabs of the task in creation order. 200 { items: SessionRecord[] }. */
  router.get('/', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.json({ items: (await listOpenTabs(prisma, task)).map(toSessionRecord) });
  });

  /**
   * Tab detail with its draft and a page of its transcript (entries with index > after, oldest first).
   * 200 { session, transcript: { items: TranscriptEntryRecord[], nextCursor: number | null } }.
   */
  router.get('/:sessionId', async (req, res) => {
    const session = await findOwnTab(prisma, req, res);
    const q = parse(transcriptQuery, req.query, 'query');
    const page = await tabTranscript(prisma, session, q);
    res.json({ session: toSessionRecord(session), transcript: { items: page.items.map(toTranscriptEntryRecord), nextCursor: page.nextCursor } });
  });

  /**
   * Send a message. Body { text }. 202 { entry } once the message is in the transcript; the prompt goes
   * to the agent in the background and the reply streams in as `session.transcript` events.
   * 409 session_not_ready when the tab is pending, in error or closed: nothing is stored.
   */
  router.post('/:sessionId/messages', async (req, res) => {
    const found = await findOwnTab(prisma, req, res);
    const { text } = parse(messageBody, req.body ?? {}, 'body');
    res.status(202).json({ entry: toTranscriptEntryRecord(await sendMessage(deps, found, text)) });
  });

  /** Save the draft (survives reloads). Body { draft }. 200 SessionRecord. */
  router.put('/:sessionId/draft', async (req, res) => {
    const found = await findOwnTab(prisma, req, res);
    const { draft } = parse(draftBody, req.body ?? {}, 'body');
    res.json(toSessionRecord(await saveDraft(deps, found, draft)));
  });

  /** Clear the unread mark. 200 SessionRecord. */
  router.post('/:sessionId/read', async (req, res) => {
    const found = await findOwnTab(prisma, req, res);
    res.json(toSessionRecord(await markTabRead(deps, found)));
  });

  /** New attempt for a tab in `error`. 202 SessionRecord; 409 session_not_in_error otherwise. */
  router.post('/:sessionId/retry', async (req, res) => {
    const found = await findOwnTab(prisma, req, res);
    res.status(202).json(toSessionRecord(await retryTab(deps, found)));
  });

  /**
   * Close the tab, whatever its status (soft delete). 200 SessionRecord (closed). Its run then ends the
   * agent session, including one still being created. Closing a closed tab changes nothing.
   */
  router.delete('/:sessionId', async (req, res) => {
    const found = await findOwnTab(prisma, req, res);
    res.json(toSessionRecord(await closeTab(deps, found)));
  });

  return router;
}

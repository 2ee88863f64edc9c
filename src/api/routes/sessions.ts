/**
 * Tab routes of a task, mounted at /v1/tasks/:id/sessions (the paths say `sessions` for compatibility;
 * docs/PRODUCT.md#glossary). Each handler parses the request, authorizes it (the task or tab must be in
 * the token's workspace), calls one service (src/services) and shapes the answer. None provisions or
 * opens an agent session inline: it stores a cheap change and hands the work to the tab's
 * `workbenchSession` run (docs/PRODUCT.md#tabs-open-at-once). The REST contract is the OpenAPI document
 * (GET /openapi.json, built by src/api/openapi/document.ts); errors map in ../errors.ts.
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

  /** POST /v1/tasks/:id/sessions — openSession (operationId). */
  router.post('/', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    const body = parse(createSessionBody, req.body ?? {}, 'body');
    const idempotencyKey = idempotencyKeyOf(req, idempotencyKeyHeader);
    const { session, replayed } = await openTab(deps, task, { ...body, idempotencyKey });
    if (replayed) res.set('Idempotent-Replayed', 'true');
    res.status(201).location(`/v1/tasks/${task.id}/sessions/${session.id}`).json(toSessionRecord(session));
  });

  /** GET /v1/tasks/:id/sessions — listSessions (operationId). */
  router.get('/', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.json({ items: (await listOpenTabs(prisma, task)).map(toSessionRecord) });
  });

  /** GET /v1/tasks/:id/sessions/:sessionId — getSession (operationId). */
  router.get('/:sessionId', async (req, res) => {
    const session = await findOwnTab(prisma, req, res);
    const q = parse(transcriptQuery, req.query, 'query');
    const page = await tabTranscript(prisma, session, q);
    res.json({ session: toSessionRecord(session), transcript: { items: page.items.map(toTranscriptEntryRecord), nextCursor: page.nextCursor } });
  });

  /** POST /v1/tasks/:id/sessions/:sessionId/messages — sendMessage (operationId). */
  router.post('/:sessionId/messages', async (req, res) => {
    const found = await findOwnTab(prisma, req, res);
    const { text } = parse(messageBody, req.body ?? {}, 'body');
    res.status(202).json({ entry: toTranscriptEntryRecord(await sendMessage(deps, found, text)) });
  });

  /** PUT /v1/tasks/:id/sessions/:sessionId/draft — saveDraft (operationId). */
  router.put('/:sessionId/draft', async (req, res) => {
    const found = await findOwnTab(prisma, req, res);
    const { draft } = parse(draftBody, req.body ?? {}, 'body');
    res.json(toSessionRecord(await saveDraft(deps, found, draft)));
  });

  /** POST /v1/tasks/:id/sessions/:sessionId/read — markSessionRead (operationId). */
  router.post('/:sessionId/read', async (req, res) => {
    const found = await findOwnTab(prisma, req, res);
    res.json(toSessionRecord(await markTabRead(deps, found)));
  });

  /** POST /v1/tasks/:id/sessions/:sessionId/retry — retrySession (operationId). */
  router.post('/:sessionId/retry', async (req, res) => {
    const found = await findOwnTab(prisma, req, res);
    res.status(202).json(toSessionRecord(await retryTab(deps, found)));
  });

  /** DELETE /v1/tasks/:id/sessions/:sessionId — closeSession (operationId). */
  router.delete('/:sessionId', async (req, res) => {
    const found = await findOwnTab(prisma, req, res);
    res.json(toSessionRecord(await closeTab(deps, found)));
  });

  return router;
}

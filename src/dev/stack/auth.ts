/**
 * Tokens in tests: `test-token.<workspaceId>` is bound to <workspaceId> (a resolver for tests only; the
 * service itself reads API_TOKENS). `authedFetch` adds the token of the workspace a request is about —
 * from its JSON body, its `workspaceId` query parameter, a `/v1/workspaces/<id>/` path, or the workspace of the task in its path —
 * unless the request carries an Authorization header of its own (tests of authentication do). A request
 * about no (valid) workspace gets the token of `ws-anonymous`, so it meets validation, not a 401.
 */
import type { TokenResolver } from '../../auth/tokens';
import { createPrismaClient, type PrismaClient } from '../../db/prisma';
import { readStack } from './stackFile';

export const testTokenResolver: TokenResolver = (token) => /^test-token\.([A-Za-z0-9._-]{1,100})$/.exec(token)?.[1] ?? null;

export const tokenFor = (workspaceId: string) => `test-token.${workspaceId}`;

let prisma: PrismaClient | undefined;

async function workspaceOfRequest(url: string, body: unknown): Promise<string | null> {
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { workspaceId?: unknown };
      if (typeof parsed?.workspaceId === 'string') return parsed.workspaceId;
    } catch {
      // not JSON
    }
  }
  const u = new URL(url);
  const fromQuery = u.searchParams.get('workspaceId');
  if (fromQuery) return fromQuery;
  const fromPath = /^\/v1\/workspaces\/([A-Za-z0-9._-]{1,100})\//.exec(u.pathname)?.[1];
  if (fromPath) return fromPath;
  const taskId = /\/v1\/tasks\/([0-9a-fA-F-]{36})/.exec(u.pathname)?.[1];
  if (!taskId) return null;
  prisma ??= createPrismaClient(readStack().databaseUrl);
  const task = await prisma.task.findUnique({ where: { id: taskId.toLowerCase() }, select: { workspaceId: true } });
  return task?.workspaceId ?? null;
}

/** fetch with the bearer token of the workspace the request is about (see above). */
export async function authedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) {
    const workspaceId = await workspaceOfRequest(url, init.body);
    const token = tokenFor(workspaceId ?? 'ws-anonymous');
    headers.set('authorization', `Bearer ${testTokenResolver(token) ? token : tokenFor('ws-anonymous')}`);
  }
  return fetch(url, { ...init, headers });
}

/** Closes the lookup connection (globalTeardown drops the database anyway). */
export async function closeAuthLookups(): Promise<void> {
  await prisma?.$disconnect();
  prisma = undefined;
}

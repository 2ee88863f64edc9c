/**
 * Authentication and workspace checks of the REST API (Express middleware). Every REST call except
 * the health checks carries a bearer token bound to one workspace (../auth/tokens.ts); a client only
 * sees, changes and subscribes to its own workspace's tasks, and another workspace's task answers 404
 * like a missing one.
 */
import type { RequestHandler, Response } from 'express';
import { bearerToken, type TokenResolver } from '../auth/tokens';
import { HttpError } from './errors';

/**
 * Express middleware: 401 `unauthorized` (with `WWW-Authenticate: Bearer`) without a known token;
 * otherwise the request goes on with its workspace in `res.locals.workspaceId`.
 */
export function requireBearer(resolve: TokenResolver): RequestHandler {
  return (req, res, next) => {
    const token = bearerToken(req.get('authorization'));
    const workspaceId = token ? resolve(token) : null;
    if (!workspaceId) {
      res.set('WWW-Authenticate', 'Bearer');
      next(new HttpError(401, 'unauthorized', token ? 'unknown token' : 'send Authorization: Bearer <token>', 'header.authorization'));
      return;
    }
    res.locals.workspaceId = workspaceId;
    next();
  };
}

/** The workspace the request's token is bound to (set by {@link requireBearer}). */
export function workspaceOf(res: Response): string {
  return res.locals.workspaceId as string;
}

/** @throws 403 `workspace_forbidden` (on `field`) unless `workspaceId` is the token's own. */
export function assertOwnWorkspace(res: Response, workspaceId: string, field: string): void {
  if (workspaceId !== workspaceOf(res)) throw new HttpError(403, 'workspace_forbidden', 'this token is bound to another workspace', field);
}

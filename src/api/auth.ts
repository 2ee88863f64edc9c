/**
 * Authentication (issue 4, "Authentication"): every REST call (except GET /healthz) and the Socket.IO
 * handshake carry a bearer token, and each token is bound to one workspace. A client only sees, changes
 * and subscribes to its own workspace's tasks; another workspace's task answers 404 like a missing one.
 *
 * Tokens come from configuration: API_TOKENS="<token>=<workspaceId>,<token>=<workspaceId>". They are
 * kept as SHA-256 digests and looked up by digest, so no comparison runs over the secret itself.
 */
import { createHash } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { HttpError } from './errors';

/** Maps a presented token to the workspace it is bound to, or null for an unknown token. */
export type TokenResolver = (token: string) => string | null;

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Builds the resolver from API_TOKENS. @throws on an empty or malformed list (the API refuses to start).
 */
export function tokensFromConfig(spec: string): TokenResolver {
  const byDigest = new Map<string, string>();
  for (const pair of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = pair.lastIndexOf('=');
    const token = pair.slice(0, eq);
    const workspaceId = pair.slice(eq + 1);
    if (eq <= 0 || token.length < 8 || !/^[A-Za-z0-9._-]{1,100}$/.test(workspaceId)) {
      throw new Error('API_TOKENS must be "<token of 8+ characters>=<workspaceId>" pairs separated by commas');
    }
    byDigest.set(digest(token), workspaceId);
  }
  if (byDigest.size === 0) throw new Error('API_TOKENS is empty: the API needs at least one token');
  return (token) => byDigest.get(digest(token)) ?? null;
}

/** The token of an `Authorization: Bearer <token>` header value, or null. */
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

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

/** 403 `workspace_forbidden` unless `workspaceId` is the token's own. */
export function assertOwnWorkspace(res: Response, workspaceId: string, field: string): void {
  if (workspaceId !== workspaceOf(res)) throw new HttpError(403, 'workspace_forbidden', 'this token is bound to another workspace', field);
}

/**
 * Bearer tokens, shared by the REST API and the Socket.IO handshake: every REST call (except the
 * health checks) and every socket carries a token, and each token is bound to one workspace.
 *
 * Tokens come from configuration: API_TOKENS="<token>=<workspaceId>,<token>=<workspaceId>". They are
 * kept as SHA-256 digests and looked up by digest, so no comparison runs over the secret itself.
 */
import { createHash } from 'node:crypto';

/** Maps a presented token to the workspace it is bound to, or null for an unknown token. */
export type TokenResolver = (token: string) => string | null;

/** SHA-256 (hex) of a token: the only form in which tokens are kept. */
const digest = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Builds the resolver from API_TOKENS (`<token of 8+ characters>=<workspaceId>` pairs separated by
 * commas; a workspace id is 1..100 letters, digits, dots, dashes or underscores).
 * @throws on an empty or malformed list (the API refuses to start).
 */
export function tokensFromConfig(spec: string): TokenResolver {
  const byDigest = new Map<string, string>();
  for (const pair of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
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

/** The token of an `Authorization: Bearer <token>` header value, or null (no header, another scheme). */
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

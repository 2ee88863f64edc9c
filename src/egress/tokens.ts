/**
 * Egress tokens: what a sandbox's agent presents to the host's egress proxy in place of a model API
 * key (docs/SECURITY.md#egress). One per sandbox agent start; only its SHA-256 is stored
 * (`sandboxes.egress_token_hash`), so a database read never yields a usable token.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Prefix that makes a token recognisable in a leak report; the rest is 32 random bytes, base64url. */
const TOKEN_PREFIX = 'tps-egress-';

/** A new token and the hash to store. */
export function issueEgressToken(): { token: string; hash: string } {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashEgressToken(token) };
}

/** SHA-256 (hex) of a presented token. */
export function hashEgressToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether `value` has the shape of an egress token (a cheap check before any lookup). */
export function looksLikeEgressToken(value: string): boolean {
  return value.startsWith(TOKEN_PREFIX) && value.length === TOKEN_PREFIX.length + 43;
}

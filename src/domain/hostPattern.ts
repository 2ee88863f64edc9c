/**
 * Host patterns of an egress allowlist (docs/SECURITY.md#egress) and how a host is matched against
 * them. Pure: no I/O, no DNS. A pattern is a syntax check only: where a name resolves is the egress
 * proxy's concern (it must still refuse loopback and private addresses whatever the name).
 *
 * A pattern is either
 * - a host name: lower case, at least two labels (`github.com`), each label 1..63 of `a-z 0-9 -`, not
 *   starting or ending with `-`; the last label not all digits (so no IPv4 literal, in any notation);
 *   at most 253 characters; no trailing dot, no port, no `localhost` name; or
 * - `*.` followed by such a name: any subdomain of it, at any depth, but not the name itself.
 */

/** Longest host name (RFC 1035), characters, without a trailing dot. */
export const MAX_HOST_NAME_LENGTH = 253;

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `name` is a host name by the rules above (no wildcard). */
function validHostName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_HOST_NAME_LENGTH) return false;
  const labels = name.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return false;
  const last = labels[labels.length - 1]!;
  if (/^[0-9]+$/.test(last)) return false; // an IPv4 literal (or a top-level domain no registry issues)
  return last !== 'localhost';
}

/**
 * Whether `pattern` is a valid allowlist entry: a host name, or `*.` and a host name (see the module
 * comment). Upper case, ports, IP literals (v4 or v6), `*` alone, `*.com`-style one-label suffixes,
 * inner wildcards (`a.*.com`), whitespace and more than 253 characters are all refused.
 */
export function validHostPattern(pattern: string): boolean {
  if (pattern.length > MAX_HOST_NAME_LENGTH) return false;
  return pattern.startsWith('*.') ? validHostName(pattern.slice(2)) : validHostName(pattern);
}

/**
 * Whether `host` (a host name as a request names it, without port; any letter case, one trailing dot
 * allowed) is allowed by `patterns`: it equals a pattern, or a pattern is `*.suffix` and the host ends
 * with `.suffix` (so `*.example.com` allows `a.example.com` and `a.b.example.com`, not `example.com`).
 * Patterns are compared as given (they are stored lower case).
 */
export function hostMatches(patterns: readonly string[], host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name.length === 0) return false;
  return patterns.some((p) => (p.startsWith('*.') ? name.length > p.length - 1 && name.endsWith(p.slice(1)) : p === name));
}

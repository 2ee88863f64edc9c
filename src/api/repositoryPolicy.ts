/**
 * Which repositories a task may name: local paths only under the configured roots, and remote URLs
 * only of transports that run nothing on this machine (docs/PRODUCT.md#repositories).
 *
 * - A local path must resolve (after `..` and, where it exists, symlinks) to a place under one of the
 *   configured roots: no path traversal out of them.
 * - A remote URL must be `https://`, `ssh://`, `git://` or scp-like `user@host:path`. `git://` is git's
 *   own daemon protocol (`git daemon`): read-only, without credentials, and it runs no command on this
 *   machine. Everything else is refused, in particular `file://` (a way around the roots), git's
 *   `ext::` / `fd::` transports, which run commands, and plain `http://`.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';

export type RepositoryVerdict = { ok: true } | { ok: false; reason: string };

const REMOTE = /^(https:\/\/|ssh:\/\/|git:\/\/)[^\s]+$/i;
const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$/;

/** Resolves `p` through symlinks as far as it exists, then appends the part that does not exist yet. */
function resolveReal(p: string): string {
  const parts: string[] = [];
  let current = path.resolve(p);
  for (;;) {
    try {
      return path.join(realpathSync(current), ...parts.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return path.join(current, ...parts.reverse());
      parts.push(path.basename(current));
      current = parent;
    }
  }
}

/**
 * Checks `repository` against the policy.
 * @param roots absolute directories local repositories must be under.
 */
export function checkRepository(repository: string, roots: readonly string[]): RepositoryVerdict {
  if (REMOTE.test(repository) || SCP_LIKE.test(repository)) return { ok: true };
  if (/^[a-z][a-z0-9+.-]*:/i.test(repository) || repository.includes('::')) {
    return { ok: false, reason: 'only local paths under the configured roots, https://, ssh://, git:// and user@host:path repositories are allowed' };
  }
  if (!path.isAbsolute(repository)) return { ok: false, reason: 'a local repository must be an absolute path' };
  const real = resolveReal(repository);
  const allowed = roots.some((root) => {
    const r = resolveReal(root);
    return real === r || real.startsWith(r.endsWith(path.sep) ? r : `${r}${path.sep}`);
  });
  return allowed ? { ok: true } : { ok: false, reason: `local repositories must be under: ${roots.join(', ')}` };
}

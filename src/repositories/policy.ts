/**
 * Which repositories a task may name, and which ones git may read right now
 * (docs/SECURITY.md#repository-policy).
 *
 * The same rules hold twice: when a task is created ({@link checkRepository}, in the API, so a
 * refused repository is a 400 `repository_not_allowed`) and right before every git call that reads
 * the repository ({@link resolveRepositoryForUse}, in the worker), because what a local path points
 * to can change between the two.
 *
 * - Transports are an allowlist: `https://`, `ssh://`, scp-like `user@host:path`, absolute local
 *   paths, and `git://` only when the policy admits it. Everything else is refused: `file://` (a way
 *   around the roots), git's `ext::` / `fd::` and any other `x::` remote helper (they run commands),
 *   `http://`, relative paths, and anything with whitespace or control characters. A remote whose
 *   host (or user) begins with `-` is refused too (it would reach ssh as an option).
 * - A local path must resolve (after `..` and symlinks) to a place equal to or under one of the
 *   roots, and not equal to or inside a protected path (the sandboxes, the service's own checkout).
 * - At use time a local path must also exist and be a git repository that keeps its data to itself:
 *   a work tree whose `.git` is a real directory, or a bare repository; no `.git` file or symlink
 *   (a `gitdir:` redirect), no `objects/info/alternates`, no `commondir`.
 *
 * Pure but for file-system reads (`realpath`, `lstat`).
 */
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';

/** The repository policy, from configuration (src/config.ts). */
export interface RepositoryPolicy {
  /** Absolute directories local repositories must be under (REPOSITORY_ROOTS). */
  roots: readonly string[];
  /** Absolute directories refused whatever `roots` say: the sandbox root and the service's checkout. */
  protectedPaths: readonly string[];
  /** Whether `git://` URLs are admitted (REPOSITORY_ALLOW_GIT_PROTOCOL). */
  allowGitProtocol: boolean;
}

/** The create-time verdict; `reason` is one sentence, shown to the user as the 400's message. */
export type RepositoryVerdict = { ok: true } | { ok: false; reason: string };

/**
 * The use-time verdict. `target` is what git is handed: a remote URL unchanged, or the resolved real
 * path of a local repository (the path that was checked, not the one the task named). `notFound` marks
 * a local path that does not exist (now), so the caller can report "not found" rather than "not allowed".
 */
export type UseVerdict = { ok: true; target: string } | { ok: false; reason: string; notFound?: true };

type Refusal = { ok: false; reason: string };

const refuse = (reason: string): Refusal => ({ ok: false, reason });

const TRANSPORTS = 'only https://, ssh://, user@host:path and absolute local paths under the configured roots are allowed';

/** Control characters (NUL, newlines, tabs, DEL...): never part of a repository git should be given. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/** `scheme://authority/rest`, lowercase scheme only (git matches its built-in schemes case-sensitively). */
const URL_FORM = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(\/.*)?$/;
/** user@host:path where no `/` comes before the `:` (git's scp-like syntax). */
const SCP_FORM = /^([^@/:]+)@([^/:]+):(.+)$/;
const USER = /^[A-Za-z0-9._~%+-]+(:[^@/]*)?$/;
const HOST = /^([A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])$/;

/** Where `repository` is local (an absolute path) or remote (an allowed URL); a refusal otherwise. */
type Classified = { kind: 'local'; path: string } | { kind: 'remote' } | Refusal;

function classify(repository: string, policy: RepositoryPolicy): Classified {
  if (repository.length === 0) return refuse('the repository is empty');
  if (CONTROL.test(repository)) return refuse('the repository contains control characters (such as NUL or a newline)');
  if (repository.startsWith('/')) return { kind: 'local', path: repository };

  if (/^[A-Za-z0-9][A-Za-z0-9+.-]*::/.test(repository)) return refuse(`git remote helpers (such as ext:: and fd::) are not allowed: ${TRANSPORTS}`);
  if (/\s/.test(repository)) return refuse('a repository URL must not contain whitespace');
  const url = URL_FORM.exec(repository);
  if (url) {
    const [, scheme, authority] = url;
    if (scheme === 'git' && !policy.allowGitProtocol) return refuse('git:// repositories are not enabled on this service; use https:// or ssh://');
    if (scheme !== 'https' && scheme !== 'ssh' && scheme !== 'git') return refuse(`${scheme}:// repositories are not allowed: ${TRANSPORTS}`);
    return checkAuthority(authority);
  }
  const scp = SCP_FORM.exec(repository);
  if (scp) {
    const [, user, host, rest] = scp;
    if (user.startsWith('-') || host.startsWith('-')) return refuse('a repository host or user must not begin with "-"');
    if (!USER.test(user) || !HOST.test(host)) return refuse('the repository is not a valid user@host:path address');
    if (rest.startsWith('-')) return refuse('a repository path must not begin with "-"');
    return { kind: 'remote' };
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(repository)) return refuse(`this kind of repository address is not allowed: ${TRANSPORTS}`);
  return refuse('a local repository must be an absolute path');
}

/** `[user[:password]@]host[:port]` of an allowed URL. */
function checkAuthority(authority: string): Classified {
  const at = authority.lastIndexOf('@');
  const user = at >= 0 ? authority.slice(0, at) : undefined;
  const hostPort = authority.slice(at + 1);
  const host = /^(.*?)(:\d*)?$/.exec(hostPort)?.[1] ?? hostPort;
  if (authority.startsWith('-') || host.startsWith('-')) return refuse('a repository host or user must not begin with "-"');
  if (!HOST.test(host) || (user !== undefined && !USER.test(user))) return refuse('the repository URL does not name a valid host');
  return { kind: 'remote' };
}

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

/** Whether `p` is `dir` or inside it (both absolute and normalized). */
function isWithin(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : `${dir}${path.sep}`);
}

/**
 * The roots and protected-paths rules for a local path: `real` is the path resolved through
 * symlinks, `named` the path as the task named it (only normalized).
 */
function checkPlace(named: string, real: string, policy: RepositoryPolicy): Refusal | undefined {
  const isProtected = policy.protectedPaths.some((p) => {
    const forms = [path.resolve(p), resolveReal(p)];
    return forms.some((dir) => isWithin(real, dir) || isWithin(named, dir));
  });
  if (isProtected) return refuse("the repository is inside the service's own data (its sandboxes or its checkout)");
  if (!policy.roots.some((root) => isWithin(real, resolveReal(root)))) {
    return refuse(`local repositories must be under: ${policy.roots.join(', ') || '(no root is configured)'}`);
  }
  return undefined;
}

/**
 * The create-time check, run by the API on `POST /v1/tasks`: the transport allowlist and, for a local
 * path, the roots and protected paths, with the path resolved through symlinks as far as it exists
 * now (a path that does not exist yet is allowed if its place is).
 * Rules: docs/SECURITY.md#repository-policy.
 * @returns `{ ok: true }`, or `{ ok: false, reason }` with a one-sentence reason for the user
 *   (the API answers 400 `repository_not_allowed` with it). Never throws.
 */
export function checkRepository(repository: string, policy: RepositoryPolicy): RepositoryVerdict {
  const c = classify(repository, policy);
  if ('ok' in c) return c;
  if (c.kind === 'remote') return { ok: true };
  return checkPlace(path.resolve(c.path), resolveReal(c.path), policy) ?? { ok: true };
}

/** lstat, or undefined when nothing is there; other errors (permissions...) are thrown. */
function lstatOrNone(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Whether `dir` is shaped like a git directory: `HEAD` a regular file, `objects/` and `refs/` directories, none a symlink. */
function isGitDir(dir: string): boolean {
  return !!lstatOrNone(path.join(dir, 'HEAD'))?.isFile() && !!lstatOrNone(path.join(dir, 'objects'))?.isDirectory() && !!lstatOrNone(path.join(dir, 'refs'))?.isDirectory();
}

/** The repository checks on an existing real directory: a refusal, or undefined when git may read it. */
function checkGitRepository(real: string): Refusal | undefined {
  if (!lstatOrNone(real)?.isDirectory()) return refuse('the repository is not a directory');
  const dotGit = lstatOrNone(path.join(real, '.git'));
  let gitDir: string;
  if (dotGit) {
    if (dotGit.isSymbolicLink()) return refuse("the repository's .git is a symlink, which is not allowed");
    if (!dotGit.isDirectory()) return refuse('the repository\'s .git is not a directory (a "gitdir:" file pointing elsewhere is not allowed)');
    gitDir = path.join(real, '.git');
  } else {
    gitDir = real;
  }
  if (!isGitDir(gitDir))
    return refuse(dotGit ? "the repository's .git is not a valid git directory" : 'the repository is not a git repository (no .git directory, and not a bare repository)');
  if (lstatOrNone(path.join(gitDir, 'objects', 'info', 'alternates')))
    return refuse('the repository borrows objects from elsewhere (objects/info/alternates), which is not allowed');
  if (lstatOrNone(path.join(gitDir, 'commondir'))) return refuse('the repository is a linked worktree sharing another repository (commondir), which is not allowed');
  return undefined;
}

/**
 * The use-time check, run by the worker right before every git call that reads the repository
 * (ls-remote, clone). Remote URLs: the transport rules of {@link checkRepository}. Local paths:
 * everything {@link checkRepository} checks, evaluated now on the path's real location (which must
 * exist), and then that it is a git repository whose data is its own: a work tree whose `.git` is a
 * real directory, or a bare repository (`HEAD` file, `objects/` and `refs/` directories, no symlinks);
 * a `.git` file (`gitdir:`) or symlink, `objects/info/alternates` or `commondir` is refused.
 * Rules: docs/SECURITY.md#repository-policy.
 * @returns `{ ok: true, target }` — hand git `target` (the URL unchanged, or the checked real path),
 *   not `repository`; `{ ok: false, reason, notFound: true }` when a local path does not exist;
 *   `{ ok: false, reason }` when the repository is not allowed (or cannot be inspected). Never throws.
 */
export function resolveRepositoryForUse(repository: string, policy: RepositoryPolicy): UseVerdict {
  const c = classify(repository, policy);
  if ('ok' in c) return c;
  if (c.kind === 'remote') return { ok: true, target: repository };
  const named = path.resolve(c.path);
  let real: string;
  try {
    real = realpathSync(named);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, reason: `repository ${repository} does not exist`, notFound: true };
    return refuse(`repository ${repository} cannot be resolved (${code ?? 'error'})`);
  }
  const place = checkPlace(named, real, policy);
  if (place) return place;
  try {
    return checkGitRepository(real) ?? { ok: true, target: real };
  } catch (err) {
    return refuse(`repository ${repository} cannot be inspected (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

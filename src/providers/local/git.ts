/**
 * Git operations of the local provider, through simple-git (argument arrays; nothing reaches a shell).
 *
 * Calls that reach a remote (`ls-remote`, `clone`) run non-interactively (`GIT_TERMINAL_PROMPT=0`; no
 * askpass program, as simple-git strips the ambient `GIT_ASKPASS` / `SSH_ASKPASS`) and under a time
 * limit, and their failures are classified by {@link classifyGitFailure}: a remote that cannot be
 * reached right now is a retryable `ProviderUnavailable`, a repository that is not there or may not be
 * read is the final `RepositoryNotFound`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { ProviderError } from '../types';
import { classifyGitFailure } from './gitErrors';

/** Limit of one `git ls-remote`, in ms (it prints nothing until it has the refs); below the naming step's 60 s. */
export const LS_REMOTE_TIMEOUT_MS = 30_000;
/** Limit of a `git clone` without any progress output, in ms (clone runs with `--progress`, so this catches a stall, not a big repository). */
export const CLONE_STALL_TIMEOUT_MS = 60_000;

export interface GitRemoteOptions {
  /**
   * Time limit in ms: for ls-remote the whole call, for clone the longest stretch without output.
   * Defaults: {@link LS_REMOTE_TIMEOUT_MS}, {@link CLONE_STALL_TIMEOUT_MS}. A call past it is killed and
   * fails as a retryable `ProviderUnavailable` ("timed out").
   */
  timeoutMs?: number;
}

/**
 * Variables simple-git refuses when they are passed explicitly (every `GIT_*`, editors, pagers,
 * askpass programs); it strips the same ones from the ambient environment, so dropping them here
 * changes nothing for git.
 */
const GUARDED_ENV = /^(git_.*|editor|visual|pager|prefix|ssh_askpass)$/i;

/** simple-git for a call that talks to a remote: no prompts, killed after `timeoutMs` without output. */
function remoteGit(timeoutMs: number): SimpleGit {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !GUARDED_ENV.test(key)) env[key] = value;
  }
  env.GIT_TERMINAL_PROMPT = '0';
  return simpleGit({ timeout: { block: timeoutMs }, allowEnvironment: ['GIT_TERMINAL_PROMPT'] }).env(env);
}

/**
 * The ProviderError for a failed remote call on `repository`, with git's error as its `cause`:
 * `ProviderUnavailable` (retryable) "repository R cannot be reached: <reason>" for a transient failure,
 * `RepositoryNotFound` (final) "repository R cannot be read: <reason>" otherwise.
 */
function remoteFailure(repository: string, err: unknown): ProviderError {
  const failure = classifyGitFailure(err instanceof Error ? err.message : String(err));
  return failure.kind === 'transient'
    ? new ProviderError('ProviderUnavailable', `repository ${repository} cannot be reached: ${failure.reason}`, true, { cause: err })
    : new ProviderError('RepositoryNotFound', `repository ${repository} cannot be read: ${failure.reason}`, false, { cause: err });
}

/**
 * Branch names of `repository` (a path or URL git can read), from `git ls-remote --heads`.
 * @throws ProviderError `RepositoryNotFound` (not retryable) when the repository does not exist or
 *   may not be read; `ProviderUnavailable` (retryable) when its remote cannot be reached now
 *   (refused, reset, DNS failure, HTTP 5xx, time limit, any failure git words otherwise).
 */
export async function listRemoteBranches(repository: string, opts: GitRemoteOptions = {}): Promise<string[]> {
  let out: string;
  try {
    out = await remoteGit(opts.timeoutMs ?? LS_REMOTE_TIMEOUT_MS).listRemote(['--heads', '--', repository]);
  } catch (err) {
    throw remoteFailure(repository, err);
  }
  return out
    .split('\n')
    .map((line) => line.split('\t')[1])
    .filter((ref): ref is string => !!ref && ref.startsWith('refs/heads/'))
    .map((ref) => ref.slice('refs/heads/'.length));
}

/**
 * Ensures `dir` holds a clone of `repository` with `branchName` checked out.
 * A finished clone is reused (the clone is made in a temporary sibling directory and renamed into
 * place, so `dir` never holds a half-made clone, and a failed clone leaves no directory behind). The
 * branch is created from the clone's default branch when it does not exist yet, and left as it is when
 * it does (work on it is kept).
 * @param onProgress called with `cloning` / `checking_out` before each long part.
 * @throws ProviderError from cloning as {@link listRemoteBranches} does; `SandboxBroken` (retryable)
 *   when the checkout fails.
 */
export async function ensureCheckout(
  repository: string,
  dir: string,
  branchName: string,
  onProgress: (subStep: string, message: string) => Promise<void>,
  opts: GitRemoteOptions = {},
): Promise<void> {
  if (!(await isGitCheckout(dir))) {
    await onProgress('cloning', `cloning ${repository}`);
    const partial = `${dir}.partial-${process.pid}-${Date.now()}`;
    await fs.mkdir(path.dirname(dir), { recursive: true });
    try {
      // simple-git places the options before the positionals: `git clone --no-hardlinks --progress -- <repository> <partial>`.
      await remoteGit(opts.timeoutMs ?? CLONE_STALL_TIMEOUT_MS).clone(repository, partial, ['--no-hardlinks', '--progress', '--']);
    } catch (err) {
      await fs.rm(partial, { recursive: true, force: true });
      throw remoteFailure(repository, err);
    }
    await fs.rename(partial, dir);
  }
  await onProgress('checking_out', `checking out ${branchName}`);
  const git = simpleGit(dir);
  try {
    const current = (await git.revparse(['--abbrev-ref', 'HEAD']).catch(() => '')).trim();
    if (current === branchName) return;
    const local = await git.branchLocal();
    if (local.all.includes(branchName)) await git.checkout(branchName);
    else await git.checkout(['-b', branchName, '--']);
  } catch (err) {
    throw new ProviderError('SandboxBroken', `checking out ${branchName} failed: ${firstLine(err)}`, true, { cause: err });
  }
}

/** The branch checked out in `dir`. */
export async function currentBranch(dir: string): Promise<string> {
  return (await simpleGit(dir).revparse(['--abbrev-ref', 'HEAD'])).trim();
}

async function isGitCheckout(dir: string): Promise<boolean> {
  try {
    await fs.access(path.join(dir, '.git'));
    return true;
  } catch {
    return false;
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).trim().split('\n')[0] ?? 'unknown error';
}

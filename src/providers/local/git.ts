/**
 * Git operations of the local provider, through simple-git (argument arrays; nothing reaches a shell).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import { ProviderError } from '../types';

/**
 * Branch names of `repository` (a path or URL git can read), from `git ls-remote --heads`.
 * @throws ProviderError `RepositoryNotFound` (not retryable) when git cannot read it.
 */
export async function listRemoteBranches(repository: string): Promise<string[]> {
  let out: string;
  try {
    out = await simpleGit().listRemote(['--heads', '--', repository]);
  } catch (err) {
    throw new ProviderError('RepositoryNotFound', `repository ${repository} cannot be read: ${firstLine(err)}`, false, { cause: err });
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
 * place, so `dir` never holds a half-made clone). The branch is created from the clone's default
 * branch when it does not exist yet, and left as it is when it does (work on it is kept).
 * @param onProgress called with `cloning` / `checking_out` before each long part.
 */
export async function ensureCheckout(
  repository: string,
  dir: string,
  branchName: string,
  onProgress: (subStep: string, message: string) => Promise<void>,
): Promise<void> {
  if (!(await isGitCheckout(dir))) {
    await onProgress('cloning', `cloning ${repository}`);
    const partial = `${dir}.partial-${process.pid}-${Date.now()}`;
    await fs.mkdir(path.dirname(dir), { recursive: true });
    try {
      await simpleGit().clone(repository, partial, ['--no-hardlinks']);
    } catch (err) {
      await fs.rm(partial, { recursive: true, force: true });
      throw new ProviderError('RepositoryNotFound', `cloning ${repository} failed: ${firstLine(err)}`, false, { cause: err });
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

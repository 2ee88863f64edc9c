/**
 * Git operations of the local provider, through simple-git (argument arrays; nothing reaches a shell).
 *
 * The host runs git only on what it made itself or on the repository a task named, after the
 * repository policy checked it again (src/repositories/policy.ts): `ls-remote`, and `clone` into a
 * directory no sandbox has seen yet, followed by the first checkout there. Every such call gets
 * hardened configuration ({@link hardenedConfig}: no hooks, no fsmonitor, no credential helper, only
 * the allowed transports) and an environment without the service's secrets. Once a sandbox could have
 * touched its checkout, git there runs inside the sandbox ({@link checkoutInside}), never on the host
 * (docs/SECURITY.md#host-trust).
 *
 * Calls that reach a remote (`ls-remote`, `clone`) run non-interactively (`GIT_TERMINAL_PROMPT=0`; no
 * askpass program, as simple-git strips the ambient `GIT_ASKPASS` / `SSH_ASKPASS`) and under a time
 * limit, and their failures are classified by {@link classifyGitFailure}: a remote that cannot be
 * reached right now is a retryable `ProviderUnavailable`, a repository that is not there or may not be
 * read is the final `RepositoryNotFound`.
 */
import { promises as fs } from 'node:fs';
import { simpleGit, type SimpleGit } from 'simple-git';
import { StringDecoder } from 'node:string_decoder';
import { ProviderError, type ProgressFn } from '../types';
import { classifyGitFailure } from './gitErrors';
import { runTool } from '../../confinement/toolRunner';

/** Limit of one `git ls-remote`, in ms (it prints nothing until it has the refs); below the naming step's 60 s. */
export const LS_REMOTE_TIMEOUT_MS = 30_000;
/** Limit of a `git clone` without any progress output, in ms (clone runs with `--progress`, so this catches a stall, not a big repository). */
export const CLONE_STALL_TIMEOUT_MS = 60_000;

export interface GitRemoteOptions {
  /**
   * Transports git may use beyond https, ssh and local paths: `git` when REPOSITORY_ALLOW_GIT_PROTOCOL
   * is set (tests of git's own HTTP answers add `http` for a server on 127.0.0.1). Default none.
   */
  extraProtocols?: readonly string[];
  /**
   * Time limit in ms: for ls-remote the whole call, for clone the longest stretch without output.
   * Defaults: {@link LS_REMOTE_TIMEOUT_MS}, {@link CLONE_STALL_TIMEOUT_MS}. A call past it is killed and
   * fails as a retryable `ProviderUnavailable` ("timed out").
   */
  timeoutMs?: number;
}

/**
 * The only variables of the worker's environment host git gets: what finding programs, the locale
 * and ssh keys need. Nothing of the service's own (API_TOKENS, DATABASE_URL, TEMPORAL_*, ...).
 */
const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'SSH_AUTH_SOCK'];

/**
 * Where git looks for hooks: `/dev/null` is not a directory, so no hook can exist there and none ever
 * runs. (An empty directory of our own would have to be made, and one in the shared /tmp could be made
 * first, with hooks in it, by any local user.)
 */
const NO_HOOKS = '/dev/null';

/**
 * `-c` settings of every host git call: no hook runs, no fsmonitor program, no credential helper
 * (the list is reset; a task asks for none), and only the transports the repository policy admits
 * (also for redirects), plus `extraProtocols`.
 */
function hardenedConfig(extraProtocols: readonly string[]): string[] {
  return [
    `core.hooksPath=${NO_HOOKS}`,
    'core.fsmonitor=false',
    'credential.helper=',
    'protocol.allow=never',
    'protocol.https.allow=always',
    'protocol.ssh.allow=always',
    'protocol.file.allow=always', // local paths (the policy refuses file:// URLs before git runs)
    ...extraProtocols.map((p) => `protocol.${p}.allow=always`),
  ];
}

/** {@link hardenedConfig} as git's leading `-c` arguments, for a host git call not made through simple-git. */
function hardenedArgs(extraProtocols: readonly string[]): string[] {
  return hardenedConfig(extraProtocols).flatMap((c) => ['-c', c]);
}

/** The environment of a host git call: no prompts, and only {@link PASSED_ENV} of the worker's. */
function hostGitEnvironment(): Record<string, string> {
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  for (const key of PASSED_ENV) if (process.env[key] !== undefined) env[key] = process.env[key]!;
  return env;
}

/**
 * simple-git for a host call: hardened, no prompts, a small environment, killed after `timeoutMs`
 * without output; with `output`, every command's stderr (git's progress) goes there as it arrives.
 */
function hostGit(timeoutMs: number, extraProtocols: readonly string[], baseDir?: string, output?: ProgressFn['output']): SimpleGit {
  const env = hostGitEnvironment();
  const git = simpleGit({
    baseDir,
    timeout: { block: timeoutMs },
    config: hardenedConfig(extraProtocols),
    allowEnvironment: ['GIT_TERMINAL_PROMPT'],
    // These switches let simple-git pass our own, safer values of settings it guards.
    unsafe: { allowUnsafeHooksPath: true, allowUnsafeFsMonitor: true, allowUnsafeCredentialHelper: true, allowUnsafeProtocolOverride: true },
  }).env(env);
  if (output) {
    git.outputHandler((_command, _stdout, stderr) => {
      const decoder = new StringDecoder('utf8'); // a chunk may end inside a character
      stderr.on('data', (chunk: Buffer) => output('git', decoder.write(chunk)));
    });
  }
  return git;
}

/**
 * The ProviderError for a failed remote call on `repository`, with git's error as its `cause`:
 * `ProviderUnavailable` (retryable) "repository R cannot be reached: <reason>" for a transient failure,
 * `SandboxDiskFull` (final) "repository R does not fit in the sandbox: …" when the clone ran out of the
 * sandbox's disk, `RepositoryNotFound` (final) "repository R cannot be read: <reason>" otherwise.
 */
function remoteFailure(repository: string, err: unknown): ProviderError {
  const failure = classifyGitFailure(err instanceof Error ? err.message : String(err));
  if (failure.kind === 'disk_full') {
    return new ProviderError('SandboxDiskFull', `repository ${repository} does not fit in the sandbox: ${failure.reason} (SANDBOX_DISK_MB)`, false, { cause: err });
  }
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
export async function listRemoteBranches(repository: string, opts: GitRemoteOptions = {}, progress?: ProgressFn): Promise<string[]> {
  // Every task's naming step: started by the host-tool runner, not forked from the worker.
  let result;
  try {
    result = await runTool(
      'git',
      [...hardenedArgs(opts.extraProtocols ?? []), 'ls-remote', '--heads', '--', repository],
      hostGitEnvironment(),
      opts.timeoutMs ?? LS_REMOTE_TIMEOUT_MS,
    );
  } catch (err) {
    throw remoteFailure(repository, err);
  }
  if (result.stderr) progress?.output?.('git', result.stderr);
  if (result.code !== 0) throw remoteFailure(repository, new Error(result.code === null ? 'git ls-remote timed out' : result.stderr || `git ls-remote exited with ${result.code}`));
  return result.stdout
    .split('\n')
    .map((line) => line.split('\t')[1])
    .filter((ref): ref is string => !!ref && ref.startsWith('refs/heads/'))
    .map((ref) => ref.slice('refs/heads/'.length));
}

/**
 * Clones `repository` (a URL, or a local path the repository policy resolved) into `dir`, which must
 * not exist, and checks out `branchName` there: the repository's branch of that name when it has one, else
 * a new branch from the clone's default branch; null keeps the default branch (a warm pool member, whose
 * task is not known yet). Only for a directory no sandbox has seen; a failed clone leaves no `dir` behind.
 * @param onProgress called with `cloning` / `checking_out` before each part; git's own output (clone
 *   progress, checkout messages) goes to its `output` as it arrives.
 * @throws ProviderError from cloning as {@link listRemoteBranches} does; `SandboxBroken` (retryable)
 *   when the checkout fails.
 */
export async function cloneAndCheckout(repository: string, dir: string, branchName: string | null, onProgress: ProgressFn, opts: GitRemoteOptions = {}): Promise<void> {
  await onProgress('cloning', `cloning ${repository}`);
  try {
    // simple-git places the options before the positionals: `git clone --no-hardlinks --progress -- <repository> <dir>`.
    await hostGit(opts.timeoutMs ?? CLONE_STALL_TIMEOUT_MS, opts.extraProtocols ?? [], undefined, onProgress.output).clone(repository, dir, ['--no-hardlinks', '--progress', '--']);
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw remoteFailure(repository, err);
  }
  if (branchName === null) return;
  await onProgress('checking_out', `checking out ${branchName}`);
  const git = hostGit(CLONE_STALL_TIMEOUT_MS, [], dir, onProgress.output);
  try {
    // The task's branch starts from the default branch (the naming step made sure the repository had no
    // branch of that name), unless the repository has it now: a fresh sandbox for a task whose work
    // was pushed (a retry after its sandbox host was lost) goes on from what was pushed.
    // One git process says both whether the clone is on the branch already and whether the repository has it.
    const refs = (await git.raw(['branch', '--all', '--list', '--format=%(HEAD)%(refname)', '--', branchName, `origin/${branchName}`])).split('\n');
    const current = refs.includes(`*refs/heads/${branchName}`);
    const pushed = refs.includes(` refs/remotes/origin/${branchName}`);
    if (!current) await git.checkout(pushed ? ['-b', branchName, '--track', `origin/${branchName}`, '--'] : ['-b', branchName, '--']);
  } catch (err) {
    throw new ProviderError('SandboxBroken', `checking out ${branchName} failed: ${firstLine(err)}`, true, { cause: err });
  }
}

/** The commit checked out in `dir`, a checkout the host made and no sandbox has seen (a warm member's fresh clone). */
export async function headCommit(dir: string): Promise<string> {
  return (await hostGit(LS_REMOTE_TIMEOUT_MS, [], dir).revparse(['HEAD'])).trim();
}

/**
 * Writes to `file` a git bundle of the branches of `repository` (a local path the repository policy
 * resolved; host git reads it as it does for a clone) with the commits `base` does not reach: what a
 * warm member cloned at `base` lacks. A `base` the repository no longer has (history rewritten) gives
 * a bundle of every branch.
 * @returns false when there is nothing new (no file is written).
 * @throws ProviderError as {@link listRemoteBranches} does for a failure to read the repository.
 */
export async function bundleBranchesSince(repository: string, file: string, base: string | null, opts: GitRemoteOptions = {}): Promise<boolean> {
  // On a task's critical path (a claim): started by the host-tool runner, not forked from the worker;
  // the same hardened settings and environment as every host git call.
  const create = (since: string | null) =>
    runTool(
      'git',
      [...hardenedArgs(opts.extraProtocols ?? []), 'bundle', 'create', file, '--branches', ...(since ? ['--not', since] : [])],
      hostGitEnvironment(),
      opts.timeoutMs ?? CLONE_STALL_TIMEOUT_MS,
      repository,
    );
  const first = await create(base && /^[0-9a-f]{40,64}$/.test(base) ? base : null);
  if (first.code === 0) return true;
  if (first.stderr.includes('Refusing to create empty bundle')) return false;
  if (!base || !/bad object|bad revision|unknown revision/.test(first.stderr)) throw remoteFailure(repository, new Error(first.stderr || `git bundle exited with ${first.code}`));
  const all = await create(null);
  if (all.code !== 0) throw remoteFailure(repository, new Error(all.stderr || `git bundle exited with ${all.code}`));
  return true;
}

/** Runs a program inside the sandbox the checkout belongs to (its confinement's runInside). */
export type InsideRunner = (command: string, args: readonly string[], timeoutMs: number) => Promise<{ code: number | null; stdout: string; stderr: string }>;

/**
 * Script run inside the sandbox by {@link checkoutInside}: `$1` is the branch. Leaves a checkout on
 * the branch as it is (its work is kept), switches to it when it exists, creates it otherwise.
 */
const CHECKOUT_SCRIPT = [
  'set -e',
  'current=$(git rev-parse --abbrev-ref HEAD 2>/dev/null || true)',
  'if [ "$current" = "$1" ]; then exit 0; fi',
  'if git show-ref --verify --quiet "refs/heads/$1"; then exec git checkout "$1" --; fi',
  'exec git checkout -b "$1" --',
].join('\n');

/**
 * Script run inside a claimed warm pool member (see {@link checkoutInside} `bundle`): `$1` is the
 * branch, `$2` a bundle of the repository's new commits (mounted read-only) or empty. A checkout on the
 * branch already (a retried step) is left as it is. Otherwise the bundle's branches are fetched as
 * `origin`'s, then the branch is checked out: tracking the repository's branch of that name when it
 * has one (work pushed by an earlier sandbox of the task), else new from the repository's default
 * branch as it is now.
 */
const CLAIM_CHECKOUT_SCRIPT = [
  'set -e',
  'current=$(git rev-parse --abbrev-ref HEAD 2>/dev/null || true)',
  'if [ "$current" = "$1" ]; then exit 0; fi',
  'if [ -n "$2" ]; then git fetch --quiet --no-tags "$2" "+refs/heads/*:refs/remotes/origin/*"; fi',
  'if git show-ref --verify --quiet "refs/remotes/origin/$1"; then exec git checkout -b "$1" --track "origin/$1" --; fi',
  'exec git checkout --no-track -b "$1" "$(git rev-parse --verify --quiet origin/HEAD || git rev-parse HEAD)" --',
].join('\n');

/**
 * Puts an existing checkout on `branchName`, with git run inside the sandbox through `runInside` (as
 * the sandbox's uid, under its limits, without network): the checkout may hold hooks, config or
 * files the sandbox wrote, so the host's own git never runs there.
 * @param claim set for a claimed warm pool member's checkout: `bundle` is the path (as the sandbox sees
 *   it; the runner mounts it) of {@link bundleBranchesSince}'s bundle, or null when there is nothing to
 *   fetch; the branch then starts from the repository's default branch as the bundle has it.
 * @throws ProviderError `SandboxBroken` (retryable) when git fails inside.
 */
export async function checkoutInside(runInside: InsideRunner, branchName: string, onProgress: ProgressFn, claim?: { bundle: string | null }): Promise<void> {
  await onProgress('checking_out', claim?.bundle ? `fetching and checking out ${branchName} inside the sandbox` : `checking out ${branchName} inside the sandbox`);
  let result;
  try {
    const args = claim ? ['-c', CLAIM_CHECKOUT_SCRIPT, 'checkout', branchName, claim.bundle ?? ''] : ['-c', CHECKOUT_SCRIPT, 'checkout', branchName];
    result = await runInside('sh', args, CLONE_STALL_TIMEOUT_MS);
  } catch (err) {
    throw new ProviderError('SandboxBroken', `checking out ${branchName} failed: ${firstLine(err)}`, true, { cause: err });
  }
  // git's messages from inside the sandbox: text the sandbox controls, cleaned like any log line.
  onProgress.output?.('git', result.stderr);
  if (result.code !== 0) {
    const reason = result.code === null ? 'timed out' : firstLine(result.stderr || `exit code ${result.code}`);
    throw new ProviderError('SandboxBroken', `checking out ${branchName} failed: ${reason}`, true);
  }
}

/** The branch checked out in `dir` (for tests and tools on checkouts the host made). */
export async function currentBranch(dir: string): Promise<string> {
  return (await hostGit(LS_REMOTE_TIMEOUT_MS, [], dir).revparse(['--abbrev-ref', 'HEAD'])).trim();
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).trim().split('\n')[0] ?? 'unknown error';
}

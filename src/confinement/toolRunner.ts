/**
 * Starting the host's confinement tools from a small long-lived helper process instead of the worker.
 *
 * Every `child_process` spawn forks the calling process: from the worker (about 500 MB resident, with
 * the Temporal SDK, Prisma and the workflow bundle) a fork costs milliseconds of page-table copying,
 * and a sandbox set-up runs a dozen tools. The helper (./toolRunner.helper.cjs, plain Node with
 * nothing else loaded) is forked once and starts them instead; the worker only exchanges one IPC
 * message each way per tool. Argument arrays only, never a shell.
 *
 * The helper is started on first use and again after it dies (requests in flight then fail, as a
 * tool that died would). Detached processes it starts (socat forwarders) live in their own session
 * and outlive it, as they outlived the worker before.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

interface Answer {
  id: number;
  ok: boolean;
  stdout?: string;
  stderr?: string;
  code?: number | null;
  pid?: number;
  message?: string;
}

/** A tool that could not start, exited non-zero or ran out of time: its stderr and the runner's message. */
export class ToolRunError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'ToolRunError';
  }
}

const HELPER = path.join(__dirname, 'toolRunner.helper.cjs');
let helper: ChildProcess | null = null;
let nextId = 1;
const pending = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>();

function runner(): ChildProcess {
  if (helper?.connected) return helper;
  // execArgv: [] so the helper does not inherit the worker's loader or flags (it is plain JavaScript).
  const child = fork(HELPER, [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json' });
  child.on('message', (a: Answer) => {
    pending.get(a.id)?.resolve(a);
    pending.delete(a.id);
    holdOpen(child);
  });
  child.on('exit', () => {
    if (helper === child) helper = null;
    for (const [id, p] of pending) {
      p.reject(new ToolRunError('the host-tool runner exited', ''));
      pending.delete(id);
    }
  });
  child.on('error', () => undefined); // a failed send surfaces as 'exit' above
  child.unref(); // an idle runner never keeps the worker alive on its own
  helper = child;
  holdOpen(child);
  return child;
}

/** The IPC channel keeps the worker's event loop alive while an answer is awaited, and only then. */
function holdOpen(child: ChildProcess): void {
  const channel = child.channel as { ref?: () => void; unref?: () => void } | undefined;
  if (pending.size > 0) channel?.ref?.();
  else channel?.unref?.();
}

function ask(request: Record<string, unknown>): Promise<Answer> {
  const id = nextId++;
  return new Promise<Answer>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    const child = runner();
    holdOpen(child);
    child.send({ ...request, id }, (err) => {
      if (!err) return;
      pending.delete(id);
      reject(new ToolRunError(`the host-tool runner did not take the request: ${err.message}`, ''));
    });
  });
}

/**
 * Runs `file args` to its end with environment `env` and resolves with its stdout.
 * @throws ToolRunError when it cannot start, exits non-zero or runs past `timeoutMs` (then it is killed).
 */
export async function execTool(file: string, args: readonly string[], env: Record<string, string>, timeoutMs: number): Promise<string> {
  const a = await ask({ kind: 'exec', file, args, env, timeoutMs });
  if (!a.ok) throw new ToolRunError(a.message ?? 'failed', a.stderr ?? '');
  return a.stdout ?? '';
}

/** What {@link runTool} saw: the exit code (null when it was killed, e.g. on time) and the output. */
export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `file args` (in `cwd` when given) to its end with environment `env`; past `timeoutMs` it is
 * killed with SIGKILL. Unlike {@link execTool} a non-zero exit is an answer, not an error.
 * @throws ToolRunError only when it could not be started at all.
 */
export async function runTool(file: string, args: readonly string[], env: Record<string, string>, timeoutMs: number, cwd?: string): Promise<ToolResult> {
  const a = await ask({ kind: 'run', file, args, env, timeoutMs, cwd });
  if (!a.ok) throw new ToolRunError(a.message ?? 'could not be started', a.stderr ?? '');
  return { code: a.code ?? null, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
}

/**
 * Starts `file args` detached (own session, no stdio) and resolves with its pid once it runs.
 * @throws ToolRunError when it cannot be started.
 */
export async function spawnDetachedTool(file: string, args: readonly string[], env: Record<string, string>): Promise<number> {
  const a = await ask({ kind: 'spawnDetached', file, args, env });
  if (!a.ok || a.pid === undefined) throw new ToolRunError(a.message ?? 'could not be started', '');
  return a.pid;
}

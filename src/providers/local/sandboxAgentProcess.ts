/**
 * Process management for local sandbox-agent servers (sandbox-agent 0.4.2, the static binary from
 * `@sandbox-agent/cli-linux-x64`), and registration of the offline ACP agent this repo ships
 * (`agent/offline-acp-agent.js`).
 *
 * One server per sandbox: it runs detached (own session and process group) so it outlives the worker
 * process that started it; callers keep its pid and port and stop it with {@link stopSandboxAgent}.
 *
 * How the offline agent is registered (measured on 0.4.2, offline):
 * - sandbox-agent knows a fixed set of agents (claude, codex, opencode, amp, pi, cursor, mock); there
 *   is no API or config file to declare a new one. For an agent's ACP process it looks, in order, for
 *   a launcher at `$HOME/.local/share/sandbox-agent/bin/agent_processes/<id>-acp` ("resolved local
 *   launcher"), then for a binary hint on the server's PATH ("resolved PATH binary hint": `pi-acp`,
 *   `amp-acp`, `cursor-agent-acp`, `codex-acp`, `claude-code-acp`), and only then installs one from
 *   the ACP registry (`SANDBOX_AGENT_ACP_REGISTRY_URL`, default a CDN URL; fetches over HTTP and then
 *   runs npm or downloads archives, so it needs a served registry and packages: not a fit offline).
 * - Agents that need a native CLI as well (claude, codex, opencode) stay "not installed" with only an
 *   ACP process; pi (and amp, cursor) need only the ACP process.
 * - Chosen: an executable named `pi-acp` in a directory we put first on the server's PATH. The server
 *   then lists `pi` as installed (`GET /v1/agents`) and runs it for `POST /v1/acp/{id}?agent=pi`.
 *   This leaves sandbox-agent's own install tree under HOME untouched (that tree is where its real
 *   installs go, so writing into it would fake an install) and is undone by not passing the directory.
 *   The HOME launcher slot works too and takes precedence, so a real `pi` install in that HOME would
 *   win over ours.
 * - `SANDBOX_AGENT_REQUIRE_PREINSTALL=1` (set by default here) makes a session for an agent that is not
 *   installed fail at once with 404 `agent_not_installed` instead of trying a network install.
 * - `SANDBOX_AGENT_ACP_REQUEST_TIMEOUT_MS` (default 120000) bounds how long the server waits for an
 *   agent's answer to one request (then 504); raise it through `env` for long real-agent turns.
 *
 * Other measured behaviour: the server dies at once on SIGTERM (exit 143, no graceful shutdown);
 * a taken port makes it exit with code 1; agent processes are its children in its process group and
 * get EOF on stdin when it dies (the offline agent exits on that).
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants, existsSync, promises as fsp, openSync, closeSync, fstatSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { findFreePort } from '../../net/freePort';
import path from 'node:path';
import { directLauncher, type AgentLauncher } from '../../confinement/sandboxConfinement';
import { agentFetch, type AgentTarget } from './agentHttp';

/** The sandbox-agent agent id under which the offline agent is reported and launched. */
export const OFFLINE_AGENT_ID = 'pi';
/** The executable name sandbox-agent looks up on PATH for {@link OFFLINE_AGENT_ID}. */
export const OFFLINE_AGENT_EXECUTABLE = 'pi-acp';

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_HEALTH_TIMEOUT_MS = 10_000;
const HEALTH_POLL_MS = 50;
const PORT_ATTEMPTS = 4;
/** At most this much of a start's output is passed to `onOutput`, bytes (its start-up log, not a flood). */
const STARTUP_OUTPUT_MAX_BYTES = 64 * 1024;

/** Absolute path of the sandbox-agent binary shipped by `@sandbox-agent/cli-linux-x64`. Throws if not installed. */
export function resolveSandboxAgentBinary(): string {
  const pkg = require.resolve('@sandbox-agent/cli-linux-x64/package.json');
  return path.join(path.dirname(pkg), 'bin', 'sandbox-agent');
}

/** Absolute path of `agent/offline-acp-agent.js`, found by walking up from this file (works from src and dist). */
export function offlineAgentScriptPath(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'agent', 'offline-acp-agent.js');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`agent/offline-acp-agent.js not found above ${__dirname}`);
  }
}

/**
 * Puts the offline agent into `binDir` as an executable named `pi-acp` (a copy of the script, mode 0755,
 * replaced atomically so concurrent callers are safe). Pass the same `binDir` as `agentBinDir` to
 * {@link startSandboxAgent}; the server then reports agent {@link OFFLINE_AGENT_ID} as installed.
 * The script's `#!/usr/bin/env node` resolves to this Node, whose directory startSandboxAgent puts on PATH.
 * @returns `binDir`
 */
export async function installOfflineAgent(binDir: string): Promise<string> {
  await fsp.mkdir(binDir, { recursive: true });
  const target = path.join(binDir, OFFLINE_AGENT_EXECUTABLE);
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
  await fsp.copyFile(offlineAgentScriptPath(), tmp);
  await fsp.chmod(tmp, 0o755);
  await fsp.rename(tmp, target);
  return binDir;
}

export interface StartSandboxAgentOptions {
  /** HOME of the server: sandbox-agent keeps its agent installs under `$HOME/.local/share/sandbox-agent`. Created if missing. */
  home: string;
  /** Log directory (SANDBOX_AGENT_LOG_DIR). Created if missing. */
  logDir: string;
  /**
   * File the server's (and its launcher's) stdout and stderr are appended to; default
   * `<logDir>/sandbox-agent.out`. Opened by this process with O_NOFOLLOW: a confined sandbox passes a
   * file in its host-only directory, never one inside a directory the sandbox can write.
   */
  outputFile?: string;
  /**
   * Bearer token every route then requires, for a server on the host's loopback. Ignored (the server
   * runs with `--no-token`) when the launcher reaches it through a Unix socket: then no token exists to
   * show up on a command line.
   */
  token: string;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Binary to run; default {@link resolveSandboxAgentBinary}. */
  binaryPath?: string;
  /** Directory put first on the server's PATH, e.g. the one given to {@link installOfflineAgent}. */
  agentBinDir?: string;
  /** Set SANDBOX_AGENT_REQUIRE_PREINSTALL so sessions never try network installs; default true. */
  requirePreinstall?: boolean;
  /** Extra environment for the server (e.g. SANDBOX_AGENT_ACP_REQUEST_TIMEOUT_MS). */
  env?: Record<string, string>;
  /**
   * Receives what the server (and its launcher) write while it starts, as it arrives, up to 64 KiB per
   * attempt: text from inside the sandbox, for the task's provisioning log, which cleans it.
   */
  onOutput?: (text: string) => void;
  /** How long to wait for `/v1/health` per start attempt, in ms; default 10000. */
  healthTimeoutMs?: number;
  /**
   * How the server is launched: confined (src/confinement) or directly. Default: directly, with the
   * environment allowlist only.
   */
  launcher?: AgentLauncher;
}

export interface SandboxAgentServer extends AgentTarget {
  pid: number;
  port: number;
}

/**
 * Starts `sandbox-agent server --token <t> (or --no-token behind a launcher socket) --host <h> --port <p> --no-telemetry` detached, on a free
 * port, and resolves once `GET /v1/health` answers ok. If the server exits with code 1 before becoming
 * healthy (the port was taken between probing and binding) it retries on a new port, up to 4 attempts.
 * @throws Error if the binary cannot be started, exits early, or is not healthy within
 *   `healthTimeoutMs` (the process is killed in that case; the message names the log directory).
 */
export async function startSandboxAgent(opts: StartSandboxAgentOptions): Promise<SandboxAgentServer> {
  const host = opts.host ?? DEFAULT_HOST;
  const binary = opts.binaryPath ?? resolveSandboxAgentBinary();
  await fsp.access(binary, fsConstants.X_OK);

  // The server's whole environment: nothing of this process's own (API_TOKENS, DATABASE_URL, ...).
  const pathDirs = [opts.agentBinDir, path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'];
  const env: Record<string, string> = {
    HOME: opts.home,
    SANDBOX_AGENT_LOG_DIR: opts.logDir,
    PATH: pathDirs.filter((d): d is string => Boolean(d)).join(path.delimiter),
    ...(opts.requirePreinstall === false ? {} : { SANDBOX_AGENT_REQUIRE_PREINSTALL: '1' }),
    ...opts.env,
  };
  const launcher = opts.launcher ?? directLauncher({ passEnv: [] });

  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort(host);
    let result: StartAttempt;
    try {
      await launcher.prepare(port);
      // After prepare: a confined launcher has made these, owned by the sandbox's uid; these calls then
      // change nothing (made here first, they would be root's and the sandbox could not write them).
      await fsp.mkdir(opts.home, { recursive: true });
      await fsp.mkdir(opts.logDir, { recursive: true });
      result = await spawnAndWaitHealthy(binary, host, port, opts, env, launcher);
    } catch (err) {
      // A start that broke half-way (e.g. a kill removed the sandbox's files meanwhile) leaves nothing
      // of what prepare made: no pasta, forwarder, namespace or group outlives it.
      await launcher.abort().catch(() => undefined);
      throw err;
    }
    if (result.ok) return { pid: result.pid, port, ...result.target };
    if (result.exitCode === 1 && attempt < PORT_ATTEMPTS) continue;
    throw new Error(`sandbox-agent did not start on ${host}:${port}: ${result.reason} (logs in ${opts.logDir})`);
  }
}

type StartAttempt = { ok: true; pid: number; target: AgentTarget } | { ok: false; exitCode: number | null; reason: string };

async function spawnAndWaitHealthy(
  binary: string,
  host: string,
  port: number,
  opts: StartSandboxAgentOptions,
  env: Record<string, string>,
  launcher: AgentLauncher,
): Promise<StartAttempt> {
  // O_NOFOLLOW: a symlink in its place is refused (ELOOP), never followed.
  const flags = fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW;
  const outputFile = opts.outputFile ?? path.join(opts.logDir, 'sandbox-agent.out');
  const out = openSync(outputFile, flags, 0o600);
  let startOutput: OutputFollower | null;
  try {
    startOutput = opts.onOutput ? followOutput(outputFile, out, opts.onOutput) : null;
  } catch (err) {
    closeSync(out);
    throw err;
  }
  try {
    const auth = launcher.socketPath ? ['--no-token'] : ['--token', opts.token];
    const args = ['server', ...auth, '--host', host, '--port', String(port), '--no-telemetry'];
    const launch = launcher.command(binary, args, env);
    let child;
    try {
      child = spawn(launch.file, launch.args, { detached: true, stdio: ['ignore', out, out], env: launch.env, cwd: launch.cwd ?? opts.home });
    } finally {
      closeSync(out);
    }
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let spawnError: Error | undefined;
    child.once('exit', (code, signal) => (exited = { code, signal }));
    child.once('error', (err) => (spawnError = err));

    const target: AgentTarget = { baseUrl: `http://${formatHost(host)}:${port}`, token: launcher.socketPath ? null : opts.token, socketPath: launcher.socketPath };
    const deadline = Date.now() + (opts.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS);
    let failure: Extract<StartAttempt, { ok: false }> = { ok: false, exitCode: null, reason: 'not healthy in time' };
    while (Date.now() < deadline) {
      startOutput?.read();
      if (spawnError) {
        failure = { ok: false, exitCode: null, reason: spawnError.message };
        break;
      }
      if (exited) {
        failure = { ok: false, exitCode: exited.code, reason: `exited early (code ${exited.code}, signal ${exited.signal})` };
        break;
      }
      if (await checkHealth(target, 1_000)) {
        child.unref();
        const pid = launcher.serverPid(child.pid!);
        if (pid !== null) return { ok: true, pid, target };
        break;
      }
      await sleep(HEALTH_POLL_MS);
    }
    if (child.pid !== undefined && !exited) await terminate(child.pid, 1_000);
    await launcher.abort();
    return failure;
  } finally {
    startOutput?.close();
  }
}

/**
 * Passes what is appended to `file` from now on to `onOutput` at each {@link OutputFollower.read}, up
 * to {@link STARTUP_OUTPUT_MAX_BYTES}. The file is opened once, here, without following a symlink or
 * waiting on a FIFO, and only if it is still the file `writing` (the server's output descriptor) is
 * open on: whatever replaced the name since is refused, never read.
 * @throws Error when the name no longer is that file.
 */
function followOutput(file: string, writing: number, onOutput: (text: string) => void): OutputFollower {
  const fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  const [opened, written] = [fstatSync(fd), fstatSync(writing)];
  if (!opened.isFile() || opened.dev !== written.dev || opened.ino !== written.ino) {
    closeSync(fd);
    throw new Error(`${file} is no longer the sandbox-agent output file`);
  }
  let position = opened.size;
  let left = STARTUP_OUTPUT_MAX_BYTES;
  const decoder = new StringDecoder('utf8');
  const buffer = Buffer.alloc(8 * 1024);
  const read = () => {
    for (let n; left > 0 && (n = readSync(fd, buffer, 0, Math.min(buffer.length, left), position)) > 0;) {
      position += n;
      left -= n;
      onOutput(decoder.write(buffer.subarray(0, n)));
    }
  };
  return {
    read,
    close: () => {
      read();
      closeSync(fd);
    },
  };
}

interface OutputFollower {
  /** Passes on what was appended since the last read. */
  read(): void;
  /** Reads once more and closes the file. */
  close(): void;
}

/**
 * `GET /v1/health` of the server at `target` (./agentHttp.ts).
 * @returns true iff it answered 200 with `{status: 'ok'}` within `timeoutMs` (ms); never throws.
 */
export async function checkHealth(target: AgentTarget, timeoutMs: number): Promise<boolean> {
  try {
    const res = await agentFetch(target, `${target.baseUrl}/v1/health`, 'application/json', { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return false;
    const body = (await res.json()) as { status?: unknown };
    return body.status === 'ok';
  } catch {
    return false;
  }
}

/** True if a process with this pid exists and is not a zombie (Linux: checked in /proc). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // "<pid> (<comm>) <state> ...": comm may contain spaces or parentheses, so split after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/**
 * Stops a server started by {@link startSandboxAgent}: SIGTERM to its process group (the server and
 * its agent processes), then SIGKILL if still alive after `graceMs` (ms, default 3000). Resolves once
 * the server is gone (or after a further 2 s). No-op if the process is already gone, and refuses to
 * signal a pid whose command line is not sandbox-agent (pid reuse).
 */
export async function stopSandboxAgent(pid: number, graceMs = 3_000): Promise<void> {
  if (!isProcessAlive(pid) || !looksLikeSandboxAgent(pid)) return;
  await terminate(pid, graceMs);
}

async function terminate(pid: number, graceMs: number): Promise<void> {
  if (!signal(-pid, 'SIGTERM')) signal(pid, 'SIGTERM');
  if (!(await waitForExit(pid, graceMs))) {
    if (!signal(-pid, 'SIGKILL')) signal(pid, 'SIGKILL');
    await waitForExit(pid, 2_000);
  }
  // Agent processes left in the group (a live group id is never reused as a pid, so this is safe).
  signal(-pid, 'SIGKILL');
}

function looksLikeSandboxAgent(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('sandbox-agent') || cmdline.includes('\0--no-telemetry');
  } catch {
    return true; // no /proc: cannot tell
  }
}

/** process.kill that reports instead of throwing (target gone, or not a group). */
function signal(target: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(target, sig);
    return true;
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
  return true;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Pids of live sandbox-agent servers started with `HOME=<home>` (read from /proc on Linux; empty
 * elsewhere). A sandbox's HOME is its own, so this finds a server whose start was never recorded —
 * e.g. its worker died between spawning it and writing agent.json.
 */
export function findSandboxAgentsByHome(home: string): number[] {
  return findSandboxAgents((h) => h === home);
}

/** Pids of live sandbox-agent processes whose HOME satisfies `matches`, from /proc. */
function findSandboxAgents(matches: (home: string) => boolean): number[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  return pids
    .filter((pid) => {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('sandbox-agent')) return false;
        const home = readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .find((v) => v.startsWith('HOME='));
        return home !== undefined && matches(home.slice('HOME='.length));
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter(isProcessAlive);
}

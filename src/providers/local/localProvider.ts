/**
 * The local provider: a sandbox is a directory on this machine.
 *
 *   <sandboxRoot>/<sandboxKey>/repo        clone of the repository, on the task's branch
 *   <sandboxRoot>/<sandboxKey>/home        HOME of the sandbox's sandbox-agent (its agent installs)
 *   <sandboxRoot>/<sandboxKey>/bin         the offline ACP agent, first on sandbox-agent's PATH
 *   <sandboxRoot>/<sandboxKey>/logs        sandbox-agent logs
 *   <sandboxRoot>/<sandboxKey>/agent.json  the running sandbox-agent: { pid, port, baseUrl, token }
 *   <sandboxRoot>/<sandboxKey>/sessions/<sessionKey>.json  an agent session: { serverId, sessionId?, agent, attempt }
 *   <sandboxRoot>/<sandboxKey>/pasta.pid   the pasta process of the sandbox's network namespace
 *
 * Confinement (src/confinement, docs/SECURITY.md): sandbox-agent and everything it starts run as an
 * unprivileged uid in their own user, PID, network and mount namespaces, under cgroup limits, and see
 * only repo/, home/, logs/ (read-write) and bin/ (read-only) of this directory, as /sandbox/<name>;
 * the provider's own records (agent.json with the token, sessions/) stay outside their view.
 *
 * The two JSON files are the provider's own durable record: a retried step reads them and reuses what
 * an earlier attempt made (one clone, one sandbox-agent process, one session).
 *
 * Agents: the task's agent is used when sandbox-agent reports it installed; otherwise (no network or
 * credentials here) the session runs the offline ACP agent this repo ships (agent/offline-acp-agent.js)
 * and the result says so.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../logger';
import {
  ProviderError,
  type AgentEndpoint,
  type AgentSession,
  type CreateSandboxRequest,
  type CreateSessionRequest,
  type ProgressFn,
  type SandboxHandle,
  type SandboxProvider,
} from '../types';
import { AcpError, acpServerExists, closeAcpServer, createAcpSession, sendPrompt } from './acpClient';
import { ensureCheckout, listRemoteBranches } from './git';
import { OFFLINE_AGENT_ID, checkHealth, findSandboxAgentsByHome, installOfflineAgent, isProcessAlive, startSandboxAgent, stopSandboxAgent } from './sandboxAgentProcess';
import { DEFAULT_CONFINEMENT, type ConfinementPolicy } from '../../confinement/policy';
import { SandboxConfinement } from '../../confinement/sandboxConfinement';

export const LOCAL_PROVIDER_ID = 'local';

/** How long one session/new may take before the step gives up (and does not retry: it may still complete). */
const SESSION_CREATE_TIMEOUT_MS = 60_000;
const HEALTH_TIMEOUT_MS = 2_000;

interface AgentRecord {
  pid: number;
  port: number;
  baseUrl: string;
  token: string;
}

interface SessionRecord {
  serverId: string;
  agent: string;
  attempt: number;
  sessionId?: string;
}

export interface LocalProviderOptions {
  /** Absolute directory holding one directory per sandbox. */
  sandboxRoot: string;
  logger: Logger;
  /** How sandboxes are confined (docs/SECURITY.md); default DEFAULT_CONFINEMENT (isolated). */
  confinement?: ConfinementPolicy;
}

export class LocalProvider implements SandboxProvider {
  readonly id = LOCAL_PROVIDER_ID;

  constructor(private readonly opts: LocalProviderOptions) {}

  private dir(sandboxKey: string): string {
    if (!/^[A-Za-z0-9-]+$/.test(sandboxKey)) throw new ProviderError('SandboxBroken', `invalid sandbox key ${sandboxKey}`, false);
    return path.join(this.opts.sandboxRoot, sandboxKey);
  }

  /** The sandbox's confinement (its launcher, processes and release). */
  private confinement(sandboxKey: string): SandboxConfinement {
    const root = this.dir(sandboxKey);
    const dirs = { root, repo: path.join(root, 'repo'), home: path.join(root, 'home'), logs: path.join(root, 'logs'), bin: path.join(root, 'bin') };
    return new SandboxConfinement(this.opts.confinement ?? DEFAULT_CONFINEMENT, sandboxKey, dirs);
  }

  /**
   * Host pids of the sandbox's live sandbox-agent servers: those in its cgroup when isolated, else
   * those started with its HOME. Normally one; more only while an unrecorded one awaits clean-up.
   */
  agentProcesses(sandboxKey: string): number[] {
    const confinement = this.confinement(sandboxKey);
    return confinement.isolated ? confinement.agentProcesses() : findSandboxAgentsByHome(path.join(this.dir(sandboxKey), 'home'));
  }

  /** Host pids of every process of an isolated sandbox (its cgroup), detached ones included; [] when not isolated. */
  sandboxProcesses(sandboxKey: string): number[] {
    return this.confinement(sandboxKey).processes();
  }

  listBranches(repository: string): Promise<string[]> {
    return listRemoteBranches(repository);
  }

  async createSandbox(req: CreateSandboxRequest, progress: ProgressFn): Promise<SandboxHandle> {
    const root = this.dir(req.sandboxKey);
    const directory = path.join(root, 'repo');
    await ensureCheckout(req.repository, directory, req.branchName, progress);
    return { sandboxKey: req.sandboxKey, providerSandboxId: req.sandboxKey, directory, details: { root } };
  }

  async resumeSandbox(sandboxKey: string): Promise<SandboxHandle | null> {
    const root = this.dir(sandboxKey);
    const directory = path.join(root, 'repo');
    if (!existsSync(path.join(directory, '.git'))) return null;
    const agent = await readJson<AgentRecord>(path.join(root, 'agent.json'));
    return { sandboxKey, providerSandboxId: sandboxKey, directory, agentEndpoint: agent?.baseUrl, details: { root } };
  }

  async destroySandbox(handle: SandboxHandle): Promise<void> {
    const root = this.dir(handle.sandboxKey);
    const agent = await readJson<AgentRecord>(path.join(root, 'agent.json'));
    if (agent) await stopSandboxAgent(agent.pid);
    // Every other process of the sandbox too (the agent's tools, detached or not), its network and limits.
    await this.confinement(handle.sandboxKey).release();
    await fs.rm(root, { recursive: true, force: true });
  }

  /**
   * Stops every sandbox under the sandbox root, keeping their directories: each one's sandbox-agent
   * (recorded or not) and every other process, its network namespace and its limits. For the start
   * command's Ctrl-C; a later ensureAgent starts the agent again.
   * @returns how many sandbox directories were stopped.
   */
  async stopAll(): Promise<number> {
    const keys = (await fs.readdir(this.opts.sandboxRoot, { withFileTypes: true }).catch(() => []))
      .filter((d) => d.isDirectory() && /^[A-Za-z0-9-]+$/.test(d.name))
      .map((d) => d.name);
    for (const key of keys) {
      const agent = await readJson<AgentRecord>(path.join(this.dir(key), 'agent.json'));
      for (const pid of new Set([...(agent ? [agent.pid] : []), ...this.agentProcesses(key)])) await stopSandboxAgent(pid);
      await this.confinement(key).release();
    }
    return keys.length;
  }

  async ensureAgent(handle: SandboxHandle, progress: ProgressFn): Promise<AgentEndpoint> {
    const root = this.dir(handle.sandboxKey);
    const recordFile = path.join(root, 'agent.json');
    const existing = await readJson<AgentRecord>(recordFile);
    if (existing && isProcessAlive(existing.pid)) {
      if (await checkHealth(existing.baseUrl, existing.token, HEALTH_TIMEOUT_MS)) {
        await progress('reusing_agent', `sandbox-agent already running (pid ${existing.pid})`);
        return toEndpoint(existing);
      }
      await progress('restarting_agent', `sandbox-agent pid ${existing.pid} is not healthy; restarting it`);
      await stopSandboxAgent(existing.pid);
    }
    // A server whose start an earlier attempt never recorded (it died in between) is stopped first,
    // so the sandbox ends up with exactly one.
    for (const stray of this.agentProcesses(handle.sandboxKey)) {
      await progress('stopping_stray_agent', `stopping unrecorded sandbox-agent pid ${stray}`);
      await stopSandboxAgent(stray);
    }
    await progress('installing_agent', 'installing the offline ACP agent');
    const binDir = await installOfflineAgent(path.join(root, 'bin'));
    await progress('starting_agent', 'starting sandbox-agent and waiting for /v1/health');
    const token = randomBytes(24).toString('hex');
    let server;
    try {
      server = await startSandboxAgent({
        home: path.join(root, 'home'),
        logDir: path.join(root, 'logs'),
        token,
        agentBinDir: binDir,
        launcher: this.confinement(handle.sandboxKey).launcher(),
      });
    } catch (err) {
      throw new ProviderError('ProviderUnavailable', `sandbox-agent did not start: ${(err as Error).message}`, true, { cause: err });
    }
    const record: AgentRecord = { pid: server.pid, port: server.port, baseUrl: server.baseUrl, token };
    await writeJson(recordFile, record);
    return toEndpoint(record);
  }

  async createSession(handle: SandboxHandle, req: CreateSessionRequest, progress: ProgressFn): Promise<AgentSession> {
    const root = this.dir(handle.sandboxKey);
    const agentRecord = await readJson<AgentRecord>(path.join(root, 'agent.json'));
    if (!agentRecord) throw new ProviderError('SandboxBroken', 'sandbox-agent has not been started in this sandbox', true);
    const target = { baseUrl: agentRecord.baseUrl, token: agentRecord.token };
    const sessionFile = this.sessionFile(handle.sandboxKey, req.sessionKey);
    await fs.mkdir(path.dirname(sessionFile), { recursive: true });
    const previous = await readJson<SessionRecord>(sessionFile);

    try {
      if (previous?.sessionId && (await acpServerExists({ ...target, serverId: previous.serverId, timeoutMs: HEALTH_TIMEOUT_MS }))) {
        await progress('reusing_session', `session ${previous.sessionId} already open`);
        return toSession(previous);
      }
      if (previous) {
        // An earlier attempt may have opened a session we never heard back about: end it first, so at
        // most one agent session of this sandbox is ever alive.
        await progress('closing_stale_session', `closing ACP server ${previous.serverId} of an earlier attempt`);
        await closeAcpServer({ ...target, serverId: previous.serverId, timeoutMs: 1_000 });
      }
      const agent = await this.effectiveAgent(target, req.agent);
      const attempt = (previous?.attempt ?? 0) + 1;
      const record: SessionRecord = { serverId: `${handle.sandboxKey}-${req.sessionKey}-${attempt}`, agent, attempt };
      await writeJson(sessionFile, record);
      await progress('creating_session', `opening a ${agent} session in ${handle.directory}`);
      const cwd = this.confinement(handle.sandboxKey).repoPathInside; // the checkout as the sandbox sees it
      const { sessionId } = await createAcpSession({ ...target, serverId: record.serverId, agent, cwd, timeoutMs: SESSION_CREATE_TIMEOUT_MS });
      record.sessionId = sessionId;
      await writeJson(sessionFile, record);
      return toSession(record);
    } catch (err) {
      if (!(err instanceof AcpError)) throw err;
      if (err.kind === 'timeout') {
        throw new ProviderError('SessionCreateTimeout', `session creation timed out after ${SESSION_CREATE_TIMEOUT_MS / 1000}s`, false, { cause: err });
      }
      if (err.transient) throw new ProviderError('ProviderUnavailable', `sandbox-agent unreachable: ${err.message}`, true, { cause: err });
      if (err.kind === 'http' && err.status === 404) throw new ProviderError('InvalidAgent', err.message, false, { cause: err });
      throw new ProviderError('SandboxBroken', err.message, true, { cause: err });
    }
  }

  async endSession(handle: SandboxHandle, sessionKey: string): Promise<void> {
    const file = this.sessionFile(handle.sandboxKey, sessionKey);
    const record = await readJson<SessionRecord>(file);
    const agent = await readJson<AgentRecord>(path.join(this.dir(handle.sandboxKey), 'agent.json'));
    if (record && agent && isProcessAlive(agent.pid)) {
      await closeAcpServer({ baseUrl: agent.baseUrl, token: agent.token, serverId: record.serverId, timeoutMs: 1_000 }).catch((err) => {
        if (!(err instanceof AcpError && err.kind === 'connection')) throw err;
      });
    }
    await fs.rm(file, { force: true });
  }

  async prompt(handle: SandboxHandle, sessionKey: string, text: string, onChunk: (text: string) => void, timeoutMs: number): Promise<{ stopReason: string }> {
    const record = await readJson<SessionRecord>(this.sessionFile(handle.sandboxKey, sessionKey));
    const agent = await readJson<AgentRecord>(path.join(this.dir(handle.sandboxKey), 'agent.json'));
    if (!record?.sessionId || !agent) throw new ProviderError('SessionNotFound', `no open agent session "${sessionKey}" in this sandbox`, false);
    try {
      return await sendPrompt({ baseUrl: agent.baseUrl, token: agent.token, serverId: record.serverId, sessionId: record.sessionId, text, onChunk, timeoutMs });
    } catch (err) {
      if (err instanceof AcpError) throw new ProviderError('PromptFailed', `the agent did not complete the turn: ${err.message}`, false, { cause: err });
      throw err;
    }
  }

  private sessionFile(sandboxKey: string, sessionKey: string): string {
    if (!/^[A-Za-z0-9-]+$/.test(sessionKey)) throw new ProviderError('SandboxBroken', `invalid session key ${sessionKey}`, false);
    return path.join(this.dir(sandboxKey), 'sessions', `${sessionKey}.json`);
  }

  /** The requested agent when sandbox-agent reports it installed, else the offline agent. */
  private async effectiveAgent(target: { baseUrl: string; token: string }, requested: string): Promise<string> {
    const res = await fetch(`${target.baseUrl}/v1/agents`, {
      headers: { Authorization: `Bearer ${target.token}`, Accept: 'application/json' },
      signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
    }).catch((err) => {
      throw new AcpError('connection', `GET /v1/agents: ${(err as Error).message}`, { cause: err });
    });
    if (!res.ok) throw new AcpError('http', `GET /v1/agents: HTTP ${res.status}`, { status: res.status });
    const body = (await res.json()) as { agents?: Array<{ id: string; installed?: boolean }> };
    const known = body.agents ?? [];
    const entry = known.find((a) => a.id === requested);
    if (!entry) throw new ProviderError('InvalidAgent', `sandbox-agent does not know agent "${requested}"`, false);
    if (entry.installed) return requested;
    this.opts.logger.info({ requested, using: OFFLINE_AGENT_ID }, 'agent not installed here; using the offline ACP agent');
    return OFFLINE_AGENT_ID;
  }
}

const toEndpoint = (r: AgentRecord): AgentEndpoint => ({ endpoint: r.baseUrl, details: { agentPid: r.pid, agentPort: r.port } });
const toSession = (r: SessionRecord): AgentSession => ({
  sessionId: r.sessionId!,
  agent: r.agent,
  details: { acpServerId: r.serverId, sessionId: r.sessionId, sessionAgent: r.agent },
});

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Writes atomically (temp file + rename), so a crash never leaves a half-written record. */
async function writeJson(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(value), { mode: 0o600 });
  await fs.rename(tmp, file);
}

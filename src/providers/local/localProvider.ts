/**
 * The local provider: a sandbox is a directory on this machine (its layout: ./layout.ts).
 *
 * Confinement (src/confinement, docs/SECURITY.md): sandbox-agent and everything it starts run as an
 * unprivileged host uid (1000 inside) in their own user, PID, network and mount namespaces, under
 * cgroup limits and a disk limit, and see only repo/, home/, logs/ (read-write) and bin/ (read-only)
 * as /sandbox/<name>; the provider's own records (host/: agent.json, sessions/, the agent's socket) stay
 * outside their view.
 *
 * The records are the provider's own durable record: a retried step reads them and reuses what an
 * earlier attempt made (one clone, one sandbox-agent process, one agent session per session key).
 *
 * Host trust (docs/SECURITY.md#host-trust): the repository is checked against the repository policy
 * right before every git call that reads it; the host clones only into a directory no sandbox has
 * seen and hands the clone to the sandbox's uid before the sandbox sees it; any later git in the
 * checkout runs inside the sandbox.
 *
 * Agents (src/domain/agents.ts): the installed ones (AGENTS_DIR) are mounted read-only into every
 * sandbox, on its PATH; the offline agent is registered per sandbox in sandbox-agent's `pi` slot. An
 * agent session for an agent sandbox-agent does not report installed fails with `InvalidAgent` naming it:
 * nothing is silently replaced. An agent started with egress (src/egress) gets the proxy as its model
 * API base URL and its sandbox's egress token as its API key, never a real key.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../logger';
import {
  ProviderError,
  type AgentEgress,
  type AgentEndpoint,
  type EnsureAgentOptions,
  type AgentSession,
  type AgentStatus,
  type CreateSandboxRequest,
  type CreateSessionRequest,
  type ProgressFn,
  type SandboxHandle,
  type SandboxProvider,
} from '../types';
import { AcpError, acpServerExists, closeAcpServer, createAcpSession, sendPrompt } from './acpClient';
import { agentFetch, forgetAgentSocket, type AgentTarget } from './agentHttp';
import { bundleBranchesSince, checkoutInside, cloneAndCheckout, headCommit, listRemoteBranches } from './git';
import { SANDBOX_KEY, sandboxLayout } from './layout';
import { checkHealth, findSandboxAgentsByHome, installOfflineAgent, isProcessAlive, resolveSandboxAgentBinary, startSandboxAgent, stopSandboxAgent } from './sandboxAgentProcess';
import { DEFAULT_CONFINEMENT, type ConfinementPolicy } from '../../confinement/policy';
import { EGRESS_PORT_IN_SANDBOX } from '../../confinement/network';
import { SANDBOX_PATHS } from '../../confinement/bwrap';
import { sandboxAgentIdOf } from '../../domain/agents';
import { SandboxConfinement, type SandboxDirs } from '../../confinement/sandboxConfinement';
import { mountedPaths, releaseSandboxDisk } from '../../confinement/disk';
import { cgroupValue } from '../../confinement/cgroups';
import { resolveRepositoryForUse, type RepositoryPolicy } from '../../repositories/policy';
import { SPAN_ATTRIBUTES, withSpan } from '../../observability/spans';

/**
 * Run inside a sandbox by {@link LocalProvider.agentStartLog}: `$1` is sandbox-agent's log directory.
 * Prints its newest log file (`log-<date>`) from the last `server listening` line on, at most 64 KiB.
 */
const AGENT_START_LOG_SCRIPT = [
  'f=$(ls -t "$1"/log-* 2>/dev/null | head -n 1)',
  '[ -n "$f" ] || exit 0',
  'n=$(grep -n \'message="server listening"\' "$f" | tail -n 1 | cut -d: -f1)',
  'tail -n +"${n:-1}" "$f" | head -c 65536',
].join('\n');

/** What one sandbox uses now ({@link LocalProvider.sandboxUsage}); bytes, null when unknown. */
export interface SandboxUsage {
  sandboxKey: string;
  memoryBytes: number | null;
  diskUsedBytes: number | null;
}

export const LOCAL_PROVIDER_ID = 'local';

/** How long one session/new may take before the step gives up (and does not retry: it may still complete). */
const SESSION_CREATE_TIMEOUT_MS = 60_000;
const HEALTH_TIMEOUT_MS = 2_000;

/** The running sandbox-agent (host/agent.json): where the host reaches it (./agentHttp.ts) and its pid and port inside. */
interface AgentRecord extends AgentTarget {
  pid: number;
  port: number;
}

/** What a warm pool member cloned (host/clone.json). */
interface CloneRecord {
  commit: string;
}

/**
 * One agent session of the sandbox, as the provider keeps it (host/sessions/<key>.json): the ACP server
 * that holds it, its agent and attempt, and the agent session id once opened. Not a tab (SessionRecord
 * of src/domain/records.ts).
 */
interface AgentSessionEntry {
  serverId: string;
  agent: string;
  attempt: number;
  sessionId?: string;
  /** The agent session this attempt takes up again with ACP `session/load` (its agent was restarted). */
  resumes?: string;
  /** The agent loaded `resumes`: it remembers the conversation. */
  loaded?: boolean;
}

export interface LocalProviderOptions {
  /** Absolute directory holding one directory per sandbox. */
  sandboxRoot: string;
  logger: Logger;
  /** How sandboxes are confined (docs/SECURITY.md); default DEFAULT_CONFINEMENT (isolated). */
  confinement?: ConfinementPolicy;
  /** Which repositories may be read, checked again right before every git call (src/repositories/policy.ts). */
  repositoryPolicy: RepositoryPolicy;
  /** The egress proxy's Unix socket (src/egress); without it agents get no egress (no model access). */
  egressSocket?: string;
}

export class LocalProvider implements SandboxProvider {
  readonly id = LOCAL_PROVIDER_ID;

  constructor(private readonly opts: LocalProviderOptions) {}

  private preparedRoot: Promise<string> | undefined;

  /** Host paths of one sandbox (./layout.ts); for the provider and for tests that look inside. */
  paths(sandboxKey: string): SandboxDirs {
    if (!SANDBOX_KEY.test(sandboxKey)) throw new ProviderError('SandboxBroken', `invalid sandbox key ${sandboxKey}`, false);
    return sandboxLayout(this.opts.sandboxRoot, sandboxKey);
  }

  private get policy(): ConfinementPolicy {
    return this.opts.confinement ?? DEFAULT_CONFINEMENT;
  }

  /** The sandbox's confinement (its launcher, processes and release). */
  private confinement(sandboxKey: string): SandboxConfinement {
    return new SandboxConfinement(this.policy, sandboxKey, this.paths(sandboxKey));
  }

  /** The sandbox-agent process's record (host-only). */
  private agentRecordFile(sandboxKey: string): string {
    return path.join(this.paths(sandboxKey).host, 'agent.json');
  }

  /**
   * Makes the sandbox root, once per provider, and answers the sandbox-agent binary to run. Confined:
   * the root is 0711, its parents must let the sandbox's uid through, and the binary is a copy in
   * `<sandboxRoot>/.tools` (the installed one may sit under a directory only root can search).
   */
  private prepareRoot(): Promise<string> {
    this.preparedRoot ??= (async () => {
      const source = resolveSandboxAgentBinary();
      await fs.mkdir(this.opts.sandboxRoot, { recursive: true, mode: 0o711 });
      if (this.policy.isolation === 'none') return source;
      await fs.chmod(this.opts.sandboxRoot, 0o711);
      await assertSearchable(this.opts.sandboxRoot);
      const tools = path.join(this.opts.sandboxRoot, '.tools');
      await fs.mkdir(tools, { recursive: true, mode: 0o755 });
      const target = path.join(tools, 'sandbox-agent');
      const [have, want] = await Promise.all([fs.stat(target).catch(() => null), fs.stat(source)]);
      if (!have || have.size !== want.size || have.mtimeMs < want.mtimeMs) {
        const tmp = `${target}.${process.pid}.tmp`;
        await fs.copyFile(source, tmp);
        await fs.chmod(tmp, 0o755);
        await fs.rename(tmp, target);
      }
      return target;
    })().catch((err) => {
      this.preparedRoot = undefined;
      throw err;
    });
    return this.preparedRoot;
  }

  /**
   * Host pids of the sandbox's live sandbox-agent servers: those in its cgroup when isolated, else
   * those started with its HOME. Normally one; more only while an unrecorded one awaits clean-up.
   */
  agentProcesses(sandboxKey: string): number[] {
    const confinement = this.confinement(sandboxKey);
    return confinement.isolated ? confinement.agentProcesses() : findSandboxAgentsByHome(this.paths(sandboxKey).home);
  }

  /** Host pids of every process of an isolated sandbox (its cgroup), detached ones included; [] when not isolated. */
  sandboxProcesses(sandboxKey: string): number[] {
    return this.confinement(sandboxKey).processes();
  }

  /**
   * The repository as git should be handed it, checked against the policy now (realpath, roots,
   * protected paths, `.git` a real directory, allowed transports).
   * @throws ProviderError `RepositoryNotFound` (a local path that is gone) or `RepositoryNotAllowed`, both final.
   */
  private repositoryForUse(repository: string): string {
    const verdict = resolveRepositoryForUse(repository, this.opts.repositoryPolicy);
    if (verdict.ok) return verdict.target;
    if (verdict.notFound) throw new ProviderError('RepositoryNotFound', `repository ${repository} cannot be read: it does not exist`, false);
    throw new ProviderError('RepositoryNotAllowed', `repository ${repository} is not allowed: ${verdict.reason}`, false);
  }

  /** Transports host git may use beyond the default ones: `git` when the policy admits it. */
  private gitOptions(): { extraProtocols: string[] } {
    return { extraProtocols: this.opts.repositoryPolicy.allowGitProtocol ? ['git'] : [] };
  }

  async listBranches(repository: string, progress?: ProgressFn): Promise<string[]> {
    return listRemoteBranches(this.repositoryForUse(repository), this.gitOptions(), progress);
  }

  /**
   * First time: clones the repository (checked again now) into a directory of the sandbox's own
   * filesystem that no sandbox has seen, checks out the branch there, gives it to the sandbox's uid
   * and moves it into place. A checkout that is already there (a retry, or a claimed warm pool member)
   * may hold whatever the sandbox wrote: its branch is fetched and checked out by git run inside the
   * sandbox, never by the host's. A warm member (`branchName` null) stays on the default branch.
   */
  async createSandbox(req: CreateSandboxRequest, progress: ProgressFn): Promise<SandboxHandle> {
    const dirs = this.paths(req.sandboxKey);
    const confinement = this.confinement(req.sandboxKey);
    await this.prepareRoot(); // the sandbox root exists, searchable, before any sandbox in it
    await confinement.prepareFilesystem();
    if (await isDirectory(dirs.repo)) {
      if (req.branchName === null) return this.handleOf(req.sandboxKey); // a warm member's retried clone: already made
      if (req.claimed) {
        await withSpan('git checkout', spanOf(req.sandboxKey), () => this.checkoutClaimed(req.sandboxKey, req.repository, req.branchName!, progress));
      } else {
        await withSpan('git checkout', spanOf(req.sandboxKey), () =>
          checkoutInside((command, args, timeoutMs) => confinement.runInside(command, args, timeoutMs), req.branchName!, progress),
        );
      }
    } else {
      const source = this.repositoryForUse(req.repository);
      // Partial clones of attempts that died are removed first (the sandbox never saw them).
      for (const entry of await fs.readdir(dirs.disk)) if (entry.startsWith('.repo.partial-')) await fs.rm(path.join(dirs.disk, entry), { recursive: true, force: true });
      const partial = path.join(dirs.disk, `.repo.partial-${process.pid}-${Date.now()}`);
      await withSpan('git clone', spanOf(req.sandboxKey), () => cloneAndCheckout(source, partial, req.branchName, progress, this.gitOptions()));
      // A warm member records what it cloned (host-only), so its claim fetches only what is newer.
      if (req.branchName === null) await writeJson(this.cloneRecordFile(req.sandboxKey), { commit: await headCommit(partial) } satisfies CloneRecord);
      await confinement.giveToSandbox(partial);
      await fs.rename(partial, dirs.repo);
    }
    return this.handleOf(req.sandboxKey);
  }

  /**
   * A claimed warm member's checkout put on the task's branch: the host bundles the repository's
   * commits newer than the member's clone (the repository checked against the policy again; host git
   * reads only the repository) into a file in the sandbox's host-owned root, which the sandbox never
   * sees; git inside the sandbox fetches from it, mounted read-only for that one command, and checks
   * the branch out. A repository given by URL is not bundled (the host keeps no copy): the branch
   * starts from the member's clone, at most the pool's idle timeout old.
   */
  private async checkoutClaimed(sandboxKey: string, repository: string, branchName: string, progress: ProgressFn): Promise<void> {
    const dirs = this.paths(sandboxKey);
    const confinement = this.confinement(sandboxKey);
    const source = this.repositoryForUse(repository);
    let bundle: string | null = null;
    if (path.isAbsolute(source)) {
      await progress('fetching', `reading what ${repository} has that the warm sandbox lacks`);
      const cloned = await readJson<CloneRecord>(this.cloneRecordFile(sandboxKey));
      const file = path.join(dirs.root, `.fetch-${process.pid}-${Date.now()}.bundle`);
      if (await bundleBranchesSince(source, file, cloned?.commit ?? null, this.gitOptions())) bundle = file;
    }
    try {
      const readOnly = bundle && confinement.isolated ? [bundle] : [];
      await checkoutInside((command, args, timeoutMs) => confinement.runInside(command, args, timeoutMs, { readOnly }), branchName, progress, { bundle });
    } finally {
      if (bundle) await fs.rm(bundle, { force: true });
    }
  }

  /** A warm member's record of the commit it cloned (host-only). */
  private cloneRecordFile(sandboxKey: string): string {
    return path.join(this.paths(sandboxKey).host, 'clone.json');
  }

  private handleOf(sandboxKey: string): SandboxHandle {
    const dirs = this.paths(sandboxKey);
    return { sandboxKey, providerSandboxId: sandboxKey, directory: dirs.repo, details: { root: dirs.root } };
  }

  async resumeSandbox(sandboxKey: string): Promise<SandboxHandle | null> {
    const dirs = this.paths(sandboxKey);
    if (!(await isDirectory(dirs.root))) return null;
    await this.confinement(sandboxKey).prepareFilesystem(); // its own filesystem mounted again after a reboot
    if (!(await isDirectory(dirs.repo))) return null;
    const agent = await readJson<AgentRecord>(this.agentRecordFile(sandboxKey));
    return { sandboxKey, providerSandboxId: sandboxKey, directory: dirs.repo, agentEndpoint: agent?.baseUrl, details: { root: dirs.root } };
  }

  async destroySandbox(handle: SandboxHandle): Promise<void> {
    // Its agent and every other process (the agent's tools, detached or not), its network and limits; then its disk.
    await this.stopSandbox(handle);
    const dirs = this.paths(handle.sandboxKey);
    await releaseSandboxDisk(dirs.disk);
    await fs.rm(dirs.root, { recursive: true, force: true });
  }

  /**
   * Ends the sandbox's sandbox-agent (recorded or not) and every other process in it, its network
   * namespace and its cgroup (so its memory is released); its directories and its own filesystem stay.
   */
  async stopSandbox(handle: Pick<SandboxHandle, 'sandboxKey'>): Promise<void> {
    const key = handle.sandboxKey;
    const agent = await readJson<AgentRecord>(this.agentRecordFile(key));
    for (const pid of new Set([...(agent ? [agent.pid] : []), ...this.agentProcesses(key)])) await stopSandboxAgent(pid);
    await this.confinement(key).release();
    if (agent?.socketPath) await forgetAgentSocket(agent.socketPath);
  }

  holds(handle: SandboxHandle): boolean {
    return handle.directory.startsWith(this.opts.sandboxRoot + path.sep) && SANDBOX_KEY.test(handle.sandboxKey);
  }

  async agentStatus(handle: SandboxHandle, sessionKey?: string): Promise<AgentStatus> {
    const agent = await readJson<AgentRecord>(this.agentRecordFile(handle.sandboxKey));
    // Its recorded pid, alive and in the sandbox (a pid reused by another process is not its agent).
    if (!agent || !this.agentProcesses(handle.sandboxKey).includes(agent.pid)) return { agent: 'stopped' };
    if (sessionKey === undefined) return { agent: 'running' };
    const record = await readJson<AgentSessionEntry>(this.sessionFile(handle.sandboxKey, sessionKey));
    if (!record?.sessionId) return { agent: 'running', session: 'gone' };
    try {
      const open = await acpServerExists({ ...agent, serverId: record.serverId, timeoutMs: HEALTH_TIMEOUT_MS });
      return { agent: 'running', session: open ? 'open' : 'gone' };
    } catch (err) {
      if (err instanceof AcpError && err.kind === 'connection') return { agent: 'stopped' };
      throw err;
    }
  }

  /**
   * Stops every sandbox under the sandbox root ({@link stopSandbox}), keeping their directories. For
   * the start command's Ctrl-C; the next start's reconcile records them `stopped`, and the next use
   * wakes each one (docs/PRODUCT.md#sandbox-lifecycle).
   * @returns how many sandbox directories were stopped.
   */
  async stopAll(): Promise<number> {
    const keys = await this.sandboxKeys();
    for (const key of keys) await this.stopSandbox({ sandboxKey: key });
    return keys.length;
  }

  /** Unmounts the own filesystem of every sandbox under the root (after {@link stopAll}), so the root can be removed; files stay in their images. */
  async unmountAll(): Promise<void> {
    for (const key of await this.sandboxKeys()) await releaseSandboxDisk(this.paths(key).disk);
  }

  /**
   * What each sandbox under the root uses now, for the sandbox host's metrics: memory of its cgroup
   * (`memory.usage_in_bytes`: its agent and every process it started; null without a group, e.g. a
   * sandbox asleep or confinement off) and the used bytes of its own filesystem (statfs of its mounted
   * disk image; null when the image is not mounted). Reads only the host's cgroup files and the
   * filesystem's counters, never a file inside the sandbox.
   */
  async sandboxUsage(): Promise<SandboxUsage[]> {
    const usage: SandboxUsage[] = [];
    const mounted = mountedPaths();
    for (const sandboxKey of await this.sandboxKeys()) {
      const memory = cgroupValue(sandboxKey, 'memory', 'memory.usage_in_bytes');
      const disk = this.paths(sandboxKey).disk;
      const stats = mounted.has(disk) ? await fs.statfs(disk).catch(() => null) : null;
      usage.push({ sandboxKey, memoryBytes: memory === null ? null : Number(memory), diskUsedBytes: stats ? (stats.blocks - stats.bfree) * stats.bsize : null });
    }
    return usage;
  }

  /**
   * Passes sandbox-agent's own log of its latest start (its lines from `server listening` on, at most
   * 64 KiB) to `progress.output`. Its logs are files of the sandbox, so they are read by a command run
   * inside it ({@link AGENT_START_LOG_SCRIPT}), never by the host; what comes back is text. Nothing
   * happens without `progress.output`, and a failure to read is no failure of the step.
   */
  private async agentStartLog(sandboxKey: string, progress: ProgressFn): Promise<void> {
    if (!progress.output) return;
    const confinement = this.confinement(sandboxKey);
    const read = await confinement.runInside('sh', ['-c', AGENT_START_LOG_SCRIPT, 'agent-start-log', confinement.logsPathInside], 5_000).catch(() => null);
    if (read?.code === 0 && read.stdout) progress.output('sandbox-agent', read.stdout);
  }

  /** Keys of the sandbox directories under the root (none when the root does not exist yet). */
  private async sandboxKeys(): Promise<string[]> {
    return (await fs.readdir(this.opts.sandboxRoot, { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory() && SANDBOX_KEY.test(d.name)).map((d) => d.name);
  }

  /** Traced as `sandbox-agent start` (src/observability/spans.ts), a reused agent too. */
  async ensureAgent(handle: SandboxHandle, progress: ProgressFn, opts: EnsureAgentOptions = {}): Promise<AgentEndpoint> {
    return withSpan('sandbox-agent start', spanOf(handle.sandboxKey), () => this.startOrReuseAgent(handle, progress, opts));
  }

  private async startOrReuseAgent(handle: SandboxHandle, progress: ProgressFn, opts: EnsureAgentOptions): Promise<AgentEndpoint> {
    const dirs = this.paths(handle.sandboxKey);
    const recordFile = this.agentRecordFile(handle.sandboxKey);
    const existing = await readJson<AgentRecord>(recordFile);
    if (existing && isProcessAlive(existing.pid)) {
      if (await checkHealth(existing, HEALTH_TIMEOUT_MS)) {
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
    const binDir = await installOfflineAgent(dirs.bin);
    const egressSocket = this.opts.egressSocket;
    const egress = egressSocket && opts.egress && this.policy.isolation !== 'none' ? await opts.egress() : undefined;
    await progress('starting_agent', 'starting sandbox-agent and waiting for /v1/health');
    const token = randomBytes(24).toString('hex');
    progress.secret?.(token, ...(egress ? [egress.token] : []));
    let server;
    try {
      server = await startSandboxAgent({
        home: dirs.home,
        logDir: dirs.logs,
        outputFile: path.join(dirs.host, 'sandbox-agent.out'),
        binaryPath: await this.prepareRoot(),
        token,
        agentBinDir: binDir,
        env: egress ? egressEnvironment(egress) : {},
        onOutput: progress.output && ((text) => progress.output!('sandbox-agent', text)),
        launcher: this.confinement(handle.sandboxKey).launcher(egress && egressSocket ? { mode: egress.mode, proxySocket: egressSocket } : undefined),
      });
    } catch (err) {
      await this.agentStartLog(handle.sandboxKey, progress);
      throw new ProviderError('ProviderUnavailable', `sandbox-agent did not start: ${(err as Error).message}`, true, { cause: err });
    }
    await this.agentStartLog(handle.sandboxKey, progress);
    const record: AgentRecord = { pid: server.pid, port: server.port, baseUrl: server.baseUrl, token: server.token, socketPath: server.socketPath };
    await writeJson(recordFile, record);
    return toEndpoint(record);
  }

  /** Traced as `ACP session open` (src/observability/spans.ts), a reused session too. */
  async createSession(handle: SandboxHandle, req: CreateSessionRequest, progress: ProgressFn): Promise<AgentSession> {
    return withSpan('ACP session open', spanOf(handle.sandboxKey), () => this.openOrReuseSession(handle, req, progress));
  }

  private async openOrReuseSession(handle: SandboxHandle, req: CreateSessionRequest, progress: ProgressFn): Promise<AgentSession> {
    const agentRecord = await readJson<AgentRecord>(this.agentRecordFile(handle.sandboxKey));
    if (!agentRecord) throw new ProviderError('SandboxBroken', 'sandbox-agent has not been started in this sandbox', true);
    const target: AgentTarget = agentRecord;
    const sessionFile = this.sessionFile(handle.sandboxKey, req.sessionKey);
    await fs.mkdir(path.dirname(sessionFile), { recursive: true });
    const previous = await readJson<AgentSessionEntry>(sessionFile);

    try {
      // Reused when open and of the agent asked for (a warm pool member's agent session was opened for the pool's agent).
      if (previous?.sessionId && previous.agent === req.agent && (await acpServerExists({ ...target, serverId: previous.serverId, timeoutMs: HEALTH_TIMEOUT_MS }))) {
        await progress('reusing_session', `session ${previous.sessionId} already open`);
        return toSession(previous);
      }
      if (previous) {
        // An earlier attempt may have opened an agent session we never heard back about: end it first, so at
        // most one agent session of this sandbox is ever alive.
        await progress('closing_stale_session', `closing ACP server ${previous.serverId} of an earlier attempt`);
        await closeAcpServer({ ...target, serverId: previous.serverId, timeoutMs: 1_000 });
      }
      const agent = await this.installedAgent(target, req.agent);
      const attempt = (previous?.attempt ?? 0) + 1;
      // The agent session of the agent that ran before (same agent): loaded again where the agent can.
      const resumes = previous && previous.agent === agent ? (previous.sessionId ?? previous.resumes) : undefined;
      const record: AgentSessionEntry = { serverId: `${handle.sandboxKey}-${req.sessionKey}-${attempt}`, agent, attempt, ...(resumes ? { resumes } : {}) };
      await writeJson(sessionFile, record);
      await progress('creating_session', `${resumes ? 'loading or opening' : 'opening'} a ${agent} session in ${handle.directory}`);
      const cwd = this.confinement(handle.sandboxKey).repoPathInside; // the checkout as the sandbox sees it
      const { sessionId, loaded } = await createAcpSession({
        ...target,
        serverId: record.serverId,
        agent: sandboxAgentIdOf(agent),
        cwd,
        timeoutMs: SESSION_CREATE_TIMEOUT_MS,
        loadSessionId: resumes,
        model: req.model,
      });
      record.sessionId = sessionId;
      record.loaded = loaded;
      await writeJson(sessionFile, record);
      return toSession(record);
    } catch (err) {
      if (!(err instanceof AcpError)) throw err;
      if (err.kind === 'timeout') {
        throw new ProviderError('SessionCreateTimeout', `session creation timed out after ${SESSION_CREATE_TIMEOUT_MS / 1000}s`, false, { cause: err });
      }
      if (err.transient) throw new ProviderError('ProviderUnavailable', `sandbox-agent unreachable: ${err.message}`, true, { cause: err });
      if (err.kind === 'http' && err.status === 404) throw new ProviderError('InvalidAgent', err.message, false, { cause: err });
      if (err.kind === 'rpc' && err.message.includes('ModelNotSet'))
        throw new ProviderError('InvalidAgent', `agent ${req.agent} did not accept model "${req.model}"`, false, { cause: err });
      throw new ProviderError('SandboxBroken', err.message, true, { cause: err });
    }
  }

  async endSession(handle: SandboxHandle, sessionKey: string): Promise<void> {
    const file = this.sessionFile(handle.sandboxKey, sessionKey);
    const record = await readJson<AgentSessionEntry>(file);
    const agent = await readJson<AgentRecord>(this.agentRecordFile(handle.sandboxKey));
    if (record && agent && isProcessAlive(agent.pid)) {
      await closeAcpServer({ ...agent, serverId: record.serverId, timeoutMs: 1_000 }).catch((err) => {
        if (!(err instanceof AcpError && err.kind === 'connection')) throw err;
      });
    }
    await fs.rm(file, { force: true });
  }

  async prompt(handle: SandboxHandle, sessionKey: string, text: string, onChunk: (text: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<{ stopReason: string }> {
    const record = await readJson<AgentSessionEntry>(this.sessionFile(handle.sandboxKey, sessionKey));
    const agent = await readJson<AgentRecord>(this.agentRecordFile(handle.sandboxKey));
    if (!record?.sessionId || !agent) throw new ProviderError('SessionNotFound', `no open agent session "${sessionKey}" in this sandbox`, false);
    try {
      return await sendPrompt({ ...agent, serverId: record.serverId, sessionId: record.sessionId, text, onChunk, timeoutMs, signal });
    } catch (err) {
      if (err instanceof AcpError) throw new ProviderError('PromptFailed', `the agent did not complete the turn: ${err.message}`, false, { cause: err });
      throw err;
    }
  }

  private sessionFile(sandboxKey: string, sessionKey: string): string {
    if (!SANDBOX_KEY.test(sessionKey)) throw new ProviderError('SandboxBroken', `invalid session key ${sessionKey}`, false);
    return path.join(this.paths(sandboxKey).host, 'sessions', `${sessionKey}.json`);
  }

  /**
   * The requested agent (an API id, src/domain/agents.ts) when sandbox-agent reports it installed.
   * @throws ProviderError `InvalidAgent` (final) naming the agent when it is unknown or not installed.
   */
  private async installedAgent(target: AgentTarget, requested: string): Promise<string> {
    const res = await agentFetch(target, `${target.baseUrl}/v1/agents`, 'application/json', { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) }).catch((err) => {
      throw new AcpError('connection', `GET /v1/agents: ${(err as Error).message}`, { cause: err });
    });
    if (!res.ok) throw new AcpError('http', `GET /v1/agents: HTTP ${res.status}`, { status: res.status });
    const body = (await res.json()) as { agents?: Array<{ id: string; installed?: boolean }> };
    const entry = (body.agents ?? []).find((a) => a.id === sandboxAgentIdOf(requested));
    if (!entry) throw new ProviderError('InvalidAgent', `agent ${requested} is not known to sandbox-agent`, false);
    if (!entry.installed) throw new ProviderError('InvalidAgent', `agent ${requested} is not installed on this sandbox host`, false);
    return requested;
  }
}

/**
 * The agent's variables for reaching its model API through the egress proxy (src/egress): the proxy
 * on the sandbox's own loopback as the base URL, the sandbox's egress token as the API key (the proxy
 * swaps it for the workspace's key), and, under an `allowlist` policy, the proxy as HTTPS proxy for
 * everything else. Codex takes its base URL from agents/etc/codex/managed_config.toml, opencode from
 * agents/etc/opencode/opencode.json (OPENCODE_CONFIG; it fetches no model list and no update).
 */
function egressEnvironment(egress: AgentEgress): Record<string, string> {
  const proxy = `http://127.0.0.1:${EGRESS_PORT_IN_SANDBOX}`;
  return {
    ANTHROPIC_BASE_URL: `${proxy}/anthropic`,
    ANTHROPIC_API_KEY: egress.token,
    OPENAI_BASE_URL: `${proxy}/openai/v1`,
    OPENAI_API_KEY: egress.token,
    OPENCODE_CONFIG: `${SANDBOX_PATHS.agents}/etc/opencode/opencode.json`,
    OPENCODE_DISABLE_AUTOUPDATE: '1',
    OPENCODE_DISABLE_MODELS_FETCH: '1',
    // Long model turns: sandbox-agent waits this long for one ACP answer (the turn's own limit is the activity's).
    SANDBOX_AGENT_ACP_REQUEST_TIMEOUT_MS: String(30 * 60_000),
    ...(egress.mode === 'allowlist'
      ? {
          HTTPS_PROXY: `http://sandbox:${egress.token}@127.0.0.1:${EGRESS_PORT_IN_SANDBOX}`,
          https_proxy: `http://sandbox:${egress.token}@127.0.0.1:${EGRESS_PORT_IN_SANDBOX}`,
          NO_PROXY: '127.0.0.1,localhost',
          no_proxy: '127.0.0.1,localhost',
        }
      : {}),
  };
}

/** Attributes of a provider sub-step's span: the sandbox's id (the task's id and step come from the activity). */
const spanOf = (sandboxKey: string) => ({ [SPAN_ATTRIBUTES.sandboxId]: sandboxKey });

const toEndpoint = (r: AgentRecord): AgentEndpoint => ({ endpoint: r.baseUrl, details: { agentPid: r.pid, agentPort: r.port } });
const toSession = (r: AgentSessionEntry): AgentSession => ({
  sessionId: r.sessionId!,
  agent: r.agent,
  loaded: r.loaded === true,
  details: { acpServerId: r.serverId, sessionId: r.sessionId, sessionAgent: r.agent },
});

/** True when `p` is a directory itself (lstat: a symlink is not followed, and is not one). */
async function isDirectory(p: string): Promise<boolean> {
  return (await fs.lstat(p).catch(() => null))?.isDirectory() ?? false;
}

/**
 * Checks that every directory above `dir` lets others search it (o+x), so the sandbox's uid can reach
 * its own directories through it when bubblewrap mounts them.
 * @throws Error naming the first directory that does not.
 */
async function assertSearchable(dir: string): Promise<void> {
  for (let current = path.dirname(dir); ; current = path.dirname(current)) {
    const mode = (await fs.stat(current)).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `sandbox root ${dir} cannot be reached by the sandboxes' uid: ${current} has mode ${(mode & 0o777).toString(8)}; choose a SANDBOX_ROOT whose parents are searchable (o+x)`,
      );
    }
    if (path.dirname(current) === current) return;
  }
}

/** Reads a host-only record (never through a symlink). */
async function readJson<T>(file: string): Promise<T | null> {
  try {
    const handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      return JSON.parse(await handle.readFile('utf8')) as T;
    } finally {
      await handle.close();
    }
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

/**
 * One local sandbox's confinement, put together (docs/SECURITY.md): cgroup limits (./cgroups.ts),
 * its own network namespace (./network.ts) and bubblewrap's namespaces and mounts (./bwrap.ts).
 * The local provider starts the sandbox's sandbox-agent through {@link SandboxConfinement.launcher};
 * everything the agent then runs inherits all of it.
 *
 *   cgexec -g memory,pids,cpu:tps-sandboxes/<key>   limits, and the list of every process
 *     ip netns exec tps-<key>                        no host loopback; pasta forwards the agent port
 *       setpriv --reuid=<hostUid> …                  from here on never root: the policy's host uid
 *         bwrap …                                    uid 1000 in its own user namespace, own PID
 *                                                    namespace, only /usr and /sandbox/* mounted
 *           /opt/sandbox-agent/sandbox-agent server …
 *
 * Its files: `repo/`, `home/` and `logs/` on a size-limited filesystem of their own (./disk.ts), owned
 * by the host uid; `bin/` and the host-only records directory are root's.
 *
 * With isolation `none` (UNSAFE, development only) the server runs directly, but still with the
 * environment allowlist.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chmod, chown, lchown, lstat, mkdir, opendir } from 'node:fs/promises';
import { cgexecPrefix, cgroupProcesses, createSandboxCgroup, destroySandboxCgroup } from './cgroups';
import { SANDBOX_PATHS, bwrapArgs, dropToHostUid, sandboxPath, type BwrapMounts } from './bwrap';
import { ensureSandboxDisk } from './disk';
import { createSandboxNetwork, deleteSandboxNetwork, netnsExecPrefix, type SandboxNetworkFiles } from './network';
import { HOST_TOOLS_PATH } from './hostTools';
import { isSandboxAgentServer } from './processes';
import { runTool } from './toolRunner';
import { sandboxEnvironment, type ConfinementPolicy, type SandboxEgressNetwork } from './policy';

/** How a sandbox-agent server is launched (implemented here; consumed by src/providers/local/sandboxAgentProcess.ts). */
export interface AgentLauncher {
  /**
   * The Unix socket the host reaches the server through (the server then runs without a token and
   * listens only inside the sandbox's network namespace); absent for a server on the host's loopback.
   */
  readonly socketPath?: string;
  /** Prepares a start on `port` (limits, network namespace with the port forwarded). */
  prepare(port: number): Promise<void>;
  /**
   * The program to spawn for `binary args` with the server's own variables `env` (host paths), and the
   * directory to spawn it in when not the server's HOME: the host's wrappers (cgexec, ip, setpriv,
   * bwrap) never run in a directory the sandbox can write.
   */
  command(binary: string, args: readonly string[], env: Record<string, string>): { file: string; args: string[]; env: NodeJS.ProcessEnv; cwd?: string };
  /** The pid of the server itself once it answers (not of its wrappers), or null if it cannot be found. */
  serverPid(spawnedPid: number): number | null;
  /** Ends whatever a failed start left and releases what `prepare` made. */
  abort(): Promise<void>;
}

/** Host directories of one sandbox (src/providers/local/layout.ts). */
export interface SandboxDirs {
  /** The sandbox's directory on the host: root's, mode 0711 (the sandbox's uid may only pass through). */
  root: string;
  /** Host-only records (agent.json, sessions/, pid files, the launcher's output, the disk image): root's, 0700, never mounted. */
  host: string;
  /** Mount point of the sandbox's own filesystem (./disk.ts), holding repo/, home/, logs/; root's. */
  disk: string;
  /** The sandbox's disk image, in `host`. */
  diskImage: string;
  repo: string;
  home: string;
  logs: string;
  /** Agent launchers, read-only inside: root's. */
  bin: string;
}

/** The outcome of a command run inside a sandbox ({@link SandboxConfinement.runInside}). */
export interface InsideResult {
  /** Exit code, or null when it was ended by a signal (e.g. its time limit). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the server directly, with only the environment allowlist (isolation `none`, and the default
 * of src/providers/local/sandboxAgentProcess.ts `startSandboxAgent`).
 */
export function directLauncher(policy: Pick<ConfinementPolicy, 'passEnv'>): AgentLauncher {
  return {
    prepare: async () => undefined,
    command: (binary, args, env) => ({ file: binary, args: [...args], env: sandboxEnvironment(env, policy) }),
    serverPid: (spawned) => spawned,
    abort: async () => undefined,
  };
}

export class SandboxConfinement {
  constructor(
    private readonly policy: ConfinementPolicy,
    private readonly sandboxKey: string,
    private readonly dirs: SandboxDirs,
  ) {}

  get isolated(): boolean {
    return this.policy.isolation !== 'none';
  }

  /** The checkout's path as the sandbox's processes see it (the cwd of agent sessions). */
  get repoPathInside(): string {
    return this.isolated ? SANDBOX_PATHS.repo : this.dirs.repo;
  }

  /** sandbox-agent's log directory as the sandbox sees it (as runInside's commands see it). */
  get logsPathInside(): string {
    return this.isolated ? SANDBOX_PATHS.logs : this.dirs.logs;
  }

  /** Whether the sandbox's files sit on a size-limited filesystem of their own. */
  private get diskLimited(): boolean {
    return this.isolated && this.policy.limits.diskMb > 0;
  }

  /** The host-side files of the sandbox's network, in its host-only directory. */
  private get networkFiles(): SandboxNetworkFiles {
    return {
      pastaPid: path.join(this.dirs.host, 'pasta.pid'),
      forwarderPid: path.join(this.dirs.host, 'forwarder.pid'),
      egressForwarderPid: path.join(this.dirs.host, 'egress-forwarder.pid'),
      agentSocket: this.agentSocket,
    };
  }

  /** The Unix socket the host reaches the sandbox's agent through (src/confinement/network.ts). */
  get agentSocket(): string {
    return path.join(this.dirs.host, 'agent.sock');
  }

  /**
   * Makes the sandbox's directories as its confinement needs them (idempotent): the root (0711), the
   * host-only records directory (0700), bin/, the sandbox's own filesystem mounted (when a disk limit
   * is set), and home/ and logs/ (and repo/ with `withRepo`) on it, owned by the host uid. A directory
   * that exists is left as it is: the host never changes what the sandbox may have written.
   */
  async prepareFilesystem(opts: { withRepo?: boolean } = {}): Promise<void> {
    await mkdirOwned(this.dirs.root, 0o711, 0);
    await mkdirOwned(this.dirs.host, 0o700, 0);
    await mkdirOwned(this.dirs.bin, 0o755, 0);
    if (this.diskLimited) await ensureSandboxDisk(this.dirs.diskImage, this.dirs.disk, this.policy.limits.diskMb);
    else await mkdirOwned(this.dirs.disk, 0o755, 0);
    const owner = this.isolated ? this.policy.hostUid : null;
    for (const dir of [this.dirs.home, this.dirs.logs, ...(opts.withRepo ? [this.dirs.repo] : [])]) await mkdirOwned(dir, 0o755, owner);
  }

  /**
   * Hands a tree the host made (a fresh clone, before the sandbox ever saw it) to the sandbox: every
   * entry's owner becomes the host uid, symlinks themselves changed and never followed. No-op when
   * not isolated.
   */
  async giveToSandbox(dir: string): Promise<void> {
    if (!this.isolated) return;
    await chownTree(dir, this.policy.hostUid);
  }

  /**
   * The launcher for this sandbox's sandbox-agent. With `egress`, the sandbox's network forwards one
   * port to the egress proxy and has a route out only when the workspace's policy is `allow`.
   */
  launcher(egress?: SandboxEgressNetwork): AgentLauncher {
    if (!this.isolated) return directLauncher(this.policy);
    const outbound = egress ? (egress.mode === 'allow' ? 'allow' : 'deny') : this.policy.outbound;
    return {
      socketPath: this.agentSocket,
      prepare: async (port) => {
        // Every mount source must exist (a sandbox destroyed by a kill while this step waited has none;
        // the step then starts, returns, and is cleaned up like any step that outran a kill).
        await this.prepareFilesystem({ withRepo: true });
        await createSandboxCgroup(this.sandboxKey, this.policy.limits);
        await createSandboxNetwork(this.sandboxKey, port, outbound, this.networkFiles, egress?.proxySocket);
      },
      command: (binary, args, env) => {
        const confined = this.confinedArgs(SANDBOX_PATHS.agentBinary, args, env, { agentBinary: binary });
        const [file, ...rest] = [...cgexecPrefix(this.sandboxKey), ...netnsExecPrefix(this.sandboxKey), ...confined];
        // bubblewrap moves the server into SANDBOX_PATHS.repo (--chdir); the wrappers run in `/`.
        return { file: file!, args: rest, env: { PATH: HOST_TOOLS_PATH }, cwd: '/' };
      },
      serverPid: () => this.agentProcesses()[0] ?? null,
      abort: () => this.release(),
    };
  }

  /**
   * Runs `command args` (a program on the sandbox's PATH, paths as the sandbox sees them) inside the
   * sandbox: as its uid, under its limits, with its mounts, in SANDBOX_PATHS.repo, with no network,
   * ended with everything it started after `timeoutMs` or when the worker dies (it is started by the
   * host-tool runner, ./toolRunner.ts, which exits with the worker; bubblewrap dies with it). This is how the host
   * works in a tree the sandbox could have touched: never with its own tools (docs/SECURITY.md#host-trust).
   * Without isolation (UNSAFE) it runs directly in the checkout. `opts.readOnly`: host paths it also
   * sees, read-only, at the same path (./bwrap.ts BwrapMounts.readOnly).
   */
  async runInside(command: string, args: readonly string[], timeoutMs: number, opts: { readOnly?: readonly string[] } = {}): Promise<InsideResult> {
    let run: { argv: string[]; env: Record<string, string>; cwd?: string };
    if (this.isolated) {
      await this.prepareFilesystem({ withRepo: true });
      await createSandboxCgroup(this.sandboxKey, this.policy.limits);
      run = {
        argv: [...cgexecPrefix(this.sandboxKey), ...this.confinedArgs(command, args, {}, { network: false, dieWithParent: true, readOnly: opts.readOnly })],
        env: { PATH: HOST_TOOLS_PATH },
      };
    } else {
      run = { argv: [command, ...args], env: sandboxEnvironment({ HOME: this.dirs.home, PATH: HOST_TOOLS_PATH }, this.policy), cwd: this.dirs.repo };
    }
    const [file, ...argv] = run.argv as [string, ...string[]];
    // Started by the host-tool runner (./toolRunner.ts), not forked from the worker.
    return runTool(file, argv, run.env, timeoutMs, run.cwd);
  }

  /**
   * setpriv + bwrap arguments that run `program args` (as the sandbox sees it) confined as the host
   * uid; `agentBinary` (a host path) is mounted read-only at SANDBOX_PATHS.agentBinary.
   */
  private confinedArgs(
    program: string,
    args: readonly string[],
    env: Record<string, string>,
    opts: { network?: boolean; dieWithParent?: boolean; agentBinary?: string; readOnly?: readonly string[] },
  ): string[] {
    const nodeDir = path.dirname(process.execPath);
    const agents = this.policy.agentsDir && existsSync(path.join(this.policy.agentsDir, 'bin')) ? this.policy.agentsDir : undefined;
    const mounts: BwrapMounts = {
      repo: this.dirs.repo,
      home: this.dirs.home,
      logs: this.dirs.logs,
      bin: this.dirs.bin,
      agentBinary: opts.agentBinary,
      nodeDir,
      agents,
      readOnly: opts.readOnly,
    };
    // The program's own variables, with its directories as the sandbox sees them.
    const own = { ...env, HOME: SANDBOX_PATHS.home, SANDBOX_AGENT_LOG_DIR: SANDBOX_PATHS.logs, PATH: sandboxPath(nodeDir) };
    return [...dropToHostUid(this.policy.hostUid), 'bwrap', ...bwrapArgs(mounts, sandboxEnvironment(own, this.policy), program, args, opts)];
  }

  /** Pids of the sandbox's live sandbox-agent servers (host pids). */
  agentProcesses(): number[] {
    return cgroupProcesses(this.sandboxKey).filter(isSandboxAgentServer);
  }

  /** Every process of the sandbox (host pids), whatever started it. */
  processes(): number[] {
    return cgroupProcesses(this.sandboxKey);
  }

  /** Ends every process of the sandbox, including detached ones, and removes its network namespace and groups. */
  async release(): Promise<void> {
    if (!this.isolated) return;
    await destroySandboxCgroup(this.sandboxKey);
    await deleteSandboxNetwork(this.sandboxKey, this.networkFiles);
  }
}

/** mkdir that leaves an existing directory alone; a new one gets `mode` and, when given, `owner` (uid = gid). */
async function mkdirOwned(dir: string, mode: number, owner: number | null): Promise<void> {
  const made = await mkdir(dir, { mode }).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return false;
      throw err;
    },
  );
  if (!made) return;
  await chmod(dir, mode); // mkdir's mode passes through the umask
  if (owner !== null) await chown(dir, owner, owner);
}

/** lchown of every entry under `dir` (and `dir`), depth first; symlinks are changed themselves, never followed. */
async function chownTree(dir: string, uid: number): Promise<void> {
  await lchown(dir, uid, uid);
  if (!(await lstat(dir)).isDirectory()) return;
  for await (const entry of await opendir(dir)) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(full, uid);
    else await lchown(full, uid, uid);
  }
}

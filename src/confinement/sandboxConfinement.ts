/**
 * One local sandbox's confinement, put together (docs/SECURITY.md): cgroup limits (./cgroups.ts),
 * its own network namespace (./network.ts) and bubblewrap's namespaces and mounts (./bwrap.ts).
 * The local provider starts the sandbox's sandbox-agent through {@link SandboxConfinement.launcher};
 * everything the agent then runs inherits all of it.
 *
 *   cgexec -g memory,pids,cpu:tps-sandboxes/<key>   limits, and the list of every process
 *     ip netns exec tps-<key>                        no host loopback; pasta forwards the agent port
 *       bwrap …                                      uid 1000 in its own user namespace, own PID
 *                                                    namespace, only /usr and /sandbox/* mounted
 *         /opt/sandbox-agent/sandbox-agent server …
 *
 * With isolation `none` (UNSAFE, development only) the server runs directly, but still with the
 * environment allowlist.
 */
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { cgexecPrefix, cgroupProcesses, createSandboxCgroup, destroySandboxCgroup } from './cgroups';
import { SANDBOX_PATHS, bwrapArgs, sandboxPath, type BwrapMounts } from './bwrap';
import { createSandboxNetwork, deleteSandboxNetwork, netnsExecPrefix } from './network';
import { HOST_TOOLS_PATH } from './hostTools';
import { isSandboxAgentServer } from './processes';
import { sandboxEnvironment, type ConfinementPolicy } from './policy';

/** How a sandbox-agent server is launched (implemented here; consumed by src/providers/local/sandboxAgentProcess.ts). */
export interface AgentLauncher {
  /** Prepares a start on `port` (limits, network namespace with the port forwarded). */
  prepare(port: number): Promise<void>;
  /** The program to spawn for `binary args` with the server's own variables `env` (host paths). */
  command(binary: string, args: readonly string[], env: Record<string, string>): { file: string; args: string[]; env: NodeJS.ProcessEnv };
  /** The pid of the server itself once it answers (not of its wrappers), or null if it cannot be found. */
  serverPid(spawnedPid: number): number | null;
  /** Ends whatever a failed start left and releases what `prepare` made. */
  abort(): Promise<void>;
}

/** Host directories of one sandbox. */
interface SandboxDirs {
  /** The sandbox's directory on the host (holds the provider's own records, never mounted). */
  root: string;
  repo: string;
  home: string;
  logs: string;
  bin: string;
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

  private get pastaPidFile(): string {
    return path.join(this.dirs.root, 'pasta.pid');
  }

  /** The launcher for this sandbox's sandbox-agent. */
  launcher(): AgentLauncher {
    if (!this.isolated) return directLauncher(this.policy);
    const nodeDir = path.dirname(process.execPath);
    return {
      prepare: async (port) => {
        // Every mount source must exist (a sandbox destroyed by a kill while this step waited has none;
        // the step then starts, returns, and is cleaned up like any step that outran a kill).
        for (const dir of [this.dirs.repo, this.dirs.home, this.dirs.logs, this.dirs.bin]) await mkdir(dir, { recursive: true });
        await createSandboxCgroup(this.sandboxKey, this.policy.limits);
        await createSandboxNetwork(this.sandboxKey, port, this.policy.outbound, this.pastaPidFile);
      },
      command: (binary, args, env) => {
        const mounts: BwrapMounts = { repo: this.dirs.repo, home: this.dirs.home, logs: this.dirs.logs, bin: this.dirs.bin, agentBinary: binary, nodeDir };
        // The server's own variables, with its directories as the sandbox sees them.
        const own = { ...env, HOME: SANDBOX_PATHS.home, SANDBOX_AGENT_LOG_DIR: SANDBOX_PATHS.logs, PATH: sandboxPath(nodeDir) };
        const confined = bwrapArgs(mounts, sandboxEnvironment(own, this.policy), SANDBOX_PATHS.agentBinary, args);
        const [cgexec, ...cgexecArgs] = cgexecPrefix(this.sandboxKey);
        return {
          file: cgexec!,
          args: [...cgexecArgs, ...netnsExecPrefix(this.sandboxKey), 'bwrap', ...confined],
          env: { PATH: HOST_TOOLS_PATH },
        };
      },
      serverPid: () => this.agentProcesses()[0] ?? null,
      abort: () => this.release(),
    };
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
    await deleteSandboxNetwork(this.sandboxKey, this.pastaPidFile);
  }
}

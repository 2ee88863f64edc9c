/**
 * What confinement a local sandbox gets (docs/SECURITY.md): the switch, the network switch, the
 * resource limits, and the environment allowlist. Pure data and functions: no I/O.
 */

/** `bwrap`: namespaces + mounts (bubblewrap), own network namespace (pasta), cgroup limits. `none`: UNSAFE, development only. */
type IsolationMode = 'bwrap' | 'none';

export interface ResourceLimits {
  /** Memory of every process of the sandbox together, in MiB (cgroup memory.limit_in_bytes); beyond it the kernel's OOM killer ends the largest. */
  memoryMb: number;
  /** Processes and threads of the sandbox together (cgroup pids.max); a fork beyond it fails with EAGAIN. */
  pidsMax: number;
  /** CPU time, in percent of one core (cgroup cpu.cfs_quota_us over a 100 ms period): 100 = one core. */
  cpuPercent: number;
  /**
   * Disk space of the sandbox's own files (checkout, HOME, logs), in MiB: they live on a filesystem of
   * that size of its own (an ext4 image on a loop device), so a write past it fails with ENOSPC and
   * nothing else on the host fills up. 0 = no limit (its files then share the host's filesystem).
   */
  diskMb: number;
}

export interface ConfinementPolicy {
  isolation: IsolationMode;
  /**
   * `allow`: the sandbox may open connections to the outside world (through pasta); `deny`: none at all.
   * The host's loopback is never reachable. Used for a sandbox started without the egress proxy; with
   * it, its workspace's egress policy decides (src/egress, {@link SandboxEgressNetwork}).
   */
  outbound: 'allow' | 'deny';
  limits: ResourceLimits;
  /**
   * Host uid and gid every sandbox process runs as (bubblewrap is started as this user, so uid 1000
   * inside maps to it outside): not root and not the service's, so what a sandbox writes is owned by
   * an account that can do nothing on the host, and a setuid bit it sets gives nothing.
   */
  hostUid: number;
  /** Host directory of the installed agents (AGENTS_DIR), given to every sandbox read-only; none when absent. */
  agentsDir?: string;
  /**
   * Names of variables of the service's environment a sandbox is meant to carry (e.g. an agent's API
   * key); nothing else of the service's environment reaches a sandbox.
   */
  passEnv: readonly string[];
}

/** How a sandbox's network reaches the egress proxy (src/egress), given to its launcher. */
export interface SandboxEgressNetwork {
  /** The workspace's policy: only `allow` gives the sandbox a route out; otherwise the proxy is its one way out. */
  mode: 'deny' | 'allowlist' | 'allow';
  /** The proxy's Unix socket on the host. */
  proxySocket: string;
}

/** Defaults: isolated, outbound allowed, 2 GiB, 512 processes, one core, 10 GiB of disk, host uid 90000, no variables passed. */
export const DEFAULT_CONFINEMENT: ConfinementPolicy = {
  isolation: 'bwrap',
  outbound: 'allow',
  limits: { memoryMb: 2048, pidsMax: 512, cpuPercent: 100, diskMb: 10_240 },
  hostUid: 90_000,
  passEnv: [],
};

/**
 * The whole environment of a sandbox's processes: `own` (HOME, PATH and sandbox-agent's settings,
 * chosen by the provider), the variables named by `policy.passEnv` that `hostEnv` has, and the
 * locale. Built from this allowlist only: no variable of the service's own (API_TOKENS,
 * DATABASE_URL, TEMPORAL_*, ...) can reach a sandbox unless named in passEnv.
 */
export function sandboxEnvironment(own: Record<string, string>, policy: Pick<ConfinementPolicy, 'passEnv'>, hostEnv: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const passed = Object.fromEntries(policy.passEnv.flatMap((name) => (hostEnv[name] !== undefined ? [[name, hostEnv[name]!]] : [])));
  return { LANG: 'C.UTF-8', ...passed, ...own };
}

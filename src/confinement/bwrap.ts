/**
 * The sandbox's view of the machine, as bubblewrap arguments: its own user namespace (an unprivileged
 * uid), PID, IPC and UTS namespaces, a new session, an empty environment plus the allowlist, and a
 * filesystem made only of: the system toolchains read-only (/usr, with the usual /bin, /lib links, and
 * the few /etc files TLS and name resolution need), a private /tmp, fresh /proc and /dev, and the
 * sandbox's own directories under /sandbox. Nothing else of the host is mounted: not the service's
 * checkout, not `.data/`, not another sandbox, not the host's /root, /home or /etc.
 */
import path from 'node:path';

/** Where the sandbox's own directories appear inside it. */
export const SANDBOX_PATHS = {
  /** The repository checkout (read-write). */
  repo: '/sandbox/repo',
  /** HOME: agents install here (read-write). */
  home: '/sandbox/home',
  /** sandbox-agent's logs (read-write). */
  logs: '/sandbox/logs',
  /** Agent launchers the provider puts first on PATH (read-only). */
  bin: '/sandbox/bin',
  /** The sandbox-agent binary (read-only). */
  agentBinary: '/opt/sandbox-agent/sandbox-agent',
  /** The installed coding agents (AGENTS_DIR, read-only); its bin/ is on PATH. */
  agents: '/opt/agents',
} as const;

/** Unprivileged uid and gid the sandbox runs as, inside its own user namespace (outside it is the policy's `hostUid`). */
export const SANDBOX_UID = 1000;

/**
 * `setpriv` arguments that drop from root to `hostUid` (uid and gid, no supplementary groups, no
 * capabilities, no new privileges) before bubblewrap runs: bubblewrap then makes its user namespace
 * as that user, so uid 1000 inside maps to `hostUid` outside, never to root.
 */
// prettier-ignore
export function dropToHostUid(hostUid: number): string[] {
  return [
    'setpriv', `--reuid=${hostUid}`, `--regid=${hostUid}`, '--clear-groups',
    '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--',
  ];
}

/** Host files, beside /usr, a sandbox needs read-only (each only if present). */
const HOST_READ_ONLY = ['/etc/ssl', '/etc/ca-certificates', '/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/alternatives'];

export interface BwrapMounts {
  /** Host directories behind SANDBOX_PATHS.repo / home / logs / bin. */
  repo: string;
  home: string;
  logs: string;
  bin: string;
  /** Host path of the sandbox-agent binary, mounted read-only at SANDBOX_PATHS.agentBinary (when given). */
  agentBinary?: string;
  /** Host directory of the Node.js that runs launchers written in JavaScript, when it is not under /usr. */
  nodeDir?: string;
  /**
   * Host directory of the installed agents (scripts/install-agents.sh), mounted read-only at
   * SANDBOX_PATHS.agents; its etc/codex and etc/claude-code become /etc/codex and /etc/claude-code
   * (the agents' managed settings: model requests to the egress proxy).
   */
  agents?: string;
  /**
   * Host paths mounted read-only at the same path (a warm pool claim's fetch: the repository the task
   * names, checked against the repository policy right before). Never a path a sandbox can write.
   */
  readOnly?: readonly string[];
}

/** The system toolchains, read-only: /usr and Debian's merged-/usr links. Used for sandboxes and for the host check. */
// prettier-ignore
export const SYSTEM_MOUNTS: readonly string[] = [
  '--ro-bind', '/usr', '/usr',
  '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/sbin', '/sbin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64',
];

/**
 * `bwrap` arguments that run `command args` (paths as the sandbox sees them) confined, with exactly
 * `env` as its environment and SANDBOX_PATHS.repo as its working directory. With `network: false`
 * it also gets a network namespace of its own with nothing in it (for a command that needs no
 * network, such as a checkout; the agent instead runs in the sandbox's prepared namespace). With
 * `dieWithParent` everything it started ends when its parent (the worker) does.
 */
// prettier-ignore
export function bwrapArgs(mounts: BwrapMounts, env: Record<string, string>, command: string, args: readonly string[], opts: { network?: boolean; dieWithParent?: boolean } = {}): string[] {
  return [
    '--unshare-user', '--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_UID),
    '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', 'sandbox', '--unshare-cgroup-try',
    ...(opts.network === false ? ['--unshare-net'] : []),
    ...(opts.dieWithParent ? ['--die-with-parent'] : []),
    '--new-session',
    '--clearenv',
    ...Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v]),
    ...SYSTEM_MOUNTS,
    ...HOST_READ_ONLY.flatMap((p) => ['--ro-bind-try', p, p]),
    '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
    '--bind', mounts.repo, SANDBOX_PATHS.repo,
    '--bind', mounts.home, SANDBOX_PATHS.home,
    '--bind', mounts.logs, SANDBOX_PATHS.logs,
    '--ro-bind', mounts.bin, SANDBOX_PATHS.bin,
    ...(mounts.agentBinary ? ['--ro-bind', mounts.agentBinary, SANDBOX_PATHS.agentBinary] : []),
    ...(mounts.nodeDir && !mounts.nodeDir.startsWith('/usr/') ? ['--ro-bind', mounts.nodeDir, mounts.nodeDir] : []),
    ...(mounts.agents
      ? ['--ro-bind', mounts.agents, SANDBOX_PATHS.agents,
         '--ro-bind-try', path.join(mounts.agents, 'etc', 'codex'), '/etc/codex',
         '--ro-bind-try', path.join(mounts.agents, 'etc', 'claude-code'), '/etc/claude-code']
      : []),
    ...(mounts.readOnly ?? []).flatMap((p) => ['--ro-bind', p, p]),
    '--remount-ro', '/', // the sandbox's own root (a tmpfs holding the mount points) is not writable either
    '--chdir', SANDBOX_PATHS.repo,
    '--', command, ...args,
  ];
}

/** PATH inside a sandbox: its launchers, the installed agents, then the system's, then Node's directory if elsewhere. */
export function sandboxPath(nodeDir: string): string {
  return [SANDBOX_PATHS.bin, path.join(SANDBOX_PATHS.agents, 'bin'), '/usr/local/bin', '/usr/bin', '/bin', ...(nodeDir.startsWith('/usr/') ? [] : [nodeDir])].join(path.delimiter);
}

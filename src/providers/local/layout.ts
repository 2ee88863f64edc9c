/**
 * Where a local sandbox's files are on the host (docs/SECURITY.md#host-trust):
 *
 *   <sandboxRoot>/.egress/proxy.sock      the sandbox host's egress proxy ({@link egressSocketPath}; no sandbox sees it)
 *   <sandboxRoot>/<sandboxKey>/            root's, 0711: the sandbox's uid may pass through, nothing more
 *     host/                                root's, 0700, never mounted into the sandbox: the provider's records
 *       agent.json                         the running sandbox-agent: { pid, port, baseUrl, token, socketPath }
 *       agent.sock                         the Unix socket the host reaches it through (root, 0600; socat)
 *       forwarder.pid                      socat's pid
 *       sessions/<sessionKey>.json         an agent session: { serverId, sessionId?, agent, attempt }
 *       pasta.pid                          the pasta process of the sandbox's network namespace
 *       sandbox-agent.out                  the server's stdout and stderr (opened with O_NOFOLLOW)
 *       disk.img                           the sandbox's own filesystem (SANDBOX_DISK_MB)
 *     bin/                                 root's; /sandbox/bin inside, read-only: the offline ACP agent
 *     disk/                                mount point of disk.img (root's), holding what the sandbox owns:
 *       repo/                              the checkout, on the task's branch   (/sandbox/repo)
 *       home/                              HOME: the agents' installs           (/sandbox/home)
 *       logs/                              sandbox-agent's own logs             (/sandbox/logs)
 *
 * The host reads and writes only in `host/` and `bin/`. It never follows a link under `disk/`, and its
 * own git never runs there once the sandbox could have touched it (src/providers/local/git.ts).
 */
import path from 'node:path';
import type { SandboxDirs } from '../../confinement/sandboxConfinement';

/** A sandbox key (the `sandboxes.id` row) is also a directory name: letters, digits and dashes only. */
export const SANDBOX_KEY = /^[A-Za-z0-9-]+$/;

/** Host paths of the sandbox `sandboxKey` under `sandboxRoot` (no I/O). */
export function sandboxLayout(sandboxRoot: string, sandboxKey: string): SandboxDirs {
  const root = path.join(sandboxRoot, sandboxKey);
  const host = path.join(root, 'host');
  const disk = path.join(root, 'disk');
  return {
    root,
    host,
    disk,
    diskImage: path.join(host, 'disk.img'),
    repo: path.join(disk, 'repo'),
    home: path.join(disk, 'home'),
    logs: path.join(disk, 'logs'),
    bin: path.join(root, 'bin'),
  };
}

/** Where a sandbox host's egress proxy listens: in the sandbox root, which no sandbox sees. */
export function egressSocketPath(sandboxRoot: string): string {
  return `${sandboxRoot}/.egress/proxy.sock`;
}

/**
 * A sandbox's network: its own network namespace (iproute2's `ip netns`), where 127.0.0.1 is the
 * sandbox's own loopback, so the host's loopback services (Postgres, the Temporal frontend, the API,
 * other sandboxes) cannot be reached from inside. pasta (Debian's `passt`) attaches to it, brings its
 * loopback up and, with outbound `allow`, carries the sandbox's connections to the outside world
 * (never to the host's loopback: `--no-map-gw`); with `deny` the namespace has no route out at all.
 *
 * The sandbox reaches the host's egress proxy (src/egress) the other way round: a second socat inside
 * the namespace listens on 127.0.0.1:EGRESS_PORT_IN_SANDBOX, the sandbox's own loopback, and connects
 * to the proxy's Unix socket on the host. That one port is all of the host a sandbox can reach.
 *
 * The host reaches the sandbox's sandbox-agent through a Unix socket in the sandbox's host-only
 * directory (root's, mode 0600): socat (Debian's `socat`), started inside the namespace, accepts on
 * it and connects to the agent's port on the namespace's own loopback. Nothing of the sandbox listens
 * on the host's network, so the agent needs no token, and no other host user can reach it.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfinementPolicy } from './policy';
import { processName } from './processes';
import { ConfinementToolError, HOST_TOOLS_PATH, runTool } from './hostTools';
import { spawnDetachedTool } from './toolRunner';

/** Name of the sandbox's network namespace (/run/netns/<name>). */
export function netnsOf(sandboxKey: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(sandboxKey)) throw new Error(`invalid sandbox key ${sandboxKey}`);
  return `tps-${sandboxKey}`;
}

/** The command prefix that runs a program inside the sandbox's network namespace. */
export function netnsExecPrefix(sandboxKey: string): string[] {
  return ['ip', 'netns', 'exec', netnsOf(sandboxKey)];
}

/** The port on a sandbox's own loopback where the host's egress proxy answers (agents/etc/codex/managed_config.toml names it too). */
export const EGRESS_PORT_IN_SANDBOX = 7480;

/** Host-side files of a sandbox's network (all in its host-only directory). */
export interface SandboxNetworkFiles {
  /** Where pasta writes its pid. */
  pastaPid: string;
  /** Where the socat forwarder's pid is kept. */
  forwarderPid: string;
  /** Where the egress forwarder's pid is kept. */
  egressForwarderPid: string;
  /** The Unix socket the host reaches the sandbox's agent through. */
  agentSocket: string;
}

/**
 * Makes the sandbox's namespace anew (an earlier one, e.g. of a failed attempt, is removed first),
 * the forwarder from `files.agentSocket` to 127.0.0.1:`port` inside it and, given `egressSocket`, the
 * forwarder from 127.0.0.1:{@link EGRESS_PORT_IN_SANDBOX} inside it to the egress proxy's socket.
 * @throws ConfinementToolError when `ip netns`, pasta or socat fail.
 */
export async function createSandboxNetwork(
  sandboxKey: string,
  port: number,
  outbound: ConfinementPolicy['outbound'],
  files: SandboxNetworkFiles,
  egressSocket?: string,
): Promise<void> {
  await deleteSandboxNetwork(sandboxKey, files);
  const name = netnsOf(sandboxKey);
  await runTool('ip', ['netns', 'add', name]);
  // pasta daemonizes once the namespace is configured; --runas 0 because it may not drop to `nobody`
  // and still enter a namespace made by root.
  // prettier-ignore
  await runTool('pasta', [
    '--config-net', '--quiet', '--no-map-gw', '--runas', '0',
    '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', // nothing forwarded in: the agent is reached through the socket
    '--pid', files.pastaPid,
    '--netns', name,
  ]);
  if (outbound === 'deny') {
    for (const family of ['-4', '-6']) await runTool('ip', ['netns', 'exec', name, 'ip', family, 'route', 'flush', 'table', 'main']).catch(() => undefined);
  }
  // prettier-ignore
  await startForwarder(name, [`UNIX-LISTEN:${files.agentSocket},fork,mode=600,unlink-early`, `TCP4:127.0.0.1:${port}`], files.forwarderPid);
  if (egressSocket) {
    // prettier-ignore
    await startForwarder(name, [`TCP4-LISTEN:${EGRESS_PORT_IN_SANDBOX},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${egressSocket}`], files.egressForwarderPid);
  }
}

/** Starts socat `addresses` inside namespace `name`, detached, and keeps its pid in `pidFile`. */
async function startForwarder(name: string, addresses: string[], pidFile: string): Promise<void> {
  const pid = await spawnDetachedTool('ip', ['netns', 'exec', name, 'socat', ...addresses], { PATH: HOST_TOOLS_PATH }).catch((err: Error) => {
    throw new ConfinementToolError('socat', 'socat could not be started (Debian package socat)', { cause: err });
  });
  writeFileSync(pidFile, String(pid), { mode: 0o600 });
}

/** Ends the sandbox's forwarder and pasta and removes its namespace and socket; no error when they are gone. */
export async function deleteSandboxNetwork(sandboxKey: string, files: SandboxNetworkFiles): Promise<void> {
  for (const [pidFile, name] of [
    [files.forwarderPid, 'socat'],
    [files.egressForwarderPid, 'socat'],
    [files.pastaPid, 'pasta'],
  ] as const) {
    if (!existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    // pasta runs as `passt.avx2` (or `passt`) on Debian: its comm does not say pasta.
    const comm = processName(pid) ?? '';
    if (pid > 0 && (name === 'pasta' ? /^pas(ta|st)/.test(comm) : comm.startsWith(name))) {
      try {
        process.kill(pid, name === 'socat' ? 'SIGKILL' : 'SIGTERM');
      } catch {
        // gone
      }
    }
    rmSync(pidFile, { force: true });
  }
  rmSync(files.agentSocket, { force: true });
  if (existsSync(path.join('/run/netns', netnsOf(sandboxKey)))) await runTool('ip', ['netns', 'del', netnsOf(sandboxKey)]);
}

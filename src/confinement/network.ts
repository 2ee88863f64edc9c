/**
 * A sandbox's network: its own network namespace (iproute2's `ip netns`), where 127.0.0.1 is the
 * sandbox's own loopback, so the host's loopback services (Postgres, the Temporal frontend, the API,
 * other sandboxes' agent ports) cannot be reached from inside. pasta (Debian's `passt`) attaches to it
 * and forwards one host port, 127.0.0.1:<port>, to the same port inside, which is how the worker and
 * the API reach the sandbox's own sandbox-agent. With outbound `allow`, pasta also carries the
 * sandbox's connections to the outside world (never to the host's loopback: `--no-map-gw`); with
 * `deny` the namespace has no route out at all.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfinementPolicy } from './policy';
import { processName } from './processes';
import { runTool } from './hostTools';

/** Name of the sandbox's network namespace (/run/netns/<name>). */
export function netnsOf(sandboxKey: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(sandboxKey)) throw new Error(`invalid sandbox key ${sandboxKey}`);
  return `tps-${sandboxKey}`;
}

/** The command prefix that runs a program inside the sandbox's network namespace. */
export function netnsExecPrefix(sandboxKey: string): string[] {
  return ['ip', 'netns', 'exec', netnsOf(sandboxKey)];
}

/**
 * Makes the sandbox's namespace anew (an earlier one, e.g. of a failed attempt, is removed first),
 * with host 127.0.0.1:`port` forwarded to `port` inside.
 * @param pidFile where pasta writes its pid (on the host, outside the sandbox).
 */
export async function createSandboxNetwork(sandboxKey: string, port: number, outbound: ConfinementPolicy['outbound'], pidFile: string): Promise<void> {
  await deleteSandboxNetwork(sandboxKey, pidFile);
  const name = netnsOf(sandboxKey);
  await runTool('ip', ['netns', 'add', name]);
  // pasta daemonizes once the namespace is configured; --runas 0 because it may not drop to `nobody`
  // and still enter a namespace made by root.
  // prettier-ignore
  await runTool('pasta', [
    '--config-net', '--quiet', '--no-map-gw', '--runas', '0',
    '-t', `127.0.0.1/${port}`, '-u', 'none', '-T', 'none', '-U', 'none', // only the agent port, inbound
    '--pid', pidFile,
    '--netns', name,
  ]);
  if (outbound === 'deny') {
    for (const family of ['-4', '-6']) await runTool('ip', ['netns', 'exec', name, 'ip', family, 'route', 'flush', 'table', 'main']).catch(() => undefined);
  }
}

/** Stops the sandbox's pasta and removes its namespace; no error when there is none. */
export async function deleteSandboxNetwork(sandboxKey: string, pidFile: string): Promise<void> {
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (pid > 0 && processName(pid)?.startsWith('pasta')) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
  }
  if (existsSync(path.join('/run/netns', netnsOf(sandboxKey)))) await runTool('ip', ['netns', 'del', netnsOf(sandboxKey)]);
}

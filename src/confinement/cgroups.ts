/**
 * Per-sandbox resource limits with cgroup v1 controllers (memory, pids, cpu): groups are made and
 * limited by writing the cgroup filesystem, processes start in them through cgexec (Debian's
 * cgroup-tools, exec'd in the launch chain), and an empty group is removed with rmdir. Each sandbox gets `tps-sandboxes/<sandboxKey>`
 * in every controller; everything the sandbox runs starts inside it (cgexec), so the limits hold for
 * the agent, its tools and whatever they detach, and the group lists every process to end.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResourceLimits } from './policy';

/** Parent group of every sandbox's group. */
const CGROUP_PARENT = 'tps-sandboxes';
/** The controllers a sandbox's group has. */
export const CONTROLLERS = ['memory', 'pids', 'cpu'] as const;
const CFS_PERIOD_US = 100_000;

/** `tps-sandboxes/<key>` (the key is our sandbox id: [A-Za-z0-9-]). */
function cgroupOf(sandboxKey: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(sandboxKey)) throw new Error(`invalid sandbox key ${sandboxKey}`);
  return `${CGROUP_PARENT}/${sandboxKey}`;
}

const mounts = new Map<string, string | null>();

/**
 * Where cgroup v1 controller `controller` is mounted (from /proc/mounts), or null. Read once per
 * controller: the controllers' mounts do not move while the service runs, and this is asked in
 * polling loops.
 */
export function controllerMount(controller: string): string | null {
  if (!mounts.has(controller)) {
    const line = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find(([, , type, options]) => type === 'cgroup' && options?.split(',').includes(controller));
    mounts.set(controller, line?.[1] ?? null);
  }
  return mounts.get(controller)!;
}

/**
 * Creates the sandbox's group in every controller (no error when it exists) and sets its limits, by
 * writing the cgroup filesystem directly: no process is spawned (each spawn forks the whole worker,
 * docs/BENCHMARKS.md), which is what cgcreate and cgset cost before.
 * @throws Error when a controller is not mounted (the host check refuses to start without them), or
 *   the kernel refuses a value (e.g. a memory limit below what the group already uses).
 */
export async function createSandboxCgroup(sandboxKey: string, limits: ResourceLimits): Promise<void> {
  const group = cgroupOf(sandboxKey);
  const values: Record<(typeof CONTROLLERS)[number], Array<[file: string, value: number]>> = {
    memory: [['memory.limit_in_bytes', limits.memoryMb * 1024 * 1024]],
    pids: [['pids.max', limits.pidsMax]],
    // The period first: the quota is checked against it.
    cpu: [
      ['cpu.cfs_period_us', CFS_PERIOD_US],
      ['cpu.cfs_quota_us', Math.round((CFS_PERIOD_US * limits.cpuPercent) / 100)],
    ],
  };
  for (const controller of CONTROLLERS) {
    const mount = controllerMount(controller);
    if (!mount) throw new Error(`the cgroup controller ${controller} is not mounted`);
    const dir = path.join(mount, group);
    await mkdir(dir, { recursive: true });
    for (const [file, value] of values[controller]) await writeFile(path.join(dir, file), String(value));
  }
}

/** The command prefix that starts a program inside the sandbox's group. */
export function cgexecPrefix(sandboxKey: string): string[] {
  return ['cgexec', '-g', `${CONTROLLERS.join(',')}:${cgroupOf(sandboxKey)}`];
}

/** Pids of every process in the sandbox's group (empty when the group does not exist). */
export function cgroupProcesses(sandboxKey: string): number[] {
  const mount = controllerMount('pids');
  const file = mount ? path.join(mount, cgroupOf(sandboxKey), 'cgroup.procs') : null;
  if (!file || !existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
}

/** A controller value of the sandbox's group, e.g. `memory.failcnt`, `pids.current`; null when absent. */
export function cgroupValue(sandboxKey: string, controller: (typeof CONTROLLERS)[number], file: string): string | null {
  const mount = controllerMount(controller);
  const full = mount ? path.join(mount, cgroupOf(sandboxKey), file) : null;
  return full && existsSync(full) ? readFileSync(full, 'utf8').trim() : null;
}

/**
 * Memory every sandbox of this host uses together, in bytes: `memory.usage_in_bytes` of their parent
 * group, which counts its children's (cgroup v1 memory is hierarchical); null when there is none yet.
 */
export function sandboxesMemoryBytes(): number | null {
  const mount = controllerMount('memory');
  const file = mount ? path.join(mount, CGROUP_PARENT, 'memory.usage_in_bytes') : null;
  return file && existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : null;
}

/**
 * Ends every process of the sandbox (SIGKILL, repeated until the group is empty: a process may fork
 * while others die) and removes its groups. No error when it does not exist.
 * @throws Error if processes remain after 10 s.
 */
export async function destroySandboxCgroup(sandboxKey: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; ; await sleep(50)) {
    const pids = cgroupProcesses(sandboxKey);
    if (pids.length === 0) break;
    if (Date.now() > deadline) throw new Error(`processes of sandbox ${sandboxKey} survived SIGKILL: ${pids.join(', ')}`);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  // An empty group is removed with rmdir, controller by controller (no error for one already gone).
  for (const controller of CONTROLLERS) {
    const mount = controllerMount(controller);
    if (!mount) continue;
    await rmdir(path.join(mount, cgroupOf(sandboxKey))).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

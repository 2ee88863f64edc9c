/**
 * Whether this host can confine sandboxes. The worker runs this at start and refuses to start when
 * isolation is on and something is missing, rather than running sandboxes unconfined.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SANDBOX_UID, SYSTEM_MOUNTS, dropToHostUid } from './bwrap';
import { ensureSandboxDisk, releaseSandboxDisk } from './disk';
import type { ConfinementPolicy } from './policy';
import { CONTROLLERS, controllerMount } from './cgroups';
import { runTool } from './hostTools';

/** The host lacks what confinement needs; `missing` lists each thing, one sentence each. */
export class ConfinementUnavailableError extends Error {
  constructor(readonly missing: string[]) {
    super(
      `sandboxes cannot be confined on this host: ${missing.join('; ')} (install the Debian packages bubblewrap, passt, iproute2, cgroup-tools and socat and run as root, or set SANDBOX_ISOLATION=none for development only)`,
    );
    this.name = 'ConfinementUnavailableError';
  }
}

const TOOLS: Array<[tool: string, args: string[], pkg: string]> = [
  ['bwrap', ['--version'], 'bubblewrap'],
  ['pasta', ['--version'], 'passt'],
  ['ip', ['-V'], 'iproute2'],
  ['cgcreate', ['-h'], 'cgroup-tools'],
  ['cgexec', ['-h'], 'cgroup-tools'],
  ['setpriv', ['--version'], 'util-linux'],
  ['socat', ['-V'], 'socat'],
];

/**
 * Checks every primitive confinement uses: the tools, the cgroup v1 controllers (a probe group is
 * made and removed), network namespaces (a probe namespace is made and removed), the host uid
 * (not root, not this process's, no account's), bubblewrap making its namespaces as that uid, and,
 * with a disk limit, a probe filesystem image mounted through a loop device.
 * @throws ConfinementUnavailableError naming everything missing.
 */
export async function assertConfinementAvailable(policy: Pick<ConfinementPolicy, 'hostUid' | 'limits'>): Promise<void> {
  const missing: string[] = [];
  const uidProblem = hostUidProblem(policy.hostUid);
  if (uidProblem) missing.push(uidProblem);
  for (const [tool, args, pkg] of TOOLS) {
    await runTool(tool, args).catch((err: Error) => {
      // `cgcreate -h` exits non-zero on some versions after printing its usage: only "not found" counts.
      if (/ENOENT|not found/i.test(String((err.cause as Error | undefined)?.message ?? err.message))) missing.push(`${tool} is not installed (Debian package ${pkg})`);
    });
  }
  if (missing.length > 0) throw new ConfinementUnavailableError(missing);
  for (const controller of CONTROLLERS) if (!controllerMount(controller)) missing.push(`the cgroup v1 ${controller} controller is not mounted`);
  const probe = `tps-probe-${randomUUID().slice(0, 8)}`;
  if (missing.length === 0) {
    await runTool('cgcreate', ['-g', `${CONTROLLERS.join(',')}:${probe}`])
      .catch((err: Error) => missing.push(`cgroups cannot be created (${err.message})`))
      .finally(() => {
        // Removed from each hierarchy directly (cgdelete over several controllers left some behind).
        for (const controller of CONTROLLERS) {
          const mount = controllerMount(controller);
          try {
            if (mount && existsSync(path.join(mount, probe))) rmdirSync(path.join(mount, probe));
          } catch {
            // an empty probe group that will not go is harmless; the check's answer stands
          }
        }
      });
  }
  await runTool('ip', ['netns', 'add', probe])
    .then(() => runTool('ip', ['netns', 'del', probe]))
    .catch((err: Error) => missing.push(`network namespaces cannot be created (${err.message})`));
  const [setpriv, ...dropArgs] = dropToHostUid(policy.hostUid);
  await runTool(setpriv!, [...dropArgs, 'bwrap', '--unshare-user', '--uid', String(SANDBOX_UID), '--unshare-pid', '--unshare-net', ...SYSTEM_MOUNTS, '--', 'true']).catch(
    (err: Error) => missing.push(`bubblewrap cannot create user and PID namespaces as uid ${policy.hostUid} (${err.message})`),
  );
  if (policy.limits.diskMb > 0) {
    if (!existsSync('/dev/loop-control')) missing.push("loop devices are not available (/dev/loop-control), needed for the sandboxes' disk limit (or set SANDBOX_DISK_MB=0)");
    else {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'tps-disk-probe-'));
      await ensureSandboxDisk(path.join(dir, 'disk.img'), path.join(dir, 'mnt'), 16)
        .then(() => releaseSandboxDisk(path.join(dir, 'mnt')))
        .catch((err: Error) => missing.push(`a size-limited filesystem cannot be made and mounted (${err.message}; Debian package e2fsprogs; or set SANDBOX_DISK_MB=0)`));
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (missing.length > 0) throw new ConfinementUnavailableError(missing);
}

/** Why `uid` cannot be the sandboxes' host uid, or null when it can. */
export function hostUidProblem(uid: number, passwd = readPasswd()): string | null {
  if (uid === 0) return 'SANDBOX_HOST_UID must not be 0 (root)';
  if (uid === process.getuid?.()) return `SANDBOX_HOST_UID ${uid} is the service's own uid`;
  const account = passwd.find((entry) => entry.uid === uid);
  if (account) return `SANDBOX_HOST_UID ${uid} belongs to the account ${account.name}; choose an unused uid`;
  return null;
}

function readPasswd(): Array<{ name: string; uid: number }> {
  try {
    return readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(':'))
      .map(([name, , uid]) => ({ name: name!, uid: Number(uid) }));
  } catch {
    return [];
  }
}

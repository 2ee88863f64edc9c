/**
 * A sandbox's disk limit (docs/SECURITY.md#disk): its own files (checkout, HOME, logs) live on an ext4
 * filesystem of exactly `diskMb` MiB of its own, kept in a sparse image file on the host and mounted
 * through a loop device (`nosuid`, `nodev`). A write past the limit fails inside the sandbox with
 * ENOSPC; the host's filesystem, and Postgres and Temporal on it, never fill up because of a sandbox.
 *
 * The image takes only what is written (plus about 8 MiB of ext4 metadata and a 4 MiB journal). It
 * survives restarts; a mount lost in a reboot is made again by {@link ensureSandboxDisk} before the
 * sandbox is used.
 */
import { open, mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { runTool } from './hostTools';

/** True when `mountPoint` (an absolute, resolved path) is a mount point now, read from /proc/self/mountinfo. */
export function isMounted(mountPoint: string): boolean {
  return mountedPaths().has(mountPoint);
}

/** Every mount point of this process's mount namespace, read once from /proc/self/mountinfo (field 5, its octal escapes such as `\040` undone). */
export function mountedPaths(): Set<string> {
  return new Set(
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4])
      .filter((p): p is string => p !== undefined)
      .map((p) => p.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))),
  );
}

/**
 * Makes `image` (a sparse file of `diskMb` MiB holding an ext4 filesystem owned by root) when it does
 * not exist, and mounts it on `mountPoint` when it is not mounted. Idempotent.
 * @throws ConfinementToolError when mkfs or mount fails (no loop device, no ext4 support).
 */
export async function ensureSandboxDisk(image: string, mountPoint: string, diskMb: number): Promise<void> {
  await mkdir(mountPoint, { recursive: true, mode: 0o755 });
  if (isMounted(mountPoint)) return;
  // 'wx' fails when the image exists: an earlier attempt made it (mkfs below is then repeated only if
  // that attempt died before it finished, which `-F` on a fresh sparse file makes harmless).
  const fresh = await open(image, 'wx', 0o600).then(
    async (file) => {
      await file.truncate(diskMb * 1024 * 1024);
      await file.close();
      return true;
    },
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return false;
      throw err;
    },
  );
  if (fresh || !(await hasFilesystem(image))) {
    // -m 0: no blocks reserved for root (nothing in a sandbox is root); a 4 MiB journal instead of the
    // default 64 MiB keeps each image small on the host.
    await runTool('mkfs.ext4', ['-q', '-F', '-m', '0', '-J', 'size=4', '-E', 'root_owner=0:0', image], 60_000);
  }
  await runTool('mount', ['-t', 'ext4', '-o', 'loop,nosuid,nodev,noatime', image, mountPoint], 30_000);
}

/** Unmounts a sandbox's disk (lazily when something still holds it); no error when it is not mounted. */
export async function releaseSandboxDisk(mountPoint: string): Promise<void> {
  if (!isMounted(mountPoint)) return;
  await runTool('umount', [mountPoint]).catch(() => runTool('umount', ['-l', mountPoint]));
}

/** True when `image` starts with an ext4 superblock (magic 0xEF53 at byte 1080). */
async function hasFilesystem(image: string): Promise<boolean> {
  const file = await open(image, 'r');
  try {
    const buf = Buffer.alloc(2);
    await file.read(buf, 0, 2, 1080);
    return buf.readUInt16LE(0) === 0xef53;
  } finally {
    await file.close();
  }
}

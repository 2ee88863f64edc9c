/**
 * A throw-away sandbox root for a test run, a benchmark or a reliability script. Sandboxes run as an
 * unprivileged host uid (docs/SECURITY.md#host-trust), which must be able to pass through the root's
 * parents: a directory made by mkdtemp is 0700, so the root is made directly in the system's temp
 * directory, mode 0711 (searchable, not listable).
 */
import { chmodSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LocalProvider } from '../providers/local/localProvider';

/** Makes `<tmpdir>/<prefix>XXXXXX` with mode 0711 and returns its path; the caller removes it. */
export function createScratchSandboxRoot(prefix = 'tps-sandboxes-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return dir;
}

/**
 * Removes a scratch sandbox root and everything `local` made in it: every sandbox's processes, network
 * namespace and limits (recorded in Postgres or not), then their filesystems, then the directory.
 */
export async function removeScratchSandboxRoot(local: LocalProvider, root: string): Promise<void> {
  await local.stopAll();
  await local.unmountAll();
  await rm(root, { recursive: true, force: true });
}

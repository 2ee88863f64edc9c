/**
 * A throw-away sandbox root for a test run, a benchmark or a reliability script. Sandboxes run as an
 * unprivileged host uid (docs/SECURITY.md#host-trust), which must be able to pass through the root's
 * parents: a directory made by mkdtemp is 0700, so the root is made directly in the system's temp
 * directory, mode 0711 (searchable, not listable).
 */
import { chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Makes `<tmpdir>/<prefix>XXXXXX` with mode 0711 and returns its path; the caller removes it. */
export function createScratchSandboxRoot(prefix = 'tps-sandboxes-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return dir;
}

/**
 * On a host without the confinement primitives the worker refuses to start (isolation on), rather
 * than running sandboxes unconfined; SANDBOX_ISOLATION=none is the only way past the check.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnService } from '../../src/dev/serviceProcess';

/** Runs the worker process with a PATH that has Node and nothing else (no bwrap, pasta, ip, cgroup-tools). */
function workerWithoutTools(extraEnv: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const bin = mkdtempSync(path.join(os.tmpdir(), 'tps-bare-path-'));
  symlinkSync(process.execPath, path.join(bin, 'node'));
  // Nothing listens on these loopback ports: a worker that got past the check would fail to connect instead.
  const child = spawnService('worker', {
    env: { PATH: bin, DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none', TEMPORAL_ADDRESS: '127.0.0.1:1', LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      rmSync(bin, { recursive: true, force: true });
      resolve({ code, output });
    }),
  );
}

describe('a host without the confinement primitives', () => {
  it('makes the worker refuse to start, naming what is missing', async () => {
    const { code, output } = await workerWithoutTools({});
    expect(code).toBe(1);
    expect(output).toContain('sandboxes cannot be confined on this host');
    expect(output).toMatch(/bwrap is not installed \(Debian package bubblewrap\)/);
  });

  it('lets SANDBOX_ISOLATION=none past the check, with a warning', async () => {
    const { output } = await workerWithoutTools({ SANDBOX_ISOLATION: 'none' });
    expect(output).toContain('SANDBOX_ISOLATION=none: local sandboxes run UNCONFINED');
    expect(output).not.toContain('sandboxes cannot be confined on this host');
  });
});

/**
 * The confinement switches on their own: the environment allowlist, and the outbound switch of a
 * sandbox's network namespace (read from its routing table; no traffic is sent anywhere).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createSandboxNetwork, deleteSandboxNetwork, netnsOf } from '../../src/confinement/network';
import { sandboxEnvironment } from '../../src/confinement/policy';
import { findFreePort } from '../../src/net/freePort';
import { until } from '../support/polling';

describe('sandboxEnvironment', () => {
  it("is the provider's own variables, the locale and only the passEnv names the host has", () => {
    const host = { API_TOKENS: 'a=b', DATABASE_URL: 'postgresql://x', ANTHROPIC_API_KEY: 'k', HOME: '/root' };
    expect(sandboxEnvironment({ HOME: '/sandbox/home', PATH: '/usr/bin' }, { passEnv: ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY'] }, host)).toEqual({
      LANG: 'C.UTF-8',
      ANTHROPIC_API_KEY: 'k',
      HOME: '/sandbox/home',
      PATH: '/usr/bin',
    });
    expect(sandboxEnvironment({ HOME: '/h' }, { passEnv: [] }, host)).toEqual({ LANG: 'C.UTF-8', HOME: '/h' });
  });
});

describe('the outbound switch', () => {
  const routes = (key: string) => execFileSync('ip', ['netns', 'exec', netnsOf(key), 'ip', '-4', 'route', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  it.each([
    ['allow', true],
    ['deny', false],
  ] as const)('outbound %s: a default route out of the namespace is %s', async (outbound, hasRoute) => {
    const key = `probe-${randomUUID()}`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tps-net-'));
    const files = {
      pastaPid: path.join(dir, 'pasta.pid'),
      forwarderPid: path.join(dir, 'forwarder.pid'),
      egressForwarderPid: path.join(dir, 'egress-forwarder.pid'),
      agentSocket: path.join(dir, 'agent.sock'),
    };
    let started: number[] = [];
    try {
      await createSandboxNetwork(key, await findFreePort(), outbound, files);
      started = [files.pastaPid, files.forwarderPid].map((f) => Number(readFileSync(f, 'utf8').trim()));
      expect(/^default /m.test(routes(key))).toBe(hasRoute);
    } finally {
      await deleteSandboxNetwork(key, files);
    }
    expect(() => routes(key)).toThrow();
    // pasta (whose process name is passt.avx2 on Debian) and the forwarder were ended, not left to chance.
    expect(
      await until(
        async () => started.filter(isRunning),
        (alive) => alive.length === 0,
        2_000,
      ),
    ).toEqual([]);
    expect(readdirSync(dir)).toEqual([]); // pasta's and the forwarder's pid files and the socket are gone
    rmSync(dir, { recursive: true });
  });
});

/** True while `pid` is a live process (a zombie counts as ended). */
function isRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

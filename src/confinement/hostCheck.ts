/**
 * Whether this host can confine sandboxes. The worker runs this at start and refuses to start when
 * isolation is on and something is missing, rather than running sandboxes unconfined.
 */
import { randomUUID } from 'node:crypto';
import { SANDBOX_UID, SYSTEM_MOUNTS } from './bwrap';
import { CONTROLLERS, controllerMount } from './cgroups';
import { runTool } from './hostTools';

/** The host lacks what confinement needs; `missing` lists each thing, one sentence each. */
export class ConfinementUnavailableError extends Error {
  constructor(readonly missing: string[]) {
    super(
      `sandboxes cannot be confined on this host: ${missing.join('; ')} (install the Debian packages bubblewrap, passt, iproute2 and cgroup-tools and run as root, or set SANDBOX_ISOLATION=none for development only)`,
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
];

/**
 * Checks every primitive confinement uses: the tools, the cgroup v1 controllers (a probe group is
 * made and removed), network namespaces (a probe namespace is made and removed), and an unprivileged
 * user namespace through bubblewrap.
 * @throws ConfinementUnavailableError naming everything missing.
 */
export async function assertConfinementAvailable(): Promise<void> {
  const missing: string[] = [];
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
      .then(() => runTool('cgdelete', ['-g', `${CONTROLLERS.join(',')}:${probe}`]))
      .catch((err: Error) => missing.push(`cgroups cannot be created (${err.message})`));
  }
  await runTool('ip', ['netns', 'add', probe])
    .then(() => runTool('ip', ['netns', 'del', probe]))
    .catch((err: Error) => missing.push(`network namespaces cannot be created (${err.message})`));
  await runTool('bwrap', ['--unshare-user', '--uid', String(SANDBOX_UID), '--unshare-pid', '--unshare-net', ...SYSTEM_MOUNTS, '--', 'true']).catch((err: Error) =>
    missing.push(`bubblewrap cannot create user and PID namespaces (${err.message})`),
  );
  if (missing.length > 0) throw new ConfinementUnavailableError(missing);
}

/**
 * The host never acts on what a sandbox controls (docs/SECURITY.md#host-trust). Each test plants its
 * attack from inside a real provisioned, confined sandbox through the sandbox's own
 * `POST /v1/processes/run` (the door an agent's tools use), then triggers the host action that used to
 * act on it, and checks that nothing happened on the host.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import { DEFAULT_CONFINEMENT } from '../../src/confinement/policy';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { runOf } from '../../src/dev/stack/runs';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { readStack } from '../../src/dev/stack/stackFile';
import type { LocalProvider } from '../../src/providers/local/localProvider';
import { isProcessAlive } from '../../src/providers/local/sandboxAgentProcess';
import { ProviderError, type SandboxProvider } from '../../src/providers/types';
import { run, sandboxOf, sh, type Sandbox } from '../support/insideSandbox';
import { sandboxGit } from '../support/sandboxGit';

const WORKSPACE = 'ws-host-trust';
const DISK_MB = 32;

describe('the host never trusts what a sandbox wrote', () => {
  let services: TestServices;
  let repo: string;
  /** Fails the next createSession once (after ensureAgent ran), so the task ends in `error` with its sandbox kept. */
  let failNextSession = false;
  /** A host directory no sandbox can see: the markers an attack would make on the host go here. */
  const hostDir = path.join(readStack().workDir, `host-trust-${randomUUID()}`);
  mkdirSync(hostDir);

  beforeAll(async () => {
    services = await startServices({
      confinement: { ...DEFAULT_CONFINEMENT, limits: { ...DEFAULT_CONFINEMENT.limits, diskMb: DISK_MB } },
      wrapProvider: (local: LocalProvider): SandboxProvider =>
        Object.assign(Object.create(local) as LocalProvider, {
          createSession: async (...args: Parameters<LocalProvider['createSession']>) => {
            if (failNextSession) {
              failNextSession = false;
              throw new ProviderError('InvalidAgent', 'planted failure after the agent started', false);
            }
            return local.createSession(...args);
          },
        }),
    });
    repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
  });
  afterAll(async () => services?.stop());

  const url = (p: string) => `${services.baseUrl}${p}`;

  async function provision(prompt: string): Promise<Sandbox> {
    const created = await postJson(url('/v1/tasks'), { workspaceId: WORKSPACE, repository: repo, prompt });
    expect(created.status).toBe(201);
    await (await runOf(services.temporal, created.body.workflowId)).result();
    return sandboxOf(services, created.body.id);
  }

  it('a retry after a failure that followed ensureAgent runs no hook, fsmonitor or filter the sandbox planted', async () => {
    failNextSession = true;
    const created = await postJson(url('/v1/tasks'), { workspaceId: WORKSPACE, repository: repo, prompt: 'Fail after the agent' });
    await (await runOf(services.temporal, created.body.workflowId)).result().catch(() => undefined);
    expect((await getJson(url(`/v1/tasks/${created.body.id}`))).body.status).toBe('error');
    const sandbox = await sandboxOf(services, created.body.id);
    const branch = (await sandboxGit(sandbox.dirs.repo).revparse(['--abbrev-ref', 'HEAD'])).trim();

    // Inside: move off the task's branch (so the retry's checkout has work to do) and plant everything
    // git would run on a checkout, each writing a marker on the host if it ran there.
    const marker = (name: string) => path.join(hostDir, name);
    const planted = await sh(
      sandbox,
      [
        'set -e',
        'cd /sandbox/repo',
        'git checkout -q -b elsewhere',
        `printf '#!/bin/sh\\ntouch ${marker('post-checkout')}\\n' > .git/hooks/post-checkout`,
        'chmod +x .git/hooks/post-checkout',
        'mkdir -p /sandbox/repo/.planted-hooks',
        `printf '#!/bin/sh\\ntouch ${marker('hooks-path')}\\n' > .planted-hooks/post-checkout`,
        'chmod +x .planted-hooks/post-checkout',
        `printf '#!/bin/sh\\ntouch ${marker('fsmonitor')}\\n' > .git/fsmonitor.sh`,
        'chmod +x .git/fsmonitor.sh',
        'git config core.fsmonitor /sandbox/repo/.git/fsmonitor.sh',
        `git config filter.planted.smudge "touch ${marker('filter')}; cat"`,
        'echo "*.md filter=planted" > .gitattributes',
        'git add .gitattributes && git -c user.email=a@b -c user.name=a commit -q -m attrs',
        'echo done',
      ].join('\n'),
    );
    expect(planted).toMatchObject({ exitCode: 0, stdout: 'done\n' });

    const retried = await postJson(url(`/v1/tasks/${created.body.id}/retry`), {});
    expect(retried.status).toBe(202);
    expect((await (await runOf(services.temporal, created.body.workflowId)).result()).status).toBe('running');
    // The checkout is back on the task's branch (git ran, inside the sandbox) and nothing ran on the host.
    expect((await sandboxGit(sandbox.dirs.repo).revparse(['--abbrev-ref', 'HEAD'])).trim()).toBe(branch);
    for (const name of ['post-checkout', 'hooks-path', 'fsmonitor', 'filter']) expect({ name, onHost: existsSync(marker(name)) }).toEqual({ name, onHost: false });
  });

  it("an agent restart follows no symlink in the sandbox's directories", async () => {
    const sandbox = await provision('Symlinked logs');
    const target = path.join(hostDir, 'appended-by-the-host');
    // Inside: the file the host used to open for the agent's output becomes a link to a host path.
    expect((await sh(sandbox, `rm -f /sandbox/logs/sandbox-agent.out; ln -s ${target} /sandbox/logs/sandbox-agent.out; echo ok`)).stdout).toBe('ok\n');
    const handle = (await services.local.resumeSandbox(sandbox.sandboxId))!;
    const before = services.local.agentProcesses(sandbox.sandboxId);
    for (const pid of before) process.kill(pid, 'SIGKILL');
    for (const pid of before) while (isProcessAlive(pid)) await new Promise((r) => setTimeout(r, 20));
    const restarted = await services.local.ensureAgent(handle, async () => undefined);
    expect(before).not.toContain(restarted.details.agentPid);
    expect(existsSync(target)).toBe(false);
    expect(lstatSync(path.join(sandbox.dirs.logs, 'sandbox-agent.out')).isSymbolicLink()).toBe(true);
    // The host's own output file is in the host-only directory, and is a plain file.
    expect(lstatSync(path.join(sandbox.dirs.host, 'sandbox-agent.out')).isFile()).toBe(true);
  });

  it('what a sandbox writes belongs to an unprivileged host uid, and a setuid copy it makes gives nothing', async () => {
    const sandbox = await provision('Setuid plant');
    const planted = await sh(sandbox, 'cp /usr/bin/id /sandbox/home/id && chmod 4755 /sandbox/home/id && ls -ln /sandbox/home/id');
    expect(planted.exitCode).toBe(0);
    const file = path.join(sandbox.dirs.home, 'id');
    const stat = statSync(file);
    expect(stat.uid).toBe(DEFAULT_CONFINEMENT.hostUid);
    expect(stat.uid).not.toBe(0);
    expect(statSync(sandbox.dirs.repo).uid).toBe(DEFAULT_CONFINEMENT.hostUid);
    // Run by an unprivileged local user (nobody), the planted binary does not run as root.
    const euid = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', file, '-u'], { encoding: 'utf8' }).trim();
    expect(euid).not.toBe('0');
    // And the sandbox's processes themselves are that uid on the host.
    const [agentPid] = services.local.agentProcesses(sandbox.sandboxId);
    expect(statSync(`/proc/${agentPid}`).uid).toBe(DEFAULT_CONFINEMENT.hostUid);
  });

  it("the agent's token is on no command line: the host reaches the agent through a root-only socket, nothing listens on the host", async () => {
    const sandbox = await provision('Socket only');
    expect(sandbox.agent.token).toBeNull();
    const cmdlines = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        } catch {
          return [];
        }
      });
    expect(cmdlines.filter((argv) => argv.includes('--token'))).toEqual([]);
    const [agentPid] = services.local.agentProcesses(sandbox.sandboxId);
    expect(readFileSync(`/proc/${agentPid}/cmdline`, 'utf8').split('\0')).toContain('--no-token');
    // The socket is root's, 0600, in the root-only host directory: another host user cannot connect.
    const socket = statSync(sandbox.agent.socketPath!);
    expect({ uid: socket.uid, mode: socket.mode & 0o777, dir: statSync(sandbox.dirs.host).mode & 0o777 }).toEqual({ uid: 0, mode: 0o600, dir: 0o700 });
    const connect = `require('net').connect(${JSON.stringify(sandbox.agent.socketPath)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })`;
    const asNobody = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', connect], { encoding: 'utf8' }).trim();
    expect(asNobody).toBe('EACCES');
    // The agent's port is not open on the host's loopback.
    const port = Number(new URL(sandbox.agent.baseUrl).port);
    const onHost = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve('connected')));
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(onHost).toBe('ECONNREFUSED');
  });

  it('a create naming another sandbox, a .git file or a refused transport clones nothing', async () => {
    const victim = await provision('Victim');
    const refusedAtCreate = [victim.dirs.repo, victim.root, `git://127.0.0.1:${new URL(readStack().databaseUrl).port || 5432}/x`, 'ext::sh -c id', `file://${repo}`];
    for (const repository of refusedAtCreate) {
      const res = await postJson(url('/v1/tasks'), { workspaceId: 'ws-host-trust-other', repository, prompt: 'Steal' });
      expect({ repository, status: res.status, code: res.body?.error?.code }).toEqual({ repository, status: 400, code: 'repository_not_allowed' });
    }
    // A path that passes at create (under the roots) and is a `.git` file pointing elsewhere when the worker uses it.
    const decoy = path.join(services.repoRoot, `decoy-${randomUUID()}`);
    const created = await postJson(url('/v1/tasks'), { workspaceId: 'ws-host-trust-other', repository: decoy, prompt: 'Redirected' });
    expect(created.status).toBe(201);
    mkdirSync(decoy);
    writeFileSync(path.join(decoy, '.git'), `gitdir: ${path.join(victim.dirs.repo, '.git')}\n`);
    await (await runOf(services.temporal, created.body.workflowId)).result().catch(() => undefined);
    const task = (await getJson(url(`/v1/tasks/${created.body.id}`))).body;
    expect(task.status).toBe('error');
    expect(task.statusMessage).toMatch(/not allowed/);
    expect(await services.prisma.sandbox.count({ where: { taskId: created.body.id } })).toBe(0);
  });

  it("a sandbox past its disk limit cannot write more, and the host's database keeps working", async () => {
    const sandbox = await provision('Fill the disk');
    const filled = await sh(sandbox, `dd if=/dev/zero of=/sandbox/home/fill bs=1M count=${DISK_MB * 2} 2>&1; echo "exit=$?"`);
    expect(filled.stdout).toMatch(/No space left on device/);
    expect(filled.stdout).toMatch(/exit=1/);
    const size = statSync(path.join(sandbox.dirs.home, 'fill')).size;
    expect(size).toBeLessThan(DISK_MB * 1024 * 1024);
    // The service still writes: a new task is created and provisioned.
    const after = await provision('After the fill');
    expect((await run(after, 'true', [])).exitCode).toBe(0);
  });

  it("a clone that does not fit in the sandbox's disk ends the task with that reason, once, and leaves no partial clone", async () => {
    const big = await createTestRepo(path.join(services.repoRoot, `big-${randomUUID()}`));
    writeFileSync(path.join(big, 'blob.bin'), randomBytes((DISK_MB + 16) * 1024 * 1024)); // incompressible
    await simpleGit(big).add('blob.bin').commit('a blob larger than the sandbox disk');
    const created = await postJson(url('/v1/tasks'), { workspaceId: WORKSPACE, repository: big, prompt: 'Too big' });
    await (await runOf(services.temporal, created.body.workflowId)).result().catch(() => undefined);
    const task = (await getJson(url(`/v1/tasks/${created.body.id}`))).body;
    expect(task.status).toBe('error');
    expect(task.statusMessage).toMatch(/^init_create_sandbox failed: repository .* does not fit in the sandbox: the sandbox's disk is full/);
    const sandbox = await services.prisma.sandbox.findFirstOrThrow({ where: { taskId: created.body.id } });
    const left = existsSync(services.local.paths(sandbox.id).disk) ? readdirSync(services.local.paths(sandbox.id).disk) : [];
    expect(left.filter((name) => name.startsWith('.repo.partial-'))).toEqual([]);
    // Final: one attempt, not the step's three.
    expect(task.stepTimings.init_create_sandbox.attempt).toBe(1);
  });
});

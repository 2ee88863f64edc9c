/**
 * Confinement of a real provisioned local sandbox (docs/SECURITY.md), checked from inside: commands
 * run through the sandbox's own sandbox-agent process API (`POST /v1/processes/run`, the path an
 * agent's tools and a terminal pane use), exactly as untrusted code would.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cgroupValue } from '../../src/confinement/cgroups';
import { DEFAULT_CONFINEMENT } from '../../src/confinement/policy';
import { REPO_ROOT } from '../../src/dev/temporalDevServer';
import { listAcpServers } from '../../src/providers/local/acpClient';
import { checkHealth, isProcessAlive } from '../../src/providers/local/sandboxAgentProcess';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { runOf } from '../../src/dev/stack/runs';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { readStack } from '../../src/dev/stack/stackFile';
import { run, sandboxOf, sh, type Sandbox } from '../support/insideSandbox';

const WORKSPACE = 'ws-confinement';
const LIMITS = { memoryMb: 256, pidsMax: 64, cpuPercent: 100, diskMb: 64 };

/** Node inside the sandbox: tries a TCP connection to 127.0.0.1:`port`; prints `connected` or the error code. */
const connectScript = (port: number) =>
  `const s=require('net').connect(${port},'127.0.0.1');s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(1)});setTimeout(()=>{console.log('TIMEOUT');process.exit(1)},3000)`;

describe('a confined local sandbox', () => {
  let services: TestServices;
  let repo: string;
  let sandbox: Sandbox;
  let other: Sandbox;
  const planted = { API_TOKENS: 'secret-token=ws', DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/secret', TEMPORAL_ADDRESS: '127.0.0.1:7233' };

  /** Provisions a task to `running` and returns its sandbox. */
  async function provision(prompt: string): Promise<Sandbox> {
    const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt });
    expect(created.status).toBe(201);
    await (await runOf(services.temporal, created.body.workflowId)).result();
    return sandboxOf(services, created.body.id);
  }

  beforeAll(async () => {
    // Variables of the service's own environment that must not reach a sandbox (the worker runs in this process).
    Object.assign(process.env, planted);
    services = await startServices({ confinement: { isolation: 'bwrap', outbound: 'allow', limits: LIMITS, passEnv: [], hostUid: DEFAULT_CONFINEMENT.hostUid } });
    repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
    sandbox = await provision('Confined one');
    other = await provision('Confined two');
  });
  afterAll(async () => {
    for (const name of Object.keys(planted)) delete process.env[name];
    await services?.stop();
  });

  it("gets an environment without any of the service's variables", async () => {
    const { stdout, exitCode } = await run(sandbox, 'env', []);
    expect(exitCode).toBe(0);
    const names = stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('=')[0]!);
    for (const name of [...Object.keys(planted), 'TPS_TEST_STACK_FILE', 'PATH_TO_SERVICE', 'JEST_WORKER_ID', 'NODE_OPTIONS']) expect(names).not.toContain(name);
    expect(stdout).not.toContain('secret');
    expect(names.sort()).toEqual(expect.arrayContaining(['HOME', 'PATH']));
    // Only the allowlist (plus what the shell and sandbox-agent add themselves), and the agent's way to
    // its model API: the egress proxy on the sandbox's own loopback, with the sandbox's egress token as key.
    const egress = [
      'ANTHROPIC_BASE_URL',
      'ANTHROPIC_API_KEY',
      'OPENAI_BASE_URL',
      'OPENAI_API_KEY',
      'OPENCODE_CONFIG',
      'OPENCODE_DISABLE_AUTOUPDATE',
      'OPENCODE_DISABLE_MODELS_FETCH',
    ];
    const allowed = ['HOME', 'PATH', 'LANG', 'SANDBOX_AGENT_LOG_DIR', 'SANDBOX_AGENT_REQUIRE_PREINSTALL', 'TERM', 'PWD', 'SHLVL', '_', 'OLDPWD', ...egress];
    expect(names.filter((n) => !allowed.includes(n) && !n.startsWith('SANDBOX_AGENT_'))).toEqual([]);
    expect(stdout).toMatch(/^ANTHROPIC_API_KEY=tps-egress-[A-Za-z0-9_-]{43}$/m);
    expect(stdout).toMatch(/^OPENAI_BASE_URL=http:\/\/127\.0\.0\.1:7480\/openai\/v1$/m);
  });

  it('runs as an unprivileged uid, not root', async () => {
    const { stdout } = await run(sandbox, 'id', ['-u']);
    expect(stdout.trim()).toBe('1000');
    expect((await sh(sandbox, 'cat /proc/self/status | grep CapEff')).stdout).toMatch(/CapEff:\s+0+\s*$/);
  });

  it('cannot see the service checkout, .data/, another sandbox or its own provider records', async () => {
    const paths = [
      path.join(REPO_ROOT, 'package.json'),
      path.join(REPO_ROOT, '.data'),
      readStack().workDir,
      other.root,
      path.join(other.dirs.repo, 'README.md'),
      path.join(sandbox.dirs.host, 'agent.json'),
      '/root',
      '/home',
      '/etc/shadow',
    ];
    for (const p of paths) {
      const { stdout } = await sh(sandbox, `if [ -e '${p}' ]; then echo visible; else echo absent; fi; cat '${p}' 2>/dev/null | head -c 1 | wc -c`);
      expect({ path: p, seen: stdout.trim().split('\n') }).toEqual({ path: p, seen: ['absent', '0'] });
    }
    // Its own checkout is there, as /sandbox/repo.
    expect((await run(sandbox, 'cat', ['/sandbox/repo/README.md'])).exitCode).toBe(0);
  });

  it('cannot write outside its own directories; what it writes in them lands in its sandbox only', async () => {
    for (const target of ['/usr/bin/planted', '/sandbox/bin/planted', '/etc/planted', '/opt/sandbox-agent/planted']) {
      expect({ target, exit: (await run(sandbox, 'touch', [target])).exitCode }).toEqual({ target, exit: 1 });
    }
    expect((await run(sandbox, 'touch', ['/sandbox/repo/written-inside'])).exitCode).toBe(0);
    expect(existsSync(path.join(sandbox.dirs.repo, 'written-inside'))).toBe(true);
    expect(existsSync(path.join(other.dirs.repo, 'written-inside'))).toBe(false);
    // Its /tmp is its own.
    expect((await run(sandbox, 'touch', ['/tmp/private-tmp-probe'])).exitCode).toBe(0);
    expect(existsSync('/tmp/private-tmp-probe')).toBe(false);
    expect((await run(other, 'ls', ['/tmp/private-tmp-probe'])).exitCode).not.toBe(0);
  });

  it("cannot reach Postgres, the Temporal frontend, the API or another sandbox's agent, while the worker reaches its agent", async () => {
    const stack = readStack();
    const ports = {
      postgres: Number(new URL(stack.databaseUrl).port || 5432),
      temporal: Number(stack.temporalAddress.split(':')[1]),
      api: Number(new URL(services.baseUrl).port),
      otherAgent: Number(new URL(other.agent.baseUrl).port),
    };
    for (const [name, port] of Object.entries(ports)) {
      const { stdout } = await run(sandbox, 'node', ['-e', connectScript(port)]);
      expect({ name, result: stdout.trim() }).toEqual({ name, result: 'ECONNREFUSED' });
    }
    // The worker's health check of the sandbox's own agent, from the host, succeeds.
    expect(await checkHealth(sandbox.agent, 2_000)).toBe(true);
  });

  it("does not see or signal the service's processes", async () => {
    const { stdout } = await sh(sandbox, 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; done');
    const commands = stdout.split('\n').filter((l) => l.trim());
    expect(commands.some((c) => c.includes('sandbox-agent'))).toBe(true);
    expect(commands.filter((c) => /jest|temporal|postgres|tsx/.test(c))).toEqual([]);
    expect(commands.length).toBeLessThan(10);
    expect((await sh(sandbox, `kill -0 ${process.pid}`)).exitCode).not.toBe(0);
  });

  it('has its limits set in its own cgroup, the agent inside it', async () => {
    const limits = {
      memory: cgroupValue(sandbox.sandboxId, 'memory', 'memory.limit_in_bytes'),
      pids: cgroupValue(sandbox.sandboxId, 'pids', 'pids.max'),
      period: cgroupValue(sandbox.sandboxId, 'cpu', 'cpu.cfs_period_us'),
      quota: cgroupValue(sandbox.sandboxId, 'cpu', 'cpu.cfs_quota_us'),
    };
    expect(limits).toEqual({ memory: String(LIMITS.memoryMb * 1024 * 1024), pids: String(LIMITS.pidsMax), period: '100000', quota: String(LIMITS.cpuPercent * 1000) });
    const agent = services.local.agentProcesses(sandbox.sandboxId);
    expect(agent.length).toBeGreaterThan(0);
    for (const pid of agent) {
      expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toMatch(new RegExp(`:pids:/tps-sandboxes/${sandbox.sandboxId}$`, 'm'));
    }
  });

  it('stops a fork loop at the pids limit, and the service and the other sandbox carry on', async () => {
    const result = await sh(sandbox, 'i=0; while [ $i -lt 200 ]; do sleep 30 >/dev/null 2>&1 < /dev/null & i=$((i+1)); done; echo done');
    expect(result.stderr).toMatch(/fork|Resource temporarily unavailable/i);
    expect(Number(cgroupValue(sandbox.sandboxId, 'pids', 'pids.current'))).toBeLessThanOrEqual(LIMITS.pidsMax);
    expect(Number(cgroupValue(sandbox.sandboxId, 'pids', 'pids.events')?.split(' ')[1] ?? '0')).toBeGreaterThan(0);
    expect((await getJson(`${services.baseUrl}/v1/tasks/${other.taskId}`)).status).toBe(200);
    expect(await checkHealth(other.agent, 2_000)).toBe(true);
    // The sleeps go (from the host: the sandbox itself cannot fork a `kill` right now).
    for (const pid of services.local.sandboxProcesses(sandbox.sandboxId)) {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep') process.kill(pid, 'SIGKILL');
    }
    for (const deadline = Date.now() + 10_000; Number(cgroupValue(sandbox.sandboxId, 'pids', 'pids.current')) > 10 && Date.now() < deadline;) await sleep(100);
    expect(await checkHealth(sandbox.agent, 2_000)).toBe(true);
  });

  it("kills a memory hog at the memory limit, and the service, its agent and the other task's session carry on", async () => {
    const hog = await run(sandbox, 'node', ['-e', 'const a=[];for(;;)a.push(Buffer.alloc(16<<20,1))']);
    expect(hog.exitCode).toBeNull(); // killed by a signal (the OOM killer's SIGKILL)
    expect(Number(cgroupValue(sandbox.sandboxId, 'memory', 'memory.failcnt'))).toBeGreaterThan(0);
    expect(Number(cgroupValue(sandbox.sandboxId, 'memory', 'memory.max_usage_in_bytes'))).toBeLessThanOrEqual(LIMITS.memoryMb * 1024 * 1024);
    expect((await fetch(`${services.baseUrl}/healthz`)).status).toBe(200);
    expect(await checkHealth(sandbox.agent, 2_000)).toBe(true);
    expect(await listAcpServers({ ...other.agent, timeoutMs: 2_000 })).toHaveLength(1);
  });

  it('ends every process of the sandbox on kill, detached ones included', async () => {
    await sh(sandbox, 'setsid sh -c "sleep 600" >/dev/null 2>&1 < /dev/null &');
    const sleeping = () => services.local.sandboxProcesses(sandbox.sandboxId).filter((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep');
    for (const deadline = Date.now() + 10_000; sleeping().length === 0 && Date.now() < deadline;) await sleep(50);
    expect(sleeping().length).toBeGreaterThan(0);
    const before = services.local.sandboxProcesses(sandbox.sandboxId);
    const killed = await postJson(`${services.baseUrl}/v1/tasks/${sandbox.taskId}/kill`, {});
    expect(killed.status).toBe(202);
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) {
      if ((await services.prisma.task.findUniqueOrThrow({ where: { id: sandbox.taskId } })).status === 'killed') break;
    }
    expect((await services.prisma.task.findUniqueOrThrow({ where: { id: sandbox.taskId } })).status).toBe('killed');
    expect(services.local.sandboxProcesses(sandbox.sandboxId)).toEqual([]);
    expect(before.filter(isProcessAlive)).toEqual([]);
    expect(existsSync(path.join('/run/netns', `tps-${sandbox.sandboxId}`))).toBe(false);
    // The other sandbox is untouched.
    expect(await checkHealth(other.agent, 2_000)).toBe(true);
  });
});

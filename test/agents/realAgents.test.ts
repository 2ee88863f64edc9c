/**
 * Real coding agents (claude-agent-acp + claude, codex-acp + codex, installed from npm by
 * scripts/install-agents.sh) in confined sandboxes, talking to a FAKE model API on this machine's
 * loopback (test/support/fakeModelApi.ts) through the host's egress proxy (src/egress), with the
 * workspace's keys set through the API. Checks that the keys never enter a sandbox, and what the proxy
 * refuses.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { tokenFor } from '../../src/dev/stack/auth';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { runOf } from '../../src/dev/stack/runs';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { egressSocketPath } from '../../src/providers/local/layout';
import { FAKE_ANTHROPIC_TEXT, FAKE_OPENAI_TEXT, startFakeModelApi, type FakeModelApi } from '../support/fakeModelApi';
import { sandboxOf, sh, type Sandbox } from '../support/insideSandbox';
import { agentFetch } from '../../src/providers/local/agentHttp';

const WS = 'ws-real-agents';
const WS_DENY = 'ws-real-agents-deny';

describe('real agents through the egress proxy', () => {
  let services: TestServices;
  let fake: FakeModelApi;
  let fakeClosed = false;
  let repo: string;
  const logLines: string[] = [];
  // Keys minted now: no file that existed before this test can hold them.
  const anthropicKey = `sk-ant-test-${randomBytes(16).toString('hex')}`;
  const openaiKey = `sk-openai-test-${randomBytes(16).toString('hex')}`;

  beforeAll(async () => {
    fake = await startFakeModelApi();
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _enc, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    );
    services = await startServices({ modelOrigins: { anthropic: fake.url, openai: fake.url }, egressDefaults: { mode: 'deny', hosts: [] }, logger });
    repo = await createTestRepo(path.join(services.repoRoot, `agents-repo-${Date.now()}`));
    for (const [provider, apiKey] of [
      ['anthropic', anthropicKey],
      ['openai', openaiKey],
    ] as const) {
      const res = await fetch(url(`/v1/workspaces/${WS}/credentials/${provider}`), {
        method: 'PUT',
        headers: { authorization: `Bearer ${tokenFor(WS)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey }),
      });
      expect(res.status).toBe(200);
    }
  });
  afterAll(async () => {
    await services?.stop();
    if (!fakeClosed) await fake?.close();
  });

  const url = (p: string) => `${services.baseUrl}${p}`;

  /** Creates a running task with agent `agent` and answers it with a socket client subscribed to it. */
  const runningTask = async (workspaceId: string, agent: string) => {
    const created = (await postJson(url('/v1/tasks'), { workspaceId, repository: repo, prompt: `Work with ${agent}`, agent })).body;
    await (await runOf(services.temporal, created.workflowId)).result();
    const task = (await getJson(url(`/v1/tasks/${created.id}`))).body;
    expect(task.status).toBe('running');
    const client = new TaskEventClient(services.baseUrl, workspaceId);
    await client.subscribe({ taskId: task.id });
    return { task, client };
  };

  /** Opens a tab, waits for it to be ready, sends `text`, and answers the reply's text and the tab after the turn. */
  const turn = async (task: any, client: TaskEventClient, tabBody: Record<string, unknown>, text: string) => {
    const tab = (await postJson(url(`/v1/tasks/${task.id}/sessions`), tabBody)).body;
    await client.waitFor(
      (m) => m.event.type === 'session.updated' && (m.event.payload as any).session.id === tab.id && (m.event.payload as any).session.status === 'ready',
      120_000,
    );
    expect((await postJson(url(`/v1/tasks/${task.id}/sessions/${tab.id}/messages`), { text })).status).toBe(202);
    const end = await client.waitFor(
      (m) =>
        m.event.type === 'session.updated' &&
        (m.event.payload as any).session.id === tab.id &&
        ((m.event.payload as any).session.unread === true || (m.event.payload as any).session.status === 'error'),
      120_000,
    );
    const reply = client.messages
      .filter((m) => m.event.type === 'session.transcript' && (m.event.payload as any).sessionId === tab.id && (m.event.payload as any).entry.role === 'agent')
      .map((m) => (m.event.payload as any).entry.text)
      .join('');
    return { tab, reply, after: (end.event.payload as any).session };
  };

  let claudeTask: any;
  let claudeSandbox: Sandbox;

  it('a claude, a codex and an opencode tab each complete a text turn; the proxy put the workspace keys on, the tab models reached the agents', async () => {
    const { task, client } = await runningTask(WS, 'claude');
    claudeTask = task;
    try {
      // sandbox-agent inside the sandbox finds the installed agents on its PATH (and only those).
      const sandbox = await sandboxOf(services, task.id);
      const listed = (await (await agentFetch(sandbox.agent, `${sandbox.agent.baseUrl}/v1/agents`, 'application/json')).json()) as {
        agents: Array<{ id: string; installed: boolean }>;
      };
      const installed = Object.fromEntries(listed.agents.map((a) => [a.id, a.installed]));
      expect(installed).toMatchObject({ claude: true, codex: true, opencode: true, amp: false, cursor: false });

      const claude = await turn(task, client, { agent: 'claude', model: 'claude-test-model' }, 'Say hello');
      expect(claude.after.status).toBe('ready');
      expect(claude.reply).toContain(FAKE_ANTHROPIC_TEXT);
      const codex = await turn(task, client, { agent: 'codex', model: 'gpt-test-model' }, 'Say hello');
      expect(codex.after.status).toBe('ready');
      expect(codex.reply).toContain(FAKE_OPENAI_TEXT);
      const opencode = await turn(task, client, { agent: 'opencode' }, 'Say hello');
      expect(opencode.after.errorMessage).toBeNull();
      expect(opencode.after.status).toBe('ready');
      expect(opencode.reply).toContain(FAKE_ANTHROPIC_TEXT);
      expect(fake.requests.some((r) => String(r.headers['user-agent']).startsWith('opencode/') && r.headers['x-api-key'] === anthropicKey)).toBe(true);

      const anthropicCalls = fake.requests.filter((r) => r.provider === 'anthropic');
      const openaiCalls = fake.requests.filter((r) => r.provider === 'openai');
      expect(anthropicCalls.length).toBeGreaterThan(0);
      expect(openaiCalls.length).toBeGreaterThan(0);
      expect(anthropicCalls.every((r) => r.headers['x-api-key'] === anthropicKey && r.headers.authorization === undefined)).toBe(true);
      expect(openaiCalls.every((r) => r.headers.authorization === `Bearer ${openaiKey}`)).toBe(true);
      expect(anthropicCalls.map((r) => r.body?.model)).toContain('claude-test-model');
      expect(openaiCalls.map((r) => r.body?.model)).toContain('gpt-test-model');

      // Usage: the proxy read it from the streamed answers, per task and per tab.
      const record = (await getJson(url(`/v1/tasks/${task.id}`))).body;
      expect(record.usage.inputTokens).toBeGreaterThan(0);
      expect(record.usage.outputTokens).toBeGreaterThan(0);
      const codexTab = (await getJson(url(`/v1/tasks/${task.id}/sessions/${codex.tab.id}`))).body.session;
      expect(codexTab.usage).toEqual({ inputTokens: 20, outputTokens: 6 });
      const usageEvents = (await services.prisma.taskEvent.findMany({ where: { taskId: task.id, type: 'task.usage' } })).map((e) => e.payload as any);
      expect(usageEvents).toContainEqual(expect.objectContaining({ sessionId: codex.tab.id, provider: 'openai', model: 'gpt-test-model', inputTokens: 20, outputTokens: 6 }));
    } finally {
      client.close();
    }
  }, 240_000);

  it("a claude turn in which the model calls the agent's Write tool leaves the file in the sandbox's repository", async () => {
    const client = new TaskEventClient(services.baseUrl, WS);
    await client.subscribe({ taskId: claudeTask.id });
    try {
      const { after } = await turn(claudeTask, client, { agent: 'claude' }, 'WRITE_FILE /sandbox/repo/written-by-agent.txt agent-was-here');
      expect(after.status).toBe('ready');
      claudeSandbox = await sandboxOf(services, claudeTask.id);
      const file = path.join(claudeSandbox.dirs.repo, 'written-by-agent.txt');
      expect(readFileSync(file, 'utf8')).toBe('agent-was-here\n');
      // Written by the agent's own tool, as the sandbox's uid.
      expect((await fs.stat(file)).uid).toBe(90_000);
      expect(fake.requests.some((r) => JSON.stringify(r.body?.messages ?? []).includes('tool_result'))).toBe(true);
    } finally {
      client.close();
    }
  }, 240_000);

  it('the workspace keys are nowhere in the sandbox: environments, files, process list, history, logs', async () => {
    const sandbox = claudeSandbox ?? (await sandboxOf(services, claudeTask.id));
    const keys = [anthropicKey, openaiKey];
    // Every process of the sandbox, seen from the host: environment and command line.
    const pids = services.local.sandboxProcesses(sandbox.sandboxId);
    expect(pids.length).toBeGreaterThan(1);
    for (const pid of pids) {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      for (const key of keys) expect(environ + cmdline).not.toContain(key);
    }
    // The agent's own environment holds the sandbox's egress token, not a key.
    const agentEnv = (await sh(sandbox, 'cat /proc/1/environ | tr "\\0" "\\n"; env')).stdout;
    expect(agentEnv).toMatch(/ANTHROPIC_API_KEY=tps-egress-/);
    // Every file the sandbox can see that is not a read-only host directory older than the keys
    // (/usr, /opt/agents/node_modules), from inside; -r does not follow symlinks.
    // The keys reach grep through a pattern file written by the shell's own printf (no process carries
    // them on its command line), which the search skips.
    const b64 = (k: string) => Buffer.from(k).toString('base64');
    const grep = await sh(
      sandbox,
      `printf '%s\n%s\n' "$(echo ${b64(keys[0]!)} | base64 -d)" "$(echo ${b64(keys[1]!)} | base64 -d)" > /tmp/.patterns; ` +
        `grep -rlF -f /tmp/.patterns --exclude=.patterns /sandbox /tmp /etc /opt/agents/etc /opt/agents/bin /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null; echo "searched"; rm -f /tmp/.patterns`,
    );
    expect(grep.stdout.trim()).toBe('searched'); // no file named before it
    // The host's process list.
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    for (const key of keys) expect(ps).not.toContain(key);
    // History and logs.
    const events = JSON.stringify(await services.prisma.taskEvent.findMany({ where: { taskId: claudeTask.id }, select: { type: true, payload: true } }));
    const logs = logLines.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(events).not.toContain(key);
      expect(logs).not.toContain(key);
    }
    // At rest the key is sealed.
    const rows = JSON.stringify(await services.prisma.workspaceCredential.findMany({ where: { workspaceId: WS } }));
    for (const key of keys) expect(rows).not.toContain(key);
  }, 120_000);

  it('the proxy refuses a wrong token, a token of an agent that was replaced, and a tunnel to a host not on the allowlist', async () => {
    const sandbox = claudeSandbox ?? (await sandboxOf(services, claudeTask.id));
    const token = /ANTHROPIC_API_KEY=(tps-egress-\S+)/.exec((await sh(sandbox, 'env')).stdout)![1]!;
    const socketPath = egressSocketPath(services.sandboxRoot);

    expect((await viaSocket(socketPath, 'POST', '/anthropic/v1/messages', { 'x-api-key': 'tps-egress-wrong' })).status).toBe(401);
    // One character changed (to one it is not: a base64url token's last character is `A` one time in 16).
    const altered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect((await viaSocket(socketPath, 'POST', '/anthropic/v1/messages', { 'x-api-key': altered })).status).toBe(401);
    expect((await viaSocket(socketPath, 'GET', '/somewhere-else', { 'x-api-key': token })).status).toBe(403);

    // Allowlist: only the hosts it names (refused before any lookup, so nothing leaves the machine).
    await putPolicy(WS, { mode: 'allowlist', hosts: ['registry.npmjs.org'] });
    expect(await connectVia(socketPath, 'evil.example:443', token)).toMatch(/^HTTP\/1\.1 403/);
    expect(await connectVia(socketPath, 'registry.npmjs.org:22', token)).toMatch(/^HTTP\/1\.1 403/);
    expect(await connectVia(socketPath, 'registry.npmjs.org:443', 'tps-egress-wrong')).toMatch(/^HTTP\/1\.1 407/);

    // The agent is replaced (the sandbox sleeps and wakes): the old token is dead, the new one works.
    expect((await postJson(url(`/v1/tasks/${claudeTask.id}/stop`), {})).status).toBe(202);
    await waitForSandboxState(claudeTask.id, 'stopped');
    expect((await postJson(url(`/v1/tasks/${claudeTask.id}/resume`), {})).status).toBe(202);
    await waitForSandboxState(claudeTask.id, 'ready');
    expect((await viaSocket(socketPath, 'POST', '/anthropic/v1/messages', { 'x-api-key': token })).status).toBe(401);
    const woken = await sandboxOf(services, claudeTask.id);
    const fresh = /ANTHROPIC_API_KEY=(tps-egress-\S+)/.exec((await sh(woken, 'env')).stdout)![1]!;
    expect(fresh).not.toBe(token);
  }, 180_000);

  it('a deny-policy sandbox cannot reach a package registry: no route out, and the proxy refuses to tunnel', async () => {
    await putPolicy(WS_DENY, { mode: 'deny', hosts: [] });
    const { task, client } = await runningTask(WS_DENY, 'offline');
    client.close();
    const sandbox = await sandboxOf(services, task.id);
    // No route out of its network namespace (IPv4 or IPv6): only its own loopback.
    const routes = await sh(sandbox, 'cat /proc/net/route /proc/net/ipv6_route');
    expect(routes.stdout).not.toMatch(/^\S+\s+00000000\s/m); // no IPv4 default route
    // IPv6: the kernel's own unreachable ::/0 on lo is all there is of a default route.
    expect(
      routes.stdout
        .split('\n')
        .filter((l) => /^0{32} 00 /.test(l))
        .every((l) => / lo$/.test(l.trim())),
    ).toBe(true);
    expect(
      routes.stdout
        .split('\n')
        .filter((l) => /^\S+\s+[0-9A-F]{8}\s/.test(l))
        .every((l) => l.startsWith('lo')),
    ).toBe(true);
    // No proxy variables, and the proxy refuses its token for a tunnel.
    const env = (await sh(sandbox, 'env')).stdout;
    expect(env).not.toMatch(/HTTPS?_PROXY=/i);
    const token = /ANTHROPIC_API_KEY=(tps-egress-\S+)/.exec(env)![1]!;
    expect(await connectVia(egressSocketPath(services.sandboxRoot), 'registry.npmjs.org:443', token)).toMatch(/^HTTP\/1\.1 403/);
    // From inside, through the forwarded port: the same answer.
    const inside = await sh(
      sandbox,
      `printf 'CONNECT registry.npmjs.org:443 HTTP/1.1\\r\\nHost: registry.npmjs.org:443\\r\\nProxy-Authorization: Basic %s\\r\\n\\r\\n' "$(printf 'sandbox:%s' "$ANTHROPIC_API_KEY" | base64 -w0)" | timeout 5 socat - TCP4:127.0.0.1:7480 | head -n 1`,
    );
    expect(inside.stdout).toMatch(/^HTTP\/1\.1 403/);
  }, 180_000);

  it('a model API that refuses the key ends the turn with a one-sentence tab error saying so', async () => {
    const client = new TaskEventClient(services.baseUrl, WS);
    await client.subscribe({ taskId: claudeTask.id });
    fake.failWith(401);
    try {
      const { after } = await turn(claudeTask, client, { agent: 'claude' }, 'Say hello');
      expect(after.status).toBe('error');
      expect(after.errorMessage).toBe("the agent turn failed: The Anthropic API refused the workspace's key (HTTP 401).");
    } finally {
      fake.failWith(null);
      client.close();
    }
  }, 180_000);

  it('a model API that cannot be reached ends the turn within a bound, with a one-sentence tab error saying so', async () => {
    await fake.close(); // its port is closed now: the proxy gets "connection refused" at once, every time
    fakeClosed = true;
    const client = new TaskEventClient(services.baseUrl, WS);
    await client.subscribe({ taskId: claudeTask.id });
    try {
      // claude retries on its own; the turn ends once its model requests have failed for MODEL_FAILURE_GRACE_MS in a row.
      const { after } = await turn(claudeTask, client, { agent: 'claude' }, 'Say hello');
      expect(after.status).toBe('error');
      expect(after.errorMessage).toBe('the agent turn failed: The Anthropic API could not be reached from this host.');
    } finally {
      client.close();
    }
  }, 180_000);

  const putPolicy = async (workspaceId: string, policy: { mode: string; hosts: string[] }) => {
    const res = await fetch(url(`/v1/workspaces/${workspaceId}/egress-policy`), {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokenFor(workspaceId)}`, 'content-type': 'application/json' },
      body: JSON.stringify(policy),
    });
    expect(res.status).toBe(200);
  };

  const waitForSandboxState = async (taskId: string, state: string) => {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      if ((await getJson(url(`/v1/tasks/${taskId}`))).body.sandboxState === state) return;
    }
    throw new Error(`sandbox of ${taskId} never became ${state}`);
  };
});

/** One HTTP request to the egress proxy's socket, as a forwarder would send it. */
function viaSocket(socketPath: string, method: string, requestPath: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: requestPath, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? JSON.stringify({ model: 'x', max_tokens: 1, messages: [] }) : undefined);
  });
}

/** A CONNECT through the egress proxy's socket; answers the proxy's status line. */
function connectVia(socketPath: string, target: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: 'CONNECT', path: target, headers: { 'proxy-authorization': `Basic ${Buffer.from(`sandbox:${token}`).toString('base64')}` } });
    req.on('connect', (res, socket) => {
      socket.destroy();
      resolve(`HTTP/1.1 ${res.statusCode}`);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(`HTTP/1.1 ${res.statusCode}`);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The local provider's sandbox-agent layer against the real binary: a server in a temp HOME with the
 * offline ACP agent registered through PATH, one ACP session, one streamed prompt, close and stop.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { AcpError, acpServerExists, closeAcpServer, createAcpSession, listAcpSessions, sendPrompt } from '../../src/providers/local/acpClient';
import {
  OFFLINE_AGENT_ID,
  type SandboxAgentServer,
  checkHealth,
  installOfflineAgent,
  isProcessAlive,
  startSandboxAgent,
  stopSandboxAgent,
} from '../../src/providers/local/sandboxAgentProcess';

jest.setTimeout(60_000);

const token = 'test-token';
let root: string;
let server: SandboxAgentServer | undefined;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'sandbox-agent-test-'));
});

afterAll(async () => {
  if (server) await stopSandboxAgent(server.pid);
  await rm(root, { recursive: true, force: true });
});

/** Children of the server (its agent processes), from /proc. */
function agentPids(serverPid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === serverPid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('starts sandbox-agent, runs an offline ACP session with a streamed reply, and stops it', async () => {
  const home = path.join(root, 'home');
  const cwd = await mkdtemp(path.join(root, 'cwd-'));
  const agentBinDir = await installOfflineAgent(path.join(root, 'agent-bin'));

  server = await startSandboxAgent({ home, logDir: path.join(root, 'logs'), token, agentBinDir });
  const { baseUrl, pid } = server;
  expect(isProcessAlive(pid)).toBe(true);
  expect(await checkHealth(server, 2_000)).toBe(true);
  expect(await checkHealth({ baseUrl, token: 'wrong-token' }, 2_000)).toBe(false);

  const agents = (await (await fetch(`${baseUrl}/v1/agents`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { agents: Array<{ id: string; installed: boolean }> };
  expect(agents.agents.find((a) => a.id === OFFLINE_AGENT_ID)?.installed).toBe(true);

  const target = { baseUrl, token, serverId: 'task-1', timeoutMs: 10_000 };
  const { sessionId } = await createAcpSession({ ...target, agent: OFFLINE_AGENT_ID, cwd });
  expect(sessionId).toEqual(expect.any(String));
  expect(await acpServerExists(target)).toBe(true);
  expect(await acpServerExists({ ...target, serverId: 'no-such-server' })).toBe(false);
  expect(await listAcpSessions(target)).toEqual([{ sessionId, cwd }]);

  const text = 'Fix the failing build\nand add a test';
  const chunks: string[] = [];
  const { stopReason } = await sendPrompt({ ...target, sessionId, text, onChunk: (c) => chunks.push(c) });
  expect(stopReason).toBe('end_turn');
  expect(chunks.length).toBeGreaterThanOrEqual(2);
  expect(chunks.join('')).toBe(`offline agent: received ${text.length} characters: Fix the failing build`);

  // A second prompt sees only its own chunks (the stream's replay buffer is skipped).
  const second: string[] = [];
  await sendPrompt({ ...target, sessionId, text: 'again', onChunk: (c) => second.push(c) });
  expect(second.join('')).toBe('offline agent: received 5 characters: again');

  // Unknown session: the agent's JSON-RPC error comes back typed.
  await expect(sendPrompt({ ...target, sessionId: 'nope', text: 'x', onChunk: () => undefined })).rejects.toMatchObject({ kind: 'rpc', code: -32602 });

  // A second agent process (another ACP server) loads the session with ACP session/load and answers in
  // it; an id the agent does not know is refused, and a new session is opened instead.
  const reloaded = { ...target, serverId: 'task-1-again' };
  expect(await createAcpSession({ ...reloaded, agent: OFFLINE_AGENT_ID, cwd, loadSessionId: sessionId })).toEqual({ sessionId, loaded: true });
  const inLoaded: string[] = [];
  await sendPrompt({ ...reloaded, sessionId, text: 'loaded', onChunk: (c) => inLoaded.push(c) });
  expect(inLoaded.join('')).toBe('offline agent: received 6 characters: loaded');
  const unknown = `offline-${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`;
  const fresh = await createAcpSession({ ...target, serverId: 'task-1-fresh', agent: OFFLINE_AGENT_ID, cwd, loadSessionId: unknown });
  expect(fresh.loaded).toBe(false);
  expect(fresh.sessionId).not.toBe(unknown);
  for (const serverId of ['task-1-again', 'task-1-fresh']) await closeAcpServer({ ...target, serverId, timeoutMs: 500 });
  for (const until = Date.now() + 5_000; agentPids(pid).length > 1 && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));

  const agentsBefore = agentPids(pid);
  expect(agentsBefore).toHaveLength(1);
  expect(await closeAcpServer({ ...target, timeoutMs: 500 })).toMatch(/^(closed|requested)$/);
  expect(await acpServerExists(target)).toBe(false);
  const deadline = Date.now() + 5_000;
  while (agentsBefore.some(isProcessAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(agentsBefore.filter(isProcessAlive)).toEqual([]);

  await stopSandboxAgent(pid);
  expect(isProcessAlive(pid)).toBe(false);
  server = undefined;
  await expect(createAcpSession({ ...target, agent: OFFLINE_AGENT_ID, cwd })).rejects.toMatchObject({
    kind: 'connection',
  });
  await stopSandboxAgent(pid); // already gone: no throw
});

test('AcpError marks only connection failures and 502/503 as transient', () => {
  expect(new AcpError('connection', 'refused').transient).toBe(true);
  expect(new AcpError('http', 'bad gateway', { status: 502 }).transient).toBe(true);
  expect(new AcpError('http', 'unavailable', { status: 503 }).transient).toBe(true);
  expect(new AcpError('http', 'agent timeout', { status: 504 }).transient).toBe(false);
  expect(new AcpError('timeout', 'slow').transient).toBe(false);
  expect(new AcpError('rpc', 'bad params', { code: -32602 }).transient).toBe(false);
});

/**
 * The local provider's steps are idempotent: a retried or replayed step reuses what an earlier
 * attempt made — one clone, one sandbox-agent process, one agent session.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { sandboxGit } from '../support/sandboxGit';
import { createLogger } from '../../src/logger';
import { listAcpServers } from '../../src/providers/local/acpClient';
import type { AgentTarget } from '../../src/providers/local/agentHttp';
import { LocalProvider } from '../../src/providers/local/localProvider';
import { isProcessAlive } from '../../src/providers/local/sandboxAgentProcess';
import { ProviderError, type SandboxHandle } from '../../src/providers/types';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { readStack } from '../../src/dev/stack/stackFile';
import { createScratchSandboxRoot } from '../../src/dev/scratchSandboxRoot';

describe('LocalProvider', () => {
  const root = mkdtempSync(path.join(readStack().workDir, 'local-provider-'));
  const scratch = createScratchSandboxRoot();
  const sandboxRoot = path.join(scratch, 'not-made-yet', 'sandboxes'); // the provider makes it, as for the default /var/lib/… root
  const provider = new LocalProvider({
    sandboxRoot,
    logger: createLogger('test', 'silent'),
    repositoryPolicy: { roots: [root], protectedPaths: [sandboxRoot], allowGitProtocol: false },
  });
  const records = () => provider.paths(key).host;
  const progress: Array<[string, string]> = [];
  const report = async (subStep: string, message: string) => {
    progress.push([subStep, message]);
  };
  let repo: string;
  let handle: SandboxHandle;
  const key = randomUUID();

  beforeAll(async () => {
    repo = await createTestRepo(path.join(root, 'repo'), ['feat-one']);
  });

  afterAll(async () => {
    if (handle) await provider.destroySandbox(handle);
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('lists branches with git and refuses a repository that does not exist', async () => {
    expect((await provider.listBranches(repo)).sort()).toEqual(['feat-one', 'main']);
    await expect(provider.listBranches(path.join(root, 'nope'))).rejects.toMatchObject({ type: 'RepositoryNotFound', retryable: false });
  });

  it('clones once and checks out the branch; a second call reuses the clone', async () => {
    handle = await provider.createSandbox({ sandboxKey: key, repository: repo, branchName: 'feat-two' }, report);
    expect(await sandboxGit(handle.directory).revparse(['--abbrev-ref', 'HEAD'])).toBe('feat-two');
    expect(progress.map(([s]) => s)).toEqual(['cloning', 'checking_out']);
    const inode = statSync(path.join(handle.directory, 'README.md')).ino;
    await fs.writeFile(path.join(handle.directory, 'work.txt'), 'work in progress');

    progress.length = 0;
    const again = await provider.createSandbox({ sandboxKey: key, repository: repo, branchName: 'feat-two' }, report);
    expect(again.directory).toBe(handle.directory);
    expect(progress.map(([s]) => s)).toEqual(['checking_out']); // no second clone
    expect(statSync(path.join(handle.directory, 'README.md')).ino).toBe(inode);
    expect(await fs.readFile(path.join(handle.directory, 'work.txt'), 'utf8')).toBe('work in progress');
    expect((await fs.readdir(path.dirname(handle.directory))).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('starts one sandbox-agent and reuses it while it is healthy', async () => {
    const first = await provider.ensureAgent(handle, report);
    const second = await provider.ensureAgent(handle, report);
    expect(second).toEqual(first);
    expect(isProcessAlive(first.details.agentPid as number)).toBe(true);
    handle = { ...handle, agentEndpoint: first.endpoint, details: { ...handle.details, ...first.details } };
  });

  it('stops a sandbox-agent an earlier attempt started but never recorded, so only one runs', async () => {
    const recorded = JSON.parse(await fs.readFile(path.join(records(), 'agent.json'), 'utf8')) as { pid: number };
    // An attempt that died between spawning the server and writing agent.json: a live, unrecorded server.
    await fs.rm(path.join(records(), 'agent.json'));
    expect(provider.agentProcesses(key)).toEqual([recorded.pid]);
    const again = await provider.ensureAgent(handle, report);
    expect(again.details.agentPid).not.toBe(recorded.pid);
    expect(isProcessAlive(recorded.pid)).toBe(false);
    expect(provider.agentProcesses(key)).toEqual([again.details.agentPid]);
    handle = { ...handle, agentEndpoint: again.endpoint, details: { ...handle.details, ...again.details } };
  });

  it('opens one session and reuses it; after a lost answer it closes the earlier ACP server before opening anew', async () => {
    const agent = JSON.parse(await fs.readFile(path.join(records(), 'agent.json'), 'utf8')) as AgentTarget;
    const servers = () => listAcpServers({ ...agent, timeoutMs: 2000 });

    const first = await provider.createSession(handle, { agent: 'offline', sessionKey: 'initial' }, report);
    expect(first.agent).toBe('offline');
    expect(first.sessionId).toMatch(/^offline-/);
    const second = await provider.createSession(handle, { agent: 'offline', sessionKey: 'initial' }, report);
    expect(second.sessionId).toBe(first.sessionId);
    expect((await servers()).map((s) => s.serverId)).toEqual([first.details.acpServerId]);

    // Simulate an attempt that opened a session but died before recording its id.
    const sessionFile = path.join(records(), 'sessions', 'initial.json');
    const record = JSON.parse(await fs.readFile(sessionFile, 'utf8'));
    delete record.sessionId;
    await fs.writeFile(sessionFile, JSON.stringify(record));
    const third = await provider.createSession(handle, { agent: 'offline', sessionKey: 'initial' }, report);
    expect(third.sessionId).not.toBe(first.sessionId);
    expect((await servers()).map((s) => s.serverId)).toEqual([third.details.acpServerId]);
  });

  it('refuses an agent sandbox-agent does not know, for good', async () => {
    await fs.rm(path.join(records(), 'sessions', 'initial.json'));
    const err = await provider.createSession(handle, { agent: 'no-such-agent', sessionKey: 'initial' }, report).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ type: 'InvalidAgent', retryable: false, message: 'agent no-such-agent is not known to sandbox-agent' });
  });

  it('refuses an agent that is not installed, naming it, instead of running another', async () => {
    const err = await provider.createSession(handle, { agent: 'amp', sessionKey: 'amp-tab' }, report).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ type: 'InvalidAgent', retryable: false, message: 'agent amp is not installed on this sandbox host' });
  });

  it('destroys the sandbox: agent stopped, directory gone', async () => {
    const pid = JSON.parse(await fs.readFile(path.join(records(), 'agent.json'), 'utf8')).pid as number;
    await provider.destroySandbox(handle);
    expect(isProcessAlive(pid)).toBe(false);
    await expect(fs.access(provider.paths(key).root)).rejects.toThrow();
    expect(await provider.resumeSandbox(key)).toBeNull();
  });
});

/**
 * Git remotes, transient vs final (docs/ARCHITECTURE.md#git-remote-unreachable): the classifier on git's own words, then the real thing
 * against a `git daemon` on loopback that the test stops and starts, and small loopback HTTP/TCP
 * servers for the HTTP answers and a remote that never answers.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import { classifyGitFailure } from '../../src/providers/local/gitErrors';
import { cloneAndCheckout, currentBranch, listRemoteBranches } from '../../src/providers/local/git';

/** These tests talk to a real `git daemon`: git:// is admitted here as REPOSITORY_ALLOW_GIT_PROTOCOL=1 would. */
const gitProtocol = { extraProtocols: ['git'] };
/** The HTTP tests use a plain-HTTP server on 127.0.0.1 (no TLS here): http is admitted for them. */
const httpProtocol = { extraProtocols: ['http'] };
import { ProviderError } from '../../src/providers/types';
import { createBareRepo, createGitDaemon, type GitDaemon } from '../support/gitDaemon';
import { readStack } from '../../src/dev/stack/stackFile';

const SSH_TAIL = 'fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n';

describe('classifyGitFailure', () => {
  it.each([
    // final: not there
    ["fatal: '/srv/none' does not appear to be a git repository\n" + SSH_TAIL, 'not_found', 'not found'],
    ['fatal: remote error: access denied or repository not exported: /nope.git\n', 'not_found', 'not found or not exported'],
    ['fatal: remote error: no such repository: /nope.git\n', 'not_found', 'not found'],
    ["fatal: repository 'http://127.0.0.1:36325/x.git/' not found\n", 'not_found', 'not found'],
    ['ERROR: Repository not found.\n' + SSH_TAIL, 'not_found', 'not found'],
    ['remote: Repository not found.\nfatal: the remote end hung up unexpectedly\n', 'not_found', 'not found'],
    ["fatal: unable to access 'https://host/x.git/': The requested URL returned error: 404\n", 'not_found', 'not found (HTTP 404)'],
    // final: may not be read
    ["remote: HTTP Basic: Access denied\nfatal: Authentication failed for 'https://host/x.git/'\n", 'auth', 'authentication failed'],
    ["fatal: could not read Username for 'http://127.0.0.1:36325': terminal prompts disabled\n", 'auth', 'authentication required'],
    ["fatal: unable to access 'http://127.0.0.1:36325/x.git/': The requested URL returned error: 403\n", 'auth', 'access denied (HTTP 403)'],
    ['git@host.example: Permission denied (publickey).\n' + SSH_TAIL, 'auth', 'authentication failed (ssh key refused)'],
    ['Host key verification failed.\n' + SSH_TAIL, 'auth', 'ssh host key verification failed'],
    // transient
    ['fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: errno=Connection refused\n', 'transient', 'connection refused'],
    ["Cloning into '/tmp/x.partial-1-2'...\nfatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: errno=Connection refused\n", 'transient', 'connection refused'],
    ['ssh: connect to host 127.0.0.1 port 43127: Connection refused\n' + SSH_TAIL, 'transient', 'connection refused'],
    [
      "fatal: unable to access 'https://127.0.0.1:43127/x.git/': Failed to connect to 127.0.0.1 port 43127 after 0 ms: Couldn't connect to server\n",
      'transient',
      'could not connect',
    ],
    ["fatal: unable to access 'https://nohost.invalid/x.git/': Could not resolve host: nohost.invalid\n", 'transient', 'host name could not be resolved'],
    ['fatal: unable to look up nohost.invalid (port 9418) (Name or service not known)\n', 'transient', 'host name could not be resolved'],
    ['ssh: Could not resolve hostname nohost.invalid: Name or service not known\n' + SSH_TAIL, 'transient', 'host name could not be resolved'],
    ['ssh: connect to host 127.0.0.1 port 22: Connection timed out\n' + SSH_TAIL, 'transient', 'timed out'],
    ["fatal: unable to access 'https://host/x.git/': Failed to connect to host port 443 after 130000 ms: Connection timed out\n", 'transient', 'timed out'],
    ['block timeout reached', 'transient', 'timed out'],
    ['kex_exchange_identification: read: Connection reset by peer\n' + SSH_TAIL, 'transient', 'connection lost'],
    ['error: RPC failed; curl 56 Recv failure: Connection reset by peer\nfatal: early EOF\nfatal: fetch-pack: invalid index-pack output\n', 'transient', 'connection lost'],
    ['fatal: the remote end hung up unexpectedly\nfatal: early EOF\n', 'transient', 'connection lost'],
    ["fatal: unable to access 'http://127.0.0.1:1/x.git/': Empty reply from server\n", 'transient', 'connection lost'],
    ["fatal: unable to access 'https://host/x.git/': The requested URL returned error: 502\n", 'transient', 'server error (HTTP 502)'],
    ["fatal: unable to access 'https://host/x.git/': The requested URL returned error: 503\n", 'transient', 'server error (HTTP 503)'],
    ['ssh: connect to host 127.0.0.1 port 22: Network is unreachable\n' + SSH_TAIL, 'transient', 'network unreachable'],
    ['error: unable to write file blob.bin\nfatal: write error: No space left on device\nfatal: unable to checkout working tree\n', 'disk_full', "the sandbox's disk is full"],
    // unknown: transient, worded from git's last fatal line
    [
      "fatal: unable to access 'https://host/x.git/': SSL certificate problem: unable to get local issuer certificate\n",
      'transient',
      "unable to access 'https://host/x.git/': SSL certificate problem: unable to get local issuer certificate",
    ],
    ['', 'transient', 'git failed without a message'],
  ])('%j -> %s (%s)', (text, kind, reason) => {
    expect(classifyGitFailure(text)).toEqual({ kind, reason });
  });
});

describe('git remotes against a real git daemon on loopback', () => {
  const root = mkdtempSync(path.join(readStack().workDir, 'git-remote-'));
  let daemon: GitDaemon;
  const noProgress = async () => undefined;

  beforeAll(async () => {
    daemon = await createGitDaemon(path.join(root, 'served'));
    await createBareRepo(daemon.baseDir, 'app.git', ['feature-x']);
  });
  afterAll(async () => daemon?.stop());

  it('a stopped daemon is transient: ProviderUnavailable, retryable, git error kept as the cause', async () => {
    await daemon.stop();
    const err = await listRemoteBranches(daemon.url('app.git'), gitProtocol).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ type: 'ProviderUnavailable', retryable: true, message: `repository ${daemon.url('app.git')} cannot be reached: connection refused` });
    expect(((err as ProviderError).cause as Error).message).toMatch(/Connection refused/);
  });

  it('a started daemon lists the branches', async () => {
    await daemon.start();
    expect((await listRemoteBranches(daemon.url('app.git'), gitProtocol)).sort()).toEqual(['feature-x', 'main']);
  });

  it('a repository the daemon does not export is final: RepositoryNotFound, not retryable', async () => {
    await daemon.start();
    await expect(listRemoteBranches(daemon.url('missing.git'), gitProtocol)).rejects.toMatchObject({
      type: 'RepositoryNotFound',
      retryable: false,
      message: `repository ${daemon.url('missing.git')} cannot be read: not found or not exported`,
    });
  });

  it('cloning from a stopped daemon is transient and leaves no directory behind', async () => {
    await daemon.stop();
    const parent = path.join(root, 'sandbox-stopped');
    mkdirSync(parent);
    const dir = path.join(parent, 'repo');
    await expect(cloneAndCheckout(daemon.url('app.git'), dir, 'task-branch', noProgress, gitProtocol)).rejects.toMatchObject({
      type: 'ProviderUnavailable',
      retryable: true,
      message: `repository ${daemon.url('app.git')} cannot be reached: connection refused`,
    });
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('cloning from a started daemon checks out the task branch', async () => {
    await daemon.start();
    const dir = path.join(root, 'sandbox-started', 'repo');
    mkdirSync(path.dirname(dir));
    await cloneAndCheckout(daemon.url('app.git'), dir, 'task-branch', noProgress, gitProtocol);
    expect(await currentBranch(dir)).toBe('task-branch');
    expect((await simpleGit(dir).remote(['get-url', 'origin']))?.trim()).toBe(daemon.url('app.git'));
    expect(readdirSync(path.dirname(dir))).toEqual(['repo']);
    expect(existsSync(path.join(dir, 'README.md'))).toBe(true);
  });

  it('a cloning attempt into a directory that failed before succeeds once the daemon is back', async () => {
    await daemon.stop();
    const dir = path.join(root, 'sandbox-retried', 'repo');
    await expect(cloneAndCheckout(daemon.url('app.git'), dir, 'feature-x', noProgress, gitProtocol)).rejects.toMatchObject({ type: 'ProviderUnavailable' });
    await daemon.start();
    await cloneAndCheckout(daemon.url('app.git'), dir, 'feature-x', noProgress, gitProtocol);
    expect(await currentBranch(dir)).toBe('feature-x');
  });
});

describe('git remotes: time limit and non-interactive authentication', () => {
  const root = mkdtempSync(path.join(readStack().workDir, 'git-remote-http-'));
  const servers: Array<net.Server> = [];
  const listen = async (server: net.Server): Promise<number> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as net.AddressInfo).port;
  };
  afterAll(async () => {
    for (const s of servers) {
      (s as http.Server).closeAllConnections?.();
      await new Promise((r) => s.close(r));
    }
  });

  it('a remote that accepts and never answers is killed at the time limit: transient, no directory left', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    const port = await listen(silent);
    const url = `git://127.0.0.1:${port}/app.git`;
    try {
      await expect(listRemoteBranches(url, { timeoutMs: 300, ...gitProtocol })).rejects.toMatchObject({
        type: 'ProviderUnavailable',
        retryable: true,
        message: `repository ${url} cannot be reached: timed out`,
      });
      const dir = path.join(root, 'sandbox-silent', 'repo');
      mkdirSync(path.dirname(dir));
      await expect(cloneAndCheckout(url, dir, 'b', async () => undefined, { timeoutMs: 300, ...gitProtocol })).rejects.toMatchObject({
        type: 'ProviderUnavailable',
        retryable: true,
      });
      expect(readdirSync(path.dirname(dir))).toEqual([]);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('HTTP answers: 503 is transient, 404 and 401 are final, and no prompt or askpass program runs', async () => {
    const server = http.createServer((req, res) => {
      const code = Number(req.url?.split('/')[1]);
      res.writeHead(code, code === 401 ? { 'www-authenticate': 'Basic realm="test"' } : {});
      res.end('no');
    });
    const port = await listen(server);
    const url = (code: number) => `http://127.0.0.1:${port}/${code}/app.git`;
    // An askpass program in the worker's environment must not be asked (nor break the call).
    const marker = path.join(root, 'askpass-ran');
    const askpass = path.join(root, 'askpass.sh');
    writeFileSync(askpass, `#!/bin/sh\ntouch '${marker}'\necho secret\n`);
    chmodSync(askpass, 0o755);
    const saved = { GIT_ASKPASS: process.env.GIT_ASKPASS, SSH_ASKPASS: process.env.SSH_ASKPASS };
    process.env.GIT_ASKPASS = askpass;
    process.env.SSH_ASKPASS = askpass;
    try {
      await expect(listRemoteBranches(url(503), httpProtocol)).rejects.toMatchObject({
        type: 'ProviderUnavailable',
        retryable: true,
        message: `repository ${url(503)} cannot be reached: server error (HTTP 503)`,
      });
      await expect(listRemoteBranches(url(404), httpProtocol)).rejects.toMatchObject({
        type: 'RepositoryNotFound',
        retryable: false,
        message: `repository ${url(404)} cannot be read: not found`,
      });
      await expect(listRemoteBranches(url(401), httpProtocol)).rejects.toMatchObject({
        type: 'RepositoryNotFound',
        retryable: false,
        message: `repository ${url(401)} cannot be read: authentication required`,
      });
      await expect(listRemoteBranches(url(403), httpProtocol)).rejects.toMatchObject({ type: 'RepositoryNotFound', retryable: false });
      expect(existsSync(marker)).toBe(false);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkRepository, resolveRepositoryForUse, type RepositoryPolicy } from '../../src/repositories/policy';

const git = (...args: string[]) => execFileSync('git', args, { stdio: 'ignore' });

describe('repository policy', () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'repo-policy-'));
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  const sandboxes = path.join(root, 'sandboxes');
  mkdirSync(path.join(root, 'repos', 'app'), { recursive: true });
  mkdirSync(sandboxes, { recursive: true });
  mkdirSync(outside, { recursive: true });
  symlinkSync('/etc', path.join(root, 'escape'));

  const policy: RepositoryPolicy = { roots: [root], protectedPaths: [sandboxes], allowGitProtocol: false };
  const withGit: RepositoryPolicy = { ...policy, allowGitProtocol: true };

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  describe('checkRepository (create time)', () => {
    it.each([
      [path.join(root, 'repos', 'app'), true],
      [path.join(root, 'repos', 'not-yet-there'), true],
      [path.join(root, 'x', '..', 'repos', 'app'), true],
      [root, true],
      [path.join(root, '..'), false],
      [path.join(root, 'repos', '..', '..', 'etc'), false],
      [`${root}-sibling/app`, false],
      [path.join(root, 'escape'), false],
      [path.join(root, 'escape', 'passwd'), false],
      [sandboxes, false],
      [path.join(sandboxes, 'task-1', 'work'), false],
      [path.join(root, 'repos', '..', 'sandboxes', 'task-1'), false],
      ['/tmp/re\u0000po', false],
      ['/tmp/re\npo', false],
      ['https://github.com/org/repo.git', true],
      ['https://user:token@github.com:443/org/repo.git', true],
      ['ssh://git@host/org/repo.git', true],
      ['ssh://git@host:2222/org/repo.git', true],
      ['ssh://[::1]:22/org/repo.git', true],
      ['git@github.com:org/repo.git', true],
      ['git://127.0.0.1:9418/repo.git', false],
      ['git://127.0.0.1:5432/x', false],
      ['GIT://host.example/org/repo.git', false],
      ['HTTPS://host.example/org/repo.git', false],
      ['file:///etc', false],
      ['ext::sh -c id', false],
      ['ext::sh', false],
      ['fd::3', false],
      ['fd::3,4', false],
      ['git+ext::sh -c id', false],
      ['foo::bar', false],
      ['http://insecure.example/repo.git', false],
      ['git+ssh://host/repo.git', false],
      ['git:/relative', false],
      ['relative/path', false],
      ['./relative', false],
      ['', false],
      ['ssh://-oProxyCommand=touch%20/tmp/pwned/y', false],
      ['ssh://git@-oProxyCommand=x/y', false],
      ['ssh://-oProxy@host/y', false],
      ['-oProxyCommand=x@host:path', false],
      ['git@-oProxyCommand:path', false],
      ['git@host:-upload-pack', false],
      ['https://host.example/org repo.git', false],
      ['https://host.example/org/repo.git\n', false],
      ['https:///org/repo.git', false],
    ])('%j -> %s', (repository, allowed) => {
      const verdict = checkRepository(repository, policy);
      expect(verdict.ok).toBe(allowed);
      if (!verdict.ok) expect(verdict.reason).toMatch(/^[^\n]+$/);
    });

    it('admits git:// only when the policy allows the git protocol', () => {
      expect(checkRepository('git://127.0.0.1:9418/repo.git', policy)).toEqual({ ok: false, reason: expect.stringContaining('git://') });
      expect(checkRepository('git://127.0.0.1:9418/repo.git', withGit)).toEqual({ ok: true });
      expect(checkRepository('git://-oFoo/repo.git', withGit).ok).toBe(false);
      expect(checkRepository('GIT://host.example/org/repo.git', withGit).ok).toBe(false);
    });

    it('refuses protected paths whatever the roots say', () => {
      expect(checkRepository(sandboxes, { ...policy, roots: ['/'] }).ok).toBe(false);
      expect(checkRepository(path.join(sandboxes, 'a'), { ...policy, roots: [sandboxes] }).ok).toBe(false);
      // A symlink under a root that leads into a protected path.
      const link = path.join(root, 'repos', 'into-sandboxes');
      symlinkSync(sandboxes, link);
      expect(checkRepository(path.join(link, 'task-1'), policy)).toEqual({ ok: false, reason: expect.stringContaining("service's own data") });
    });

    it('names the roots when a local path is outside them, and refuses everything local with no roots', () => {
      expect(checkRepository('/etc', policy)).toEqual({ ok: false, reason: `local repositories must be under: ${root}` });
      expect(checkRepository(path.join(root, 'repos', 'app'), { ...policy, roots: [] }).ok).toBe(false);
    });
  });

  describe('resolveRepositoryForUse (use time)', () => {
    const repos = path.join(root, 'use');
    mkdirSync(repos);
    const work = path.join(repos, 'work');
    git('init', '-q', work);
    const bare = path.join(repos, 'bare.git');
    git('init', '-q', '--bare', bare);
    const gitdirFile = path.join(repos, 'gitdir-file');
    mkdirSync(gitdirFile);
    writeFileSync(path.join(gitdirFile, '.git'), 'gitdir: /etc\n');
    const gitSymlink = path.join(repos, 'git-symlink');
    mkdirSync(gitSymlink);
    symlinkSync(path.join(work, '.git'), path.join(gitSymlink, '.git'));
    const foreign = path.join(outside, 'foreign');
    git('init', '-q', foreign);
    const linkOut = path.join(repos, 'link-out');
    symlinkSync(foreign, linkOut);
    const linkIn = path.join(repos, 'link-in');
    symlinkSync(work, linkIn);
    const borrowing = path.join(repos, 'borrowing');
    git('init', '-q', borrowing);
    writeFileSync(path.join(borrowing, '.git', 'objects', 'info', 'alternates'), `${path.join(foreign, '.git', 'objects')}\n`);
    const bareBorrowing = path.join(repos, 'bare-borrowing.git');
    git('init', '-q', '--bare', bareBorrowing);
    writeFileSync(path.join(bareBorrowing, 'objects', 'info', 'alternates'), `${path.join(foreign, '.git', 'objects')}\n`);
    const linked = path.join(repos, 'linked');
    git('init', '-q', linked);
    writeFileSync(path.join(linked, '.git', 'commondir'), `${path.join(foreign, '.git')}\n`);
    const objectsLink = path.join(repos, 'objects-link');
    git('init', '-q', objectsLink);
    rmSync(path.join(objectsLink, '.git', 'objects'), { recursive: true });
    symlinkSync(path.join(foreign, '.git', 'objects'), path.join(objectsLink, '.git', 'objects'));
    const plainDir = path.join(repos, 'plain');
    mkdirSync(plainDir);
    const plainFile = path.join(repos, 'file');
    writeFileSync(plainFile, 'x');
    const inSandbox = path.join(sandboxes, 'task-1', 'work');
    git('init', '-q', inSandbox);

    it('allows a work tree whose .git is a directory, with its real path as the target', () => {
      expect(resolveRepositoryForUse(work, policy)).toEqual({ ok: true, target: realpathSync(work) });
      expect(resolveRepositoryForUse(path.join(repos, 'x', '..', 'work'), policy)).toEqual({ ok: true, target: realpathSync(work) });
    });

    it('allows a bare repository', () => {
      expect(resolveRepositoryForUse(bare, policy)).toEqual({ ok: true, target: realpathSync(bare) });
    });

    it('hands git the real path when the named path is a symlink to a repository inside the roots', () => {
      expect(resolveRepositoryForUse(linkIn, policy)).toEqual({ ok: true, target: realpathSync(work) });
    });

    it('passes allowed remote URLs through unchanged and refuses the rest', () => {
      expect(resolveRepositoryForUse('https://github.com/org/repo.git', policy)).toEqual({ ok: true, target: 'https://github.com/org/repo.git' });
      expect(resolveRepositoryForUse('git@github.com:org/repo.git', policy)).toEqual({ ok: true, target: 'git@github.com:org/repo.git' });
      expect(resolveRepositoryForUse('git://127.0.0.1:9418/x', withGit)).toEqual({ ok: true, target: 'git://127.0.0.1:9418/x' });
      for (const refused of ['git://127.0.0.1:9418/x', 'ext::sh -c id', 'fd::3', 'file:///etc', 'http://h/x', 'ssh://-oProxyCommand=x/y', 'relative/x']) {
        expect(resolveRepositoryForUse(refused, policy)).toEqual({ ok: false, reason: expect.any(String) });
      }
    });

    it.each([
      ['a .git file with gitdir: /etc', gitdirFile, /gitdir/],
      ['a .git symlink to another repository', gitSymlink, /symlink/],
      ['a symlink to a repository outside the roots', linkOut, /must be under/],
      ['a work tree with objects/info/alternates', borrowing, /alternates/],
      ['a bare repository with objects/info/alternates', bareBorrowing, /alternates/],
      ['a linked worktree (commondir)', linked, /commondir/],
      ['objects/ a symlink', objectsLink, /not a valid git directory/],
      ['a directory that is no repository', plainDir, /not a git repository/],
      ['a regular file', plainFile, /not a directory/],
      ['a repository inside a protected path', inSandbox, /service's own data/],
      ['a repository outside the roots', foreign, /must be under/],
      ['/etc', '/etc', /must be under/],
    ])('refuses %s', (_name, repository, reason) => {
      const verdict = resolveRepositoryForUse(repository, policy);
      expect(verdict).toEqual({ ok: false, reason: expect.stringMatching(reason) });
      expect(verdict).not.toHaveProperty('notFound');
    });

    it('refuses a protected path even when a root contains it or a root is inside it', () => {
      expect(resolveRepositoryForUse(inSandbox, { ...policy, roots: [sandboxes] }).ok).toBe(false);
      expect(resolveRepositoryForUse(inSandbox, { ...policy, roots: ['/'] }).ok).toBe(false);
    });

    it('reports a missing local path as not found (not as not allowed)', () => {
      const missing = path.join(repos, 'missing');
      expect(resolveRepositoryForUse(missing, policy)).toEqual({ ok: false, reason: `repository ${missing} does not exist`, notFound: true });
      expect(resolveRepositoryForUse(path.join(plainFile, 'below'), policy)).toMatchObject({ ok: false, notFound: true });
      // Allowed at create time (its place is), then still missing when git would run.
      expect(checkRepository(missing, policy)).toEqual({ ok: true });
    });

    it('checks again at use time what changed since create time', () => {
      const swapped = path.join(repos, 'swapped');
      symlinkSync(work, swapped);
      expect(checkRepository(swapped, policy)).toEqual({ ok: true });
      rmSync(swapped);
      symlinkSync(foreign, swapped);
      expect(resolveRepositoryForUse(swapped, policy).ok).toBe(false);
    });
  });
});

import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkRepository } from '../../src/api/repositoryPolicy';

describe('repository policy', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'repo-roots-'));
  mkdirSync(path.join(root, 'repos', 'app'), { recursive: true });
  symlinkSync('/etc', path.join(root, 'escape'));

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
    ['https://github.com/org/repo.git', true],
    ['ssh://git@host/org/repo.git', true],
    ['git@github.com:org/repo.git', true],
    ['git://127.0.0.1:9418/repo.git', true],
    ['GIT://host.example/org/repo.git', true],
    ['file:///etc', false],
    ['ext::sh -c id', false],
    ['fd::3', false],
    ['http://insecure.example/repo.git', false],
    ['git+ext::sh -c id', false],
    ['git:/relative', false],
    ['relative/path', false],
  ])('%s -> %s', (repository, allowed) => {
    expect(checkRepository(repository, [root]).ok).toBe(allowed);
  });
});

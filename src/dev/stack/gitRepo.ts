/** Real git repositories for tests, made with git itself. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { simpleGit } from 'simple-git';

/**
 * Creates a repository at `dir` with one commit on `main` (a README) and the extra `branches`.
 * @returns `dir`
 */
export async function createTestRepo(dir: string, branches: string[] = []): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const git = simpleGit(dir);
  await git.init(['-b', 'main']);
  await git.addConfig('user.email', 'test@example.invalid').addConfig('user.name', 'Test');
  writeFileSync(path.join(dir, 'README.md'), '# test repository\n');
  await git.add('README.md').commit('initial commit');
  for (const b of branches) await git.branch([b]);
  return dir;
}

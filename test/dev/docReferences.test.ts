/**
 * The stale-reference check of the test command (src/dev/docReferences.ts, scripts/check-references.ts):
 * it finds a missing path and a missing anchor, in a doc and in a comment, and it passes on this
 * repository as it stands.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findStaleReferences } from '../../src/dev/docReferences';

describe('stale references in docs and comments', () => {
  it('finds missing paths and anchors, in docs and in comments, and nothing else', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'tps-docrefs-'));
    try {
      mkdirSync(path.join(root, 'docs'));
      mkdirSync(path.join(root, 'src', 'a'), { recursive: true });
      writeFileSync(path.join(root, 'docs', 'GUIDE.md'), '# Guide\n\n## Warm pools\n\ntext\n');
      writeFileSync(
        path.join(root, 'src', 'a', 'here.ts'),
        [
          '/**',
          ' * Uses ./here.ts, ../a/gone.ts and src/a/here.ts; see docs/GUIDE.md#warm-pools and docs/GUIDE.md#cold-pools.',
          ' */',
          'export const x = 1; // src/a/missing.ts',
          '',
        ].join('\n'),
      );
      writeFileSync(
        path.join(root, 'README.md'),
        [
          '# Readme',
          '',
          'See `src/a/here.ts`, `src/a/old.ts`, `src/<name>.ts`, [pools](docs/GUIDE.md#warm-pools), [cold](docs/GUIDE.md#cold) and [self](#readme).',
          '',
          '```sh',
          'cat src/in/fence.ts',
          '```',
          '',
        ].join('\n'),
      );
      expect(findStaleReferences(root)).toEqual([
        { file: 'README.md', line: 3, reference: 'src/a/old.ts', reason: 'missing path' },
        { file: 'README.md', line: 3, reference: 'docs/GUIDE.md#cold', reason: 'missing anchor' },
        { file: 'README.md', line: 6, reference: 'src/in/fence.ts', reason: 'missing path' },
        { file: 'src/a/here.ts', line: 2, reference: '../a/gone.ts', reason: 'missing path' },
        { file: 'src/a/here.ts', line: 2, reference: 'docs/GUIDE.md#cold-pools', reason: 'missing anchor' },
        { file: 'src/a/here.ts', line: 4, reference: 'src/a/missing.ts', reason: 'missing path' },
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('finds none in this repository', () => {
    expect(findStaleReferences(path.resolve(__dirname, '../..'))).toEqual([]);
  });
});

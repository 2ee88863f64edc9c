/**
 * Fails (exit 1) when a doc or a comment cites a repository path that does not exist or a
 * `docs/*.md#anchor` that no heading makes (src/dev/docReferences.ts); run by scripts/test.sh.
 *
 *   npx tsx scripts/check-references.ts
 */
import path from 'node:path';
import { findStaleReferences } from '../src/dev/docReferences';

const stale = findStaleReferences(path.resolve(__dirname, '..'));
for (const s of stale) process.stderr.write(`${s.file}:${s.line}: ${s.reason}: ${s.reference}\n`);
if (stale.length > 0) {
  process.stderr.write(`${stale.length} stale reference(s) in the docs and comments\n`);
  process.exit(1);
}

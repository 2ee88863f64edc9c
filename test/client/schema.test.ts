/**
 * client/schema.d.ts is generated from the OpenAPI document; this fails when the committed file is
 * stale. The generator runs in its own process: openapi-typescript loads ESM-only packages, which
 * Jest's CommonJS module system cannot.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '..', '..');

describe('client/schema.d.ts', () => {
  it('equals a fresh generation from the OpenAPI document (run `npx tsx scripts/generate-client-types.ts` when not)', async () => {
    const run = promisify(execFile);
    const result = await run(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/generate-client-types.ts', '--check'], { cwd: root }).then(
      () => 'fresh',
      (err: { stderr?: string }) => err.stderr ?? String(err),
    );
    expect(result).toBe('fresh');
  });
});

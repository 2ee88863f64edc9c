/**
 * The start command's sealing key file (src/dev/credentialsKey.ts): made once with mode 0600, read
 * again afterwards, never replaced.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureCredentialsKeyFile } from '../../src/dev/credentialsKey';

describe('the credentials key file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tps-credentials-key-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is made once (32 random bytes, base64, mode 0600, in a new directory) and then reused', () => {
    const file = path.join(dir, 'data', 'credentials.key');
    const first = ensureCredentialsKeyFile(file);
    expect(first).toMatchObject({ file, created: true, mode: 0o600 });
    expect(Buffer.from(first.key, 'base64')).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.key);
    const again = ensureCredentialsKeyFile(file);
    expect(again).toMatchObject({ key: first.key, created: false });
    expect(ensureCredentialsKeyFile(path.join(dir, 'other.key')).key).not.toBe(first.key);
  });

  it('reports a file others may read', () => {
    const file = path.join(dir, 'loose.key');
    ensureCredentialsKeyFile(file);
    chmodSync(file, 0o644);
    expect(ensureCredentialsKeyFile(file).mode).toBe(0o644);
  });

  it('refuses a file that holds no key, and leaves it as it was', () => {
    const file = path.join(dir, 'broken.key');
    writeFileSync(file, 'not a key\n');
    expect(() => ensureCredentialsKeyFile(file)).toThrow(/does not hold a credentials key/);
    expect(readFileSync(file, 'utf8')).toBe('not a key\n');
    writeFileSync(file, `${Buffer.alloc(16).toString('base64')}\n`);
    expect(() => ensureCredentialsKeyFile(file)).toThrow(/32 bytes/);
  });
});

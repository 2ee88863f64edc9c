/**
 * Sealing of secrets at rest (src/credentials/sealing.ts): what is sealed opens with the same key and
 * context and with nothing else, the sealed text does not contain the secret, and every failure is a
 * typed SealedSecretError that names neither the secret nor the key.
 */
import { randomBytes } from 'node:crypto';
import { SealedSecretError, keyIdOf, openSealed, sealSecret } from '../../src/credentials/sealing';

describe('sealing', () => {
  const key = randomBytes(32);
  const secret = 'sk-ant-api03-' + 'x'.repeat(40);

  /** The typed failure `fn` throws. */
  const failureOf = (fn: () => unknown): SealedSecretError => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(SealedSecretError);
      expect((err as Error).message).not.toContain(secret);
      return err as SealedSecretError;
    }
    throw new Error('did not throw');
  };

  it('opens what it sealed, with the same key and context', () => {
    const sealed = sealSecret(key, secret, 'ws-a/anthropic');
    expect(sealed.keyId).toBe(keyIdOf(key));
    expect(sealed.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(openSealed(key, sealed, 'ws-a/anthropic')).toBe(secret);
    expect(openSealed(key, sealSecret(key, 'ünïcode ✓'), '')).toBe('ünïcode ✓');
  });

  it('seals to base64 that contains neither the secret nor a part of it, and differently each time', () => {
    const a = sealSecret(key, secret);
    const b = sealSecret(key, secret);
    expect(a.sealed).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(a.sealed).not.toBe(b.sealed);
    const decoded = Buffer.from(a.sealed, 'base64').toString('latin1');
    expect(decoded).not.toContain(secret.slice(0, 8));
    expect(a.sealed).not.toContain(Buffer.from(secret).toString('base64').slice(0, 12));
  });

  it('refuses another key (key_mismatch), and a forged keyId still fails authentication', () => {
    const sealed = sealSecret(key, secret);
    const other = randomBytes(32);
    expect(failureOf(() => openSealed(other, sealed)).reason).toBe('key_mismatch');
    expect(failureOf(() => openSealed(other, { ...sealed, keyId: keyIdOf(other) })).reason).toBe('authentication_failed');
  });

  it('refuses another context, an altered byte and a damaged text', () => {
    const sealed = sealSecret(key, secret, 'ws-a/anthropic');
    expect(failureOf(() => openSealed(key, sealed, 'ws-b/anthropic')).reason).toBe('authentication_failed');
    const bytes = Buffer.from(sealed.sealed, 'base64');
    for (const at of [1, 13, bytes.length - 1]) {
      const altered = Buffer.from(bytes);
      altered[at] = altered[at]! ^ 0x01;
      expect(failureOf(() => openSealed(key, { ...sealed, sealed: altered.toString('base64') }, 'ws-a/anthropic')).reason).toBe('authentication_failed');
    }
    const otherVersion = Buffer.from(bytes);
    otherVersion[0] = 0x02;
    expect(failureOf(() => openSealed(key, { ...sealed, sealed: otherVersion.toString('base64') }, 'ws-a/anthropic')).reason).toBe('malformed');
    for (const text of ['', 'not base64!', Buffer.alloc(20).toString('base64'), bytes.subarray(0, 28).toString('base64')]) {
      expect(failureOf(() => openSealed(key, { ...sealed, sealed: text }, 'ws-a/anthropic')).reason).toMatch(/^(malformed|authentication_failed)$/);
    }
  });

  it('needs a 32-byte key', () => {
    expect(() => sealSecret(randomBytes(16), secret)).toThrow(RangeError);
    expect(() => openSealed(randomBytes(31), sealSecret(key, secret))).toThrow(RangeError);
  });
});

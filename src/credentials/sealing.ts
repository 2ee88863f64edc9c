/**
 * Sealing a secret (a workspace's model provider key) for storage at rest, with the service's
 * sealing key (CREDENTIALS_ENCRYPTION_KEY, 32 bytes).
 *
 * Cipher: AES-256-GCM from Node's built-in `node:crypto` (OpenSSL), with a fresh random 96-bit nonce
 * per seal and a 128-bit tag. Why not XChaCha20-Poly1305 from `@noble/ciphers`, as first planned:
 * its current major (2.x) is ESM-only, and Jest here runs test files as CommonJS on Node 20, where
 * it cannot `require` an ES module ("Must use import to load ES Module"; Jest supports that only
 * from Node 24.9). The 1.x line still ships CommonJS but is an older major line. Node's AES-GCM
 * needs no dependency. With random 96-bit nonces one key should seal at most 2^32 secrets; the service
 * seals one per key a workspace sets, far below that.
 *
 * Sealed form: base64 of `version (1 byte, 0x01) | nonce (12) | ciphertext | tag (16)`. The tag also
 * covers the version byte and a caller's `context` (additional authenticated data, not stored), so a
 * sealed value opens only under the context it was sealed with: the store binds each key to its
 * workspace and provider, and a sealed value copied to another row does not open.
 *
 * Pure but for the random nonce: no I/O.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** Length of a sealing key, bytes. */
export const SEALING_KEY_BYTES = 32;

const VERSION_AES_256_GCM = 0x01;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';

/** A sealed secret and the fingerprint of the key that sealed it. */
export interface Sealed {
  /** base64: version, nonce, ciphertext and tag (see the module comment). */
  sealed: string;
  /** {@link keyIdOf} the sealing key. */
  keyId: string;
}

/**
 * Why a sealed secret did not open:
 * - `key_mismatch`: it was sealed with another key (its keyId is not this key's): the sealing key was
 *   changed since;
 * - `malformed`: not base64 of the layout above, or an unknown version;
 * - `authentication_failed`: the tag does not verify: altered, sealed under another context, or a
 *   keyId collision.
 */
export type SealedSecretFailure = 'key_mismatch' | 'malformed' | 'authentication_failed';

/** A sealed secret could not be opened; the message never contains the secret or the key. */
export class SealedSecretError extends Error {
  override readonly name = 'SealedSecretError';
  constructor(
    readonly reason: SealedSecretFailure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Fingerprint of a sealing key: the first 16 hex characters of its SHA-256. Stored beside each sealed
 * value, so a value sealed with a previous key is told apart from a damaged one.
 */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** @throws RangeError unless `key` is {@link SEALING_KEY_BYTES} bytes. */
function assertKey(key: Buffer): void {
  if (key.length !== SEALING_KEY_BYTES) throw new RangeError(`a sealing key is ${SEALING_KEY_BYTES} bytes, not ${key.length}`);
}

/** The authenticated data of a seal: the version byte and the context. */
function aadOf(version: number, context: string): Buffer {
  return Buffer.concat([Buffer.of(version), Buffer.from(context, 'utf8')]);
}

/**
 * Seals `secret` (UTF-8) with `key` under `context` (any string the caller will give again to open
 * it, e.g. what the secret belongs to; may be empty).
 * @returns the sealed base64 text and the key's id; two seals of one secret differ (random nonce).
 * @throws RangeError when `key` is not 32 bytes.
 */
export function sealSecret(key: Buffer, secret: string, context = ''): Sealed {
  assertKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadOf(VERSION_AES_256_GCM, context));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  const sealed = Buffer.concat([Buffer.of(VERSION_AES_256_GCM), nonce, ciphertext, cipher.getAuthTag()]);
  return { sealed: sealed.toString('base64'), keyId: keyIdOf(key) };
}

/**
 * Opens what {@link sealSecret} sealed, with the same key and context.
 * @returns the secret.
 * @throws SealedSecretError `key_mismatch` when `stored.keyId` is not `key`'s, `malformed` when the
 *   text is not a sealed value, `authentication_failed` when it does not verify (altered, or another
 *   context); RangeError when `key` is not 32 bytes.
 */
export function openSealed(key: Buffer, stored: Sealed, context = ''): string {
  assertKey(key);
  if (stored.keyId !== keyIdOf(key)) {
    throw new SealedSecretError('key_mismatch', `sealed with key ${stored.keyId}, but the sealing key now is ${keyIdOf(key)}`);
  }
  const bytes = /^[A-Za-z0-9+/]*={0,2}$/.test(stored.sealed) ? Buffer.from(stored.sealed, 'base64') : Buffer.alloc(0);
  if (bytes.length < 1 + NONCE_BYTES + TAG_BYTES || bytes[0] !== VERSION_AES_256_GCM) throw new SealedSecretError('malformed', 'not a sealed value of a known version');
  const nonce = bytes.subarray(1, 1 + NONCE_BYTES);
  const ciphertext = bytes.subarray(1 + NONCE_BYTES, bytes.length - TAG_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  const decipher = createDecipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aadOf(VERSION_AES_256_GCM, context));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new SealedSecretError('authentication_failed', 'the sealed value does not verify: altered, or sealed for something else');
  }
}

/**
 * The local sealing key of model provider keys (CREDENTIALS_ENCRYPTION_KEY) for the start command
 * (scripts/dev.ts) when the environment gives none: 32 random bytes, base64, made once into
 * `.data/credentials.key` (git-ignored, mode 0600) and read again on every later start. Keys a
 * workspace stored cannot be opened without it: deleting the file means setting them again.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SERVICE_CHECKOUT } from '../config';

/** Where the start command keeps the key: `<checkout>/.data/credentials.key`. */
export const DEFAULT_CREDENTIALS_KEY_FILE = path.join(SERVICE_CHECKOUT, '.data', 'credentials.key');

/** The key file's contents and what happened to it. */
export interface CredentialsKeyFile {
  /** The key, base64 of 32 bytes (the value of CREDENTIALS_ENCRYPTION_KEY). */
  key: string;
  /** Absolute path of the file. */
  file: string;
  /** True when this call made the file. */
  created: boolean;
  /** Permission bits of the file (0o600 when this call made it); anything in 0o077 means others may read it. */
  mode: number;
}

/**
 * Reads the key from `file`, or makes it first when there is none: its directory is created (mode
 * 0700) if missing and the file is created exclusively (flag `wx`, mode 0600), so two starts at once
 * never overwrite each other's key: the one that loses the race reads the winner's.
 * @throws Error when the file exists but does not hold 32 bytes of base64 (it is never replaced:
 *   the stored keys need it); file system errors.
 */
export function ensureCredentialsKeyFile(file: string = DEFAULT_CREDENTIALS_KEY_FILE): CredentialsKeyFile {
  let created = false;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const key = readFileSync(file, 'utf8').trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length !== 32) {
    throw new Error(`${file} does not hold a credentials key (32 bytes, base64); fix or remove it (keys sealed with it are lost with it)`);
  }
  return { key, file, created, mode: statSync(file).mode & 0o777 };
}

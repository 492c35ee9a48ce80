/**
 * The admin key of an embedded FinCore, kept in its data dir so that "starting again keeps
 * everything" holds for the key too: the walk-through's $ADMIN and a signed-in dashboard survive
 * a restart, and the CLI can call the admin API of the FinCore that holds the data dir.
 *
 * Stored in clear (the CLI must be able to send it) in a file only its owner can read (0600),
 * like an SSH private key; printed at every start. FINCORE_ADMIN_KEY, when set, always wins and
 * is never written anywhere.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const ADMIN_KEY_FILE = 'admin.key';

export function generateAdminKey(): string {
  return `adm_${randomBytes(24).toString('base64url')}`;
}

export function adminKeyPath(dataDir: string): string {
  return join(dataDir, ADMIN_KEY_FILE);
}

/** The key stored in the data dir, or undefined when there is none (yet). */
export function readStoredAdminKey(dataDir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(adminKeyPath(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const key = text.trim();
  return key === '' ? undefined : key;
}

/**
 * The data dir's admin key: the stored one, else `fresh` written there with mode 0600 (created
 * exclusively, so two racing first starts agree on one key). A key file others could read is
 * narrowed back to 0600.
 */
export function persistentAdminKey(dataDir: string, fresh: string = generateAdminKey()): string {
  mkdirSync(dataDir, { recursive: true });
  const path = adminKeyPath(dataDir);
  const stored = readStoredAdminKey(dataDir);
  if (stored !== undefined) {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return stored;
  }
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, `${fresh}\n`);
    } finally {
      closeSync(fd);
    }
    return fresh;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readStoredAdminKey(dataDir) ?? fresh;
  }
}

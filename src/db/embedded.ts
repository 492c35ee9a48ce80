/**
 * Embedded PostgreSQL: PGlite (PostgreSQL compiled to WASM) with its data in a directory,
 * served in-process over a loopback socket so FinCore uses the same `pg` code as on a server.
 *
 * Two processes opening one PGlite data dir lose writes and can corrupt it, so the opener holds
 * an exclusive lock file and a second FinCore refuses with a clear message.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export class DataDirLockedError extends Error {}

export interface EmbeddedPostgres {
  host: string;
  port: number;
  close(): Promise<void>;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function acquireDataDirLock(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lockPath = join(dataDir, 'fincore.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(lockPath);
        } catch {
          // already gone: nothing to release
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && processIsAlive(holder)) {
        throw new DataDirLockedError(
          `The data directory ${dataDir} is in use by another FinCore process (pid ${holder}). ` +
            'Embedded PostgreSQL allows one process per data directory: stop the other process, ' +
            'choose another FINCORE_DATA_DIR, or set DATABASE_URL to share a PostgreSQL server.',
        );
      }
      unlinkSync(lockPath); // left behind by a process that died: take it over
    }
  }
  throw new DataDirLockedError(`Could not lock the data directory ${dataDir}`);
}

/** Connections pg may open; PGlite closes sockets late, so keep it well above the pool size. */
const MAX_SOCKET_CONNECTIONS = 64;

export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const releaseLock = acquireDataDirLock(dataDir);
  try {
    const db = await PGlite.create({ dataDir: join(dataDir, 'pgdata') });
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: MAX_SOCKET_CONNECTIONS });
    await server.start();
    const [, port] = server.getServerConn().split(':');
    return {
      host: '127.0.0.1',
      port: Number(port),
      async close() {
        await server.stop();
        await db.close();
        releaseLock();
      },
    };
  } catch (error) {
    releaseLock();
    throw error;
  }
}

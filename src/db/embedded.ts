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

/** Data dirs this process holds: a lock file with our own pid is only stale if not listed here. */
const heldByThisProcess = new Set<string>();

function acquireDataDirLock(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lockPath = join(dataDir, 'fincore.lock');
  if (heldByThisProcess.has(lockPath)) {
    throw new DataDirLockedError(`The data directory ${dataDir} is in use by this process already; embedded PostgreSQL allows one opener per data directory.`);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldByThisProcess.add(lockPath);
      return () => {
        heldByThisProcess.delete(lockPath);
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
      // Left behind by a process that died (or by an earlier life of our pid after a container
      // restart, since this process does not hold it): take it over.
      unlinkSync(lockPath);
    }
  }
  throw new DataDirLockedError(`Could not lock the data directory ${dataDir}`);
}

/** Connections pg may open; PGlite closes sockets late, so keep it well above the pool size. */
const MAX_SOCKET_CONNECTIONS = 64;

/**
 * PostgreSQL's buffer cache lives in the WASM heap of this process, which never shrinks: PGlite's
 * default 128 MB took the all-in-one process to ~500 MB under the bench. 32 MB keeps it under
 * 300 MB; pages beyond it are read back from the data dir through the OS page cache.
 */
const EMBEDDED_POSTGRESQL_CONF = ['shared_buffers = 32MB'];

export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const releaseLock = acquireDataDirLock(dataDir);
  try {
    const db = await PGlite.create({ dataDir: join(dataDir, 'pgdata'), postgresqlconf: EMBEDDED_POSTGRESQL_CONF });
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

/**
 * The benchmark's own database access, for seeding and for reading results: a `pg` client on
 * the server, or PGlite opened directly on the embedded data dir (only while no FinCore process
 * holds it: PGlite allows one opener).
 */
import { join } from 'node:path';
import pg from 'pg';

export interface Sql {
  query<T extends object = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Several statements, no parameters. */
  exec(text: string): Promise<void>;
  close(): Promise<void>;
}

export async function serverSql(url: string, onNotice?: (message: string) => void): Promise<Sql & { client: pg.Client }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  if (onNotice) client.on('notice', (notice) => onNotice(notice.message ?? ''));
  await client.connect();
  return {
    client,
    async query<T extends object>(text: string, params?: unknown[]) {
      const result = await client.query(text, params);
      return result.rows as T[];
    },
    async exec(text: string) {
      await client.query(text);
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

/** PGlite on FinCore's embedded data dir (`<FINCORE_DATA_DIR>/pgdata`, see src/db/embedded.ts). */
export async function embeddedSql(dataDir: string): Promise<Sql> {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create({ dataDir: join(dataDir, 'pgdata') });
  return {
    async query<T extends object>(text: string, params?: unknown[]) {
      const result = await db.query<T>(text, params);
      return result.rows;
    },
    async exec(text: string) {
      await db.exec(text);
    },
    async close() {
      await db.close();
    },
  };
}

/** Creates `fincore_bench_<pid>` on the server; returns its URL and a drop function. */
export async function createBenchDatabase(serverUrl: string): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `fincore_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * The database handle every other module uses: a `pg` pool, either to a PostgreSQL server
 * (DATABASE_URL) or to embedded PGlite. `inTransaction` is the one way to open a transaction.
 */
import pg from 'pg';
import type { EmbeddedPostgres } from './embedded.ts';
import { databaseConnection, NO_TLS_SETTINGS, type DatabaseTls } from './tls.ts';

// bigint (int8) columns hold money in minor units, bounded far below 2^53: read them as numbers.
pg.types.setTypeParser(20, (value: string) => Number.parseInt(value, 10));

export type Queryable = Pick<pg.PoolClient, 'query'>;

/** Pools (and their clients) that must not use named statements: embedded PGlite's, or all with FINCORE_DB_NAMED_STATEMENTS=false. */
const unnamedOnly = new WeakSet<object>();

/**
 * A named, server-side prepared statement where the connection allows it: parsed once per
 * connection instead of at every call (bench: +8% refunds/s). Only for statements whose plan
 * cannot go stale: the one-call writes (a function scan), inserts and primary-key probes. A
 * named statement's generic plan is kept for the connection's life, which for an ordinary lookup
 * could be a plan made while its table was small. Never with `SELECT *` of a table, whose result
 * type a migration adding a column changes under a live connection. Never on
 * embedded PGlite, where every connection shares one session and so one namespace of names, nor
 * with FINCORE_DB_NAMED_STATEMENTS=false (behind a transaction-mode pooler).
 */
export function namedStatement(db: Queryable, name: string, text: string, values: unknown[]): pg.QueryConfig {
  return unnamedOnly.has(db) ? { text, values } : { name, text, values };
}

export interface Database {
  pool: pg.Pool;
  /** Embedded PGlite: one shared session, so no LISTEN/NOTIFY across connections. */
  embedded: boolean;
  close(): Promise<void>;
}

export async function openDatabase(options: { databaseUrl: string; dataDir: string; poolSize: number; namedStatements?: boolean; tls?: DatabaseTls }): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let pool: pg.Pool;
  if (options.databaseUrl) {
    // TLS as sslmode says, verified against the RDS CA bundle (db/tls.ts).
    const { connectionString, ssl } = databaseConnection(options.databaseUrl, options.tls ?? NO_TLS_SETTINGS);
    pool = new pg.Pool({ connectionString, ssl, max: options.poolSize, connectionTimeoutMillis: 5000 });
  } else {
    // Loaded only when used: server deployments (the Lambda bundle) ship without PGlite.
    const { startEmbeddedPostgres } = await import('./embedded.ts');
    embedded = await startEmbeddedPostgres(options.dataDir);
    // All socket connections share ONE PostgreSQL session. pglite-socket keeps a transaction's
    // statements together, but outside one it interleaves the extended-protocol messages
    // (Parse/Bind/Execute) of different connections, so one connection's Bind can hit another's
    // unnamed portal ("portal does not exist", or another query's rows). One client avoids that;
    // PGlite runs one statement at a time anyway, so nothing is lost. Consequence: never await
    // a second pool client while holding one (see inTransaction).
    pool = new pg.Pool({
      host: embedded.host,
      port: embedded.port,
      user: 'postgres',
      database: 'postgres',
      max: 1,
      connectionTimeoutMillis: 10_000,
    });
  }
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {});
  // Nor a checked-out one: a lost connection can emit 'error' more than once, and pg-pool listens
  // only for the first, while its query runs; an unheard later one crashed a FinCore process
  // during a PostgreSQL restart (test/db-restart.test.ts, in CI). The failing query rejects anyway,
  // and inTransaction destroys a client whose connection died.
  pool.on('connect', (client) => client.on('error', () => {}));
  if (embedded || options.namedStatements === false) {
    unnamedOnly.add(pool);
    pool.on('connect', (client) => unnamedOnly.add(client));
  }
  return {
    pool,
    embedded: embedded !== undefined,
    async close() {
      await pool.end();
      await embedded?.close();
    },
  };
}

/**
 * Runs `work` in one transaction on one client. Never await another pool client inside `work`:
 * on embedded PGlite that deadlocks (the open transaction blocks every other connection).
 */
export async function inTransaction<T>(pool: pg.Pool, work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection lost between two statements (server restart) is reported as an 'error' event
  // on the checked-out client; unheard, it would crash the process. The failing statement
  // rejects anyway, so the transaction rolls back and the caller sees the error.
  let connectionLost = false;
  const ignoreConnectionLoss = () => {
    connectionLost = true;
  };
  client.on('error', ignoreConnectionLoss);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      connectionLost = true;
    });
    throw error;
  } finally {
    client.off('error', ignoreConnectionLoss);
    // A client whose connection died is destroyed, not handed to the next request.
    client.release(connectionLost);
  }
}

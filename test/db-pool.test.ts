/**
 * FinCore's pool (src/db/pool.ts): a connection error on a client must never become an uncaught
 * exception, whether the client is idle in the pool or checked out. A PostgreSQL restart can make
 * one client emit 'error' twice; pg-pool hears only the first, so without FinCore's own listener
 * the second crashed the process (test/db-restart.test.ts failed so in CI).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Database } from '../src/db/pool.ts';

describe('database pool: connection errors are heard', () => {
  let db: Database;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fincore-pool-'));
    db = await openDatabase({ databaseUrl: process.env.DATABASE_URL ?? '', dataDir, poolSize: 2 });
  });
  after(async () => {
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("a checked-out client's 'error' (a lost connection, heard late) does not throw", async () => {
    const client = await db.pool.connect();
    try {
      // EventEmitter.emit throws an 'error' nobody listens for: that is the crash.
      assert.doesNotThrow(() => client.emit('error', new Error('terminating connection due to administrator command')));
    } finally {
      client.release(true);
    }
  });

  it("an idle client's 'error' does not throw either", async () => {
    const client = await db.pool.connect();
    client.release();
    assert.doesNotThrow(() => client.emit('error', new Error('connection lost while idle')));
  });
});

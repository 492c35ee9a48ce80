/**
 * Builds one migrated embedded-PostgreSQL data dir per test run. PGlite's initdb costs seconds;
 * each test copies this template instead of initialising its own.
 */
import { migrate } from '../src/db/migrate.ts';
import { openDatabase } from '../src/db/pool.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: prepare-template.ts <dir>');
const db = await openDatabase({ databaseUrl: '', dataDir: dir, poolSize: 2 });
await migrate(db.pool);
await db.close();

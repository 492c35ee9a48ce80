/**
 * Plain-SQL migrations in ./migrations, applied in file-name order and recorded once each; then
 * the SQL functions in ./functions, one per file, re-applied with CREATE OR REPLACE on every
 * migrate, so a function changes in its one file instead of being copied into a new migration.
 * Migrations hold schema changes only (a migration that changes a function's signature drops the
 * old one).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { inTransaction } from './pool.ts';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');
const FUNCTIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'functions');

function sqlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
}

export async function migrate(pool: pg.Pool): Promise<string[]> {
  const files = sqlFiles(MIGRATIONS_DIR);
  return inTransaction(pool, async (tx) => {
    // Serializes concurrent migrators on a server (several processes starting at once).
    await tx.query('SELECT pg_advisory_xact_lock(7340001)');
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: string }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    const newlyApplied: string[] = [];
    for (const file of files) {
      if (applied.has(file)) continue;
      await tx.query(readFileSync(join(MIGRATIONS_DIR, file), 'utf8'));
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [file]);
      newlyApplied.push(file);
    }
    // After the migrations: a function's file may use any table or column they created. Every
    // file starts CREATE OR REPLACE, so applying an unchanged one again is harmless.
    for (const file of sqlFiles(FUNCTIONS_DIR)) await tx.query(readFileSync(join(FUNCTIONS_DIR, file), 'utf8'));
    return newlyApplied;
  });
}

// Runs the whole suite with Node's test runner. Against embedded PGlite (DATABASE_URL unset) it
// first builds one migrated template data dir that every test copies; against a server each
// test creates and drops its own database.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = { ...process.env };
let template;
if (!env.DATABASE_URL) {
  template = mkdtempSync(join(tmpdir(), 'fincore-template-'));
  const prepared = spawnSync(process.execPath, ['--import', 'tsx', 'test/prepare-template.ts', template], { stdio: 'inherit' });
  if (prepared.status !== 0) process.exit(prepared.status ?? 1);
  env.FINCORE_TEST_TEMPLATE = template;
}

const only = process.argv.slice(2);
const files = only.length > 0
  ? only
  : [
      // Unit tests mirror src/ (test/unit/domain/, test/unit/api/, ...); whole-system tests are test/*.test.ts.
      ...['test/unit', 'test/security'].filter((dir) => existsSync(dir)).flatMap((dir) =>
        readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.test.ts')).map((f) => join(dir, f))),
      ...readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => join('test', f)),
    ].sort();

// The browser test loads the real bundle: build it first (Vite, ~2 s), so it is never stale.
if (files.some((f) => f.includes('dashboard'))) {
  const built = spawnSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'dashboard/vite.config.ts', '--logLevel', 'warn'], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
if (template) rmSync(template, { recursive: true, force: true });
process.exit(result.status ?? 1);

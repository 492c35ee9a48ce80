/**
 * The Lambda bundle as deployed: built by `npm run build:lambda`, copied away from the repository
 * (no node_modules beside it), it loads and exports `handler`; on a PostgreSQL server it also
 * answers an SQS event (a malformed record comes back in batchItemFailures).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, onServer, type TestDatabase } from './helpers.ts';

const run = promisify(execFile);

describe('Lambda bundle', () => {
  let dir: string;
  before(async () => {
    // Its own output folder: the build script clears dist/lambda, which synth may be reading.
    dir = mkdtempSync(join(tmpdir(), 'fincore-lambda-'));
    const out = mkdtempSync(join(tmpdir(), 'fincore-lambda-build-'));
    await run(process.execPath, ['scripts/build-lambda.mjs', '--outdir', out]);
    cpSync(out, dir, { recursive: true });
    rmSync(out, { recursive: true, force: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads without the repository and exports handler', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('./index.mjs'); console.log(typeof m.handler);"], { cwd: dir });
    assert.equal(stdout.trim(), 'function');
  });

  it('contains no PSP simulator code (the simulator is a dev-only package, DESIGN.md section 5)', () => {
    const map = JSON.parse(readFileSync(join(dir, 'index.mjs.map'), 'utf8')) as { sources: string[] };
    assert.ok(map.sources.some((source) => source.includes('src/lambda.ts')), 'the source map lists the bundled files');
    const simulatorSources = map.sources.filter((source) => /(^|\/)psp-simulator\/|dev-simulator/.test(source));
    assert.deepEqual(simulatorSources, []);
    const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
    for (const distinctive of ['startPspSimulator', 'psp simulator listening', '/sim/faults', 'FaultInjector', 'Injected failure (PSP simulator fault injection)']) {
      assert.ok(!code.includes(distinctive), `the bundle contains "${distinctive}"`);
    }
  });

  it('answers an SQS event against PostgreSQL: the malformed record is the one failure', { skip: onServer ? false : 'needs a PostgreSQL server (DATABASE_URL); the Lambda never runs on embedded PGlite' }, async () => {
    let database: TestDatabase | undefined;
    try {
      database = await freshDatabase();
      const script = `
        const { handler } = await import('./index.mjs');
        const answer = await handler({ Records: [{ messageId: 'poison', body: 'not json', attributes: { ApproximateReceiveCount: '1' } }] });
        console.log(JSON.stringify(answer));
        process.exit(0);`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env: { ...process.env, ...database.env, LOG_LEVEL: 'silent' } });
      assert.deepEqual(JSON.parse(stdout.trim().split('\n').pop() ?? ''), { batchItemFailures: [{ itemIdentifier: 'poison' }] });
    } finally {
      await database?.drop();
    }
  });
});

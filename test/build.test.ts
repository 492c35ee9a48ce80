/**
 * `npm run build`: the compiled CLI runs on plain Node with no TypeScript loader. The build is
 * run from a directory whose node_modules has every package but tsx (and NODE_OPTIONS cleared),
 * so a single import of tsx, or of a `.ts` file, would fail the run.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, freshDatabase, type TestDatabase } from './helpers.ts';

const root = resolve('.');

describe('production build (npm run build)', () => {
  const outdir = join(root, `.build-test-${process.pid}`);
  const sandbox = mkdtempSync(join(tmpdir(), 'fincore-build-'));
  const app = join(sandbox, 'app');
  let database: TestDatabase;
  // Plain node: no --import tsx inherited from the test runner, nothing preloaded.
  const env = (extra: Record<string, string>) => ({ ...process.env, NODE_OPTIONS: '', LOG_LEVEL: 'warn', FINCORE_ADMIN_KEY: 'adm_build_test', ...extra });

  before(async () => {
    const built = spawnSync(process.execPath, ['scripts/build.mjs', '--outdir', outdir], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stdout + built.stderr);
    cpSync(outdir, app, { recursive: true });
    // Every installed package but the TypeScript runners.
    mkdirSync(join(sandbox, 'node_modules'));
    for (const name of readdirSync(join(root, 'node_modules'))) {
      if (name === 'tsx' || name === '.bin' || name.startsWith('.')) continue;
      symlinkSync(join(root, 'node_modules', name), join(sandbox, 'node_modules', name));
    }
    database = await freshDatabase();
  });
  after(async () => {
    rmSync(outdir, { recursive: true, force: true });
    rmSync(sandbox, { recursive: true, force: true });
    await database?.drop();
  });

  it('compiles every module to .js with .js imports and copies the migrations', () => {
    assert.ok(existsSync(join(app, 'cli.js')));
    assert.ok(existsSync(join(app, 'src', 'cli.js')));
    // The simulator package is compiled beside the core: `start` runs it.
    assert.ok(existsSync(join(app, 'psp-simulator', 'index.js')));
    assert.ok(readdirSync(join(app, 'src', 'db', 'migrations')).some((f) => f.endsWith('.sql')));
    const importsTs = spawnSync('grep', ['-rlE', `from ['"][^'"]+\\.ts['"]|import\\(['"][^'"]+\\.ts['"]\\)`, app, '--include=*.js'], { encoding: 'utf8' });
    assert.equal(importsTs.stdout, '', 'no compiled module imports a .ts file');
  });

  it('fincore --help runs without tsx', () => {
    const help = spawnSync(process.execPath, [join(app, 'cli.js'), '--help'], { env: env({}), encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /jobs retry <job_id>/);
    const tsxReachable = spawnSync(process.execPath, ['--input-type=module', '-e', "import('tsx').then(() => process.exit(0), () => process.exit(3))"], { cwd: app, env: env({}) });
    assert.equal(tsxReachable.status, 3, 'tsx cannot even be imported from the build\'s directory');
  });

  it('fincore migrate, then start answers /healthz and /readyz and stops cleanly, without tsx', async () => {
    const migrated = spawnSync(process.execPath, [join(app, 'cli.js'), 'migrate'], { env: env(database.env), encoding: 'utf8' });
    assert.equal(migrated.status, 0, migrated.stderr);
    assert.match(migrated.stdout, /migrations applied/);

    const child = spawn(process.execPath, [join(app, 'cli.js'), 'start'], { env: env({ ...database.env, PORT: '0', FINCORE_SIM_PORT: '0' }) });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      const api = await eventually(async () => /API:\s+(http:\/\/\S+)/.exec(output)?.[1], 30_000, `the API URL to be printed: ${output}`);
      assert.equal((await fetch(`${api}/healthz`)).status, 200);
      assert.equal((await fetch(`${api}/readyz`)).status, 200);
      assert.match(output, /PSP simulator:\s+http:\/\//, 'start runs the compiled simulator package');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
    assert.doesNotMatch(output, /tsx|ERR_/);
  });

  it('without dist/psp-simulator (the container image), the simulator commands refuse with one line', () => {
    const image = join(sandbox, 'image');
    cpSync(app, image, { recursive: true });
    rmSync(join(image, 'psp-simulator'), { recursive: true, force: true });
    const sim = spawnSync(process.execPath, [join(image, 'cli.js'), 'psp-simulator'], { env: env({ FINCORE_SIM_PORT: '0' }), encoding: 'utf8' });
    assert.equal(sim.status, 2, sim.stderr);
    assert.match(sim.stderr, /^fincore: this build has no PSP simulator/);
    const help = spawnSync(process.execPath, [join(image, 'cli.js'), '--help'], { env: env({}), encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
  });
});

// Bundles the Lambda worker (src/lambda.ts) into dist/lambda/index.mjs with esbuild: one ESM
// file with its dependencies, for the nodejs22.x runtime. `npm run build:lambda`.
// Options: `--outdir DIR` (default dist/lambda); a plain argument replaces the entry file.
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outdirFlag = args.indexOf('--outdir');
const outdir = outdirFlag >= 0 ? args.splice(outdirFlag, 2)[1] : join(root, 'dist', 'lambda');
const entry = args[0] ?? join(root, 'src', 'lambda.ts');

// A stale file left in outdir would be deployed with the asset.
rmSync(outdir, { recursive: true, force: true });

/**
 * src/db/pool.ts imports the embedded database (PGlite) lazily. esbuild would still inline that
 * module and hoist its PGlite imports to the top of the bundle, so the bundle would not even load
 * without PGlite. Keeping the module itself external leaves a dynamic import that never runs.
 */
const embeddedDatabaseLeftOut = {
  name: 'embedded-database-left-out',
  setup(builder) {
    builder.onResolve({ filter: /\/embedded\.ts$/ }, (args) => ({ path: args.path, external: true }));
  },
};

await build({
  entryPoints: [entry],
  // Lets an entry outside the repository resolve the repository's packages.
  nodePaths: [join(root, 'node_modules')],
  outfile: join(outdir, 'index.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  // The Lambda runtime (infra/lib/worker.ts).
  target: 'node22',
  minify: false,
  sourcemap: true,
  // pg-native is an optional native binding pg only tries; PGlite (embedded mode) is never used
  // on Lambda and ships WASM files a bundle cannot carry.
  external: ['pg-native', '@electric-sql/*'],
  plugins: [embeddedDatabaseLeftOut],
  // CommonJS dependencies call require() and read __filename/__dirname, which an ES module lacks.
  // Aliased imports so the banner cannot collide with names in the bundled code.
  banner: {
    js: [
      "import { createRequire as __fincoreCreateRequire } from 'node:module';",
      "import { fileURLToPath as __fincoreFileURLToPath } from 'node:url';",
      "import { dirname as __fincoreDirname } from 'node:path';",
      'const require = __fincoreCreateRequire(import.meta.url);',
      'const __filename = __fincoreFileURLToPath(import.meta.url);',
      'const __dirname = __fincoreDirname(__filename);',
    ].join('\n'),
  },
  logLevel: 'info',
});

// src/db/migrate.ts finds its .sql files (migrations and functions) next to the running module,
// which in the bundle is index.mjs: ship them there so a migration run from the worker finds them too.
cpSync(join(root, 'src', 'db', 'migrations'), join(outdir, 'migrations'), { recursive: true });
cpSync(join(root, 'src', 'db', 'functions'), join(outdir, 'functions'), { recursive: true });

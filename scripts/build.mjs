// `npm run build`: compiles src/ to dist/ with tsc (the type check is part of it) so production
// runs plain Node, no TypeScript loader. Files read at run time beside the code (the SQL
// migrations, the SQL functions) are copied next to the compiled modules; the dashboard bundle stays in
// dashboard/dist, which dist/api/routes/dashboard.js finds at the same relative path as the source.
// dist/lambda (npm run build:lambda) is left alone.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// `--outdir DIR` (tests): another output directory; keep it a direct child of the repository so
// the dashboard bundle is found at the same relative path.
const outdirFlag = process.argv.indexOf('--outdir');
const dist = outdirFlag >= 0 ? resolve(process.argv[outdirFlag + 1]) : join(root, 'dist');

// A stale module of a deleted source file would still be loadable.
if (existsSync(dist)) for (const entry of readdirSync(dist)) if (entry !== 'lambda') rmSync(join(dist, entry), { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

cpSync(join(root, 'src', 'db', 'migrations'), join(dist, 'db', 'migrations'), { recursive: true });
cpSync(join(root, 'src', 'db', 'functions'), join(dist, 'db', 'functions'), { recursive: true });
process.stdout.write(`built ${dist} (node ${join(dist, 'cli.js')})\n`);

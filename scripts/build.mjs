// `npm run build`: compiles src/ and the PSP simulator package (psp-simulator/) with tsc (the type
// check is part of it) to dist/src/ and dist/psp-simulator/, so production runs plain Node, no
// TypeScript loader; dist/cli.js runs dist/src/cli.js (`node dist/cli.js start`). Files read at run
// time beside the code (the SQL migrations, the SQL functions) are copied next to the compiled
// modules; the dashboard bundle stays in dashboard/dist, which dist/src/api/routes/dashboard.js
// finds one folder further up than its source does. dist/lambda (npm run build:lambda) is left alone.
// The container image drops dist/psp-simulator (Dockerfile): it runs `fincore api` only.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

cpSync(join(root, 'src', 'db', 'migrations'), join(dist, 'src', 'db', 'migrations'), { recursive: true });
cpSync(join(root, 'src', 'db', 'functions'), join(dist, 'src', 'db', 'functions'), { recursive: true });
writeFileSync(join(dist, 'cli.js'), "// The fincore CLI (written by scripts/build.mjs): the compiled src/cli.ts.\nimport './src/cli.js';\n");
process.stdout.write(`built ${dist} (node ${join(dist, 'cli.js')})\n`);

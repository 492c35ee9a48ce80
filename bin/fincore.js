#!/usr/bin/env node
// The `fincore` command when installed as a package. With a build (`npm run build`: dist/cli.js)
// at least as new as every source file, it runs that on plain Node in this process. Otherwise
// (a checkout nobody built, or sources edited since the build) it runs the TypeScript CLI through
// tsx in a child process, passing signals on for a clean shutdown: never stale code.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli.js');
const sources = join(root, 'src');
// The build also compiles the PSP simulator package the dev entry points start.
const sourceDirs = [sources, join(root, 'psp-simulator')];

function newestSourceMs(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

// An installed package may ship dist/ without src/: then the build is all there is.
const buildIsCurrent = existsSync(built) && sourceDirs.every((dir) => !existsSync(dir) || newestSourceMs(dir) <= statSync(built).mtimeMs);

if (buildIsCurrent) {
  await import(pathToFileURL(built).href);
} else {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const child = spawn(process.execPath, ['--import', tsx, join(sources, 'cli.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

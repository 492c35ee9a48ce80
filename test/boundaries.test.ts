/**
 * The layout's boundaries (DESIGN.md section 5) as a test, not a paragraph. Every import specifier
 * (static, dynamic, `import type`, re-exports) is read with TypeScript's own ts.preProcessFile.
 * - psp-simulator/ is an outside PSP: it imports nothing from the core (src/).
 * - The core reaches the simulator only through src/dev-simulator.ts (used by the dev entry points).
 * - src/domain/ is pure: it imports nothing outside src/domain/ (packages and node: built-ins aside).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const root = resolve('.');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

interface Import {
  file: string;
  specifier: string;
  /** Repository-relative path of a relative import's target; null for packages and built-ins. */
  target: string | null;
}

function importsOf(file: string): Import[] {
  const info = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
  return info.importedFiles.map(({ fileName: specifier }) => ({
    file,
    specifier,
    target: specifier.startsWith('.') ? relative(root, resolve(root, dirname(file), specifier)) : null,
  }));
}

const under = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);
const describe = (found: Import[]): string[] => found.map((i) => `${i.file} imports ${i.specifier}`);

test('the scanner sees static, dynamic and type imports', () => {
  const seen = importsOf('src/dev-simulator.ts').map((i) => i.target);
  assert.ok(seen.includes('psp-simulator/index.ts'), 'the dynamic import in src/dev-simulator.ts');
  assert.ok(seen.includes('src/config.ts'));
});

test('the simulator (psp-simulator/) imports nothing from the core (src/)', () => {
  const files = sourceFiles('psp-simulator');
  assert.ok(files.length > 5);
  const found = files.flatMap(importsOf).filter((i) => i.target !== null && !under(i.target, 'psp-simulator'));
  assert.deepEqual(describe(found), []);
});

test('the core reaches the simulator only through src/dev-simulator.ts', () => {
  const found = sourceFiles('src').flatMap(importsOf)
    .filter((i) => i.target !== null && under(i.target, 'psp-simulator') && i.file !== 'src/dev-simulator.ts');
  assert.deepEqual(describe(found), []);
});

test('src/domain/ imports nothing outside src/domain/', () => {
  const files = sourceFiles('src/domain');
  assert.ok(files.length > 0);
  const found = files.flatMap(importsOf).filter((i) => i.target !== null && !under(i.target, 'src/domain'));
  assert.deepEqual(describe(found), []);
});

/**
 * The layout's boundaries (DESIGN.md section 5) as a test, not a paragraph. Every import specifier
 * (static, dynamic, `import type`, re-exports) is read with TypeScript's own ts.preProcessFile.
 * - psp-simulator/ is an outside PSP: it imports nothing from the core (src/).
 * - The core reaches the simulator only through src/dev-simulator.ts (used by the dev entry points).
 * - src/domain/ is pure: it imports nothing outside src/domain/ (packages and node: built-ins aside).
 * - Issue 15 (below): routes call flows; only flows open transactions or call the PSP; the folders of
 *   src/ import each other without a cycle; one error mapper; one registry line per PSP adapter.
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

// ---------------------------------------------------------------------------------------------
// Issue 15: routes call flows; only flows open transactions or call the PSP; no folder cycles;
// one error mapper; a PSP adapter is a folder plus one registration line.
// Calls are found on TypeScript's syntax tree (comments and strings never count).

const srcFiles = sourceFiles('src');
const srcImports = srcFiles.flatMap(importsOf);

function syntaxOf(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest, true);
}

/** Every node of `file` that `match` names, as "file:line what". */
function findIn(file: string, match: (node: ts.Node) => string | undefined): string[] {
  const source = syntaxOf(file);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    const what = match(node);
    if (what !== undefined) found.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1} ${what}`);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `x.name(...)`: the property name called, and the text of `x`. */
function methodCall(node: ts.Node): { name: string; on: string; args: number } | undefined {
  if (!ts.isCallExpression(node) || !ts.isPropertyAccessExpression(node.expression)) return undefined;
  return { name: node.expression.name.text, on: node.expression.expression.getText(), args: node.arguments.length };
}

const ROUTE_DIRS = ['src/api/routes', 'src/api/plugins'];
const routeFiles = srcFiles.filter((file) => ROUTE_DIRS.some((dir) => under(file, dir)));
/** What routes and plugins reach only through flows (types from domain/ and api/ are theirs). */
const BEHIND_FLOWS = ['src/db', 'src/psp', 'src/jobs', 'src/webhooks', 'src/audit'];

test('routes and plugins import nothing from db/, psp/, jobs/, webhooks/, audit/: they call flows', () => {
  assert.ok(routeFiles.length > 10);
  const found = routeFiles.flatMap(importsOf).filter((i) => i.target !== null && BEHIND_FLOWS.some((dir) => under(i.target as string, dir)));
  assert.deepEqual(describe(found), []);
});

test('routes and plugins run no SQL and never touch the PSP gateway (ctx.psp)', () => {
  const found = routeFiles.flatMap((file) =>
    findIn(file, (node) => {
      const call = methodCall(node);
      if (call && (call.name === 'query' || (call.name === 'connect' && call.args === 0))) return `${call.on}.${call.name}(...)`;
      if (ts.isPropertyAccessExpression(node) && node.name.text === 'psp') return `${node.getText()}`;
      return undefined;
    }),
  );
  assert.deepEqual(found, []);
});

/**
 * Where a transaction or a checked-out connection may be opened outside src/flows/, and why.
 * Nothing else: a job handler, the audit relay or a webhook helper that needs a transaction
 * calls a flow.
 */
const TRANSACTION_EXCEPTIONS: Record<string, string> = {
  'src/db/pool.ts': 'defines inTransaction: the one place a pooled client is checked out for BEGIN/COMMIT',
  'src/db/migrate.ts': 'migrations apply in their own transaction at start-up, before any flow runs',
  'src/db/wakeup.ts': 'holds a dedicated LISTEN connection for job notifications; it opens no transaction',
};

test('only flows open transactions (inTransaction, pool.connect()); the exceptions are named', () => {
  const found = srcFiles
    .filter((file) => !under(file, 'src/flows') && !(file in TRANSACTION_EXCEPTIONS))
    .flatMap((file) =>
      findIn(file, (node) => {
        if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'inTransaction') return 'inTransaction(...)';
        const call = methodCall(node);
        if (call && call.name === 'connect' && call.args === 0) return `${call.on}.connect()`;
        return undefined;
      }),
    );
  assert.deepEqual(found, []);
  for (const file of Object.keys(TRANSACTION_EXCEPTIONS)) assert.ok(srcFiles.includes(file), `${file} (a named exception) exists`);
});

/** The gateway's operations that reach the PSP (src/psp/gateway.ts). */
const PSP_OPERATIONS = new Set(['createCharge', 'createRefund', 'getCharge', 'getRefund', 'verifyWebhook']);
const PSP_CALL_EXCEPTIONS: Record<string, string> = {
  'src/context.ts': 'timedGateway wraps the configured adapter: it forwards each operation to time it',
};

test('only flows call the PSP gateway (createCharge, createRefund, getCharge, getRefund, verifyWebhook)', () => {
  const found = srcFiles
    .filter((file) => !under(file, 'src/flows') && !under(file, 'src/psp') && !(file in PSP_CALL_EXCEPTIONS))
    .flatMap((file) =>
      findIn(file, (node) => {
        const call = methodCall(node);
        return call && PSP_OPERATIONS.has(call.name) && /(^|\.)(psp|gateway)$/i.test(call.on) ? `${call.on}.${call.name}(...)` : undefined;
      }),
    );
  assert.deepEqual(found, []);
});

test('the PSP-call scan sees the calls flows make', () => {
  const calls = srcFiles.filter((file) => under(file, 'src/flows')).flatMap((file) =>
    findIn(file, (node) => {
      const call = methodCall(node);
      return call && PSP_OPERATIONS.has(call.name) && /(^|\.)(psp|gateway)$/i.test(call.on) ? call.name : undefined;
    }),
  );
  for (const operation of PSP_OPERATIONS) assert.ok(calls.some((c) => c.endsWith(` ${operation}`)), `a flow calls ${operation}`);
});

/** src/<folder>/... -> folder; files directly in src/ (entry points and wiring: config, context, main) are not part of the graph. */
function folderOf(path: string): string | null {
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length > 2 ? (parts[1] as string) : null;
}

/**
 * Folder-to-folder imports the graph leaves out, each with its reason. Only a type import may be
 * listed, and each is debt: it is gone when its file moves the type.
 */
const ALLOWED_FOLDER_EDGES: Record<string, string> = {};

/** The first cycle of `graph`, as its folders in order (the first repeated at the end), or null. */
function findCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of [...graph.keys()].sort()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

function folderGraph(imports: Import[]): { graph: Map<string, Set<string>>; why: Map<string, string[]> } {
  const graph = new Map<string, Set<string>>();
  const why = new Map<string, string[]>();
  for (const i of imports) {
    const from = folderOf(i.file);
    const to = i.target === null ? null : folderOf(i.target);
    if (from === null || to === null || from === to || `${i.file} -> ${i.target}` in ALLOWED_FOLDER_EDGES) continue;
    if (!graph.has(from)) graph.set(from, new Set());
    graph.get(from)?.add(to);
    why.set(`${from} -> ${to}`, [...(why.get(`${from} -> ${to}`) ?? []), `${i.file} imports ${i.specifier}`]);
  }
  return { graph, why };
}

test('the cycle finder finds a cycle and names it', () => {
  const graph = new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])], ['d', new Set(['a'])]]);
  assert.deepEqual(findCycle(graph), ['a', 'b', 'c', 'a']);
  assert.equal(findCycle(new Map([['a', new Set(['b'])], ['b', new Set(['c'])]])), null);
});

test('no import cycle between the folders of src/ (api, audit, cli, db, domain, flows, jobs, psp, webhooks)', () => {
  const { graph, why } = folderGraph(srcImports);
  const folders = new Set([...graph.keys(), ...[...graph.values()].flatMap((to) => [...to])]);
  assert.ok(folders.size >= 8, `the graph has the folders: ${[...folders].join(', ')}`);
  const cycle = findCycle(graph);
  const edges = cycle?.slice(1).map((to, n) => `${cycle[n]} -> ${to}: ${(why.get(`${cycle[n]} -> ${to}`) ?? []).join('; ')}`);
  assert.equal(cycle, null, `folder cycle ${cycle?.join(' -> ')}\n${edges?.join('\n')}`);
  for (const edge of Object.keys(ALLOWED_FOLDER_EDGES)) {
    const [file, target] = edge.split(' -> ');
    const found = srcImports.find((i) => i.file === file && i.target === target);
    assert.ok(found, `${edge} (an allowed edge) still exists; remove it from ALLOWED_FOLDER_EDGES`);
    assert.match(readFileSync(join(root, file as string), 'utf8'), new RegExp(`import type [^;]*'${found.specifier.replaceAll('.', '\\.')}'`), `${edge} is a type import`);
  }
});

test('error bodies ({ error: { type, code, ... } }) are built only by the error mapper, src/api/errors.ts', () => {
  const found = srcFiles
    .filter((file) => file !== 'src/api/errors.ts')
    .flatMap((file) =>
      findIn(file, (node) => {
        if (!ts.isPropertyAssignment(node) || node.name.getText() !== 'error' || !ts.isObjectLiteralExpression(node.initializer)) return undefined;
        const keys = node.initializer.properties.map((p) => p.name?.getText());
        return keys.includes('type') && keys.includes('code') ? 'an error body built by hand' : undefined;
      }),
    );
  assert.deepEqual(found, []);
});

test('a PSP adapter is its own folder plus one line in src/psp/adapters.ts: only the registry imports an adapter folder', () => {
  const adapterFolders = readdirSync(join(root, 'src/psp'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `src/psp/${e.name}`);
  assert.ok(adapterFolders.length >= 2);
  const found = srcImports.filter((i) =>
    i.target !== null && adapterFolders.some((dir) => under(i.target as string, dir)) && !adapterFolders.some((dir) => under(i.file, dir)) && i.file !== 'src/psp/adapters.ts');
  assert.deepEqual(describe(found), []);
  const registered = importsOf('src/psp/adapters.ts').map((i) => i.target ?? '');
  for (const dir of adapterFolders) assert.ok(registered.some((t) => under(t, dir)), `src/psp/adapters.ts registers ${dir}`);
});

/**
 * Issue 15: a SQL function's live definition is one file in src/db/functions/, re-applied on every
 * migrate, never a copy in a new migration. Migrations up to 019 made earlier definitions (they are
 * history: a database that ran them keeps their record); a function any of them defined more than
 * once has its file, and no later migration defines a function at all (a signature change drops
 * the old one; the new body goes in the file).
 */
test('a SQL function lives in one file of src/db/functions/, not in copies across migrations', () => {
  const migrationsDir = 'src/db/migrations';
  const functionsDir = 'src/db/functions';
  const defines = (sql: string) => [...sql.matchAll(/CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([a-z_][a-z0-9_]*)/gi)].map((m) => m[1]!.toLowerCase());
  const files = new Set(readdirSync(join(root, functionsDir)).filter((f) => f.endsWith('.sql')));
  const live = new Map<string, string>();
  for (const file of files) {
    const names = defines(readFileSync(join(root, functionsDir, file), 'utf8'));
    assert.deepEqual(names, [file.replace(/\.sql$/, '')], `${functionsDir}/${file} defines exactly the function it is named after`);
    live.set(names[0]!, file);
  }
  const definitions = new Map<string, string[]>();
  const late: string[] = [];
  for (const file of readdirSync(join(root, migrationsDir)).filter((f) => f.endsWith('.sql')).sort()) {
    for (const name of defines(readFileSync(join(root, migrationsDir, file), 'utf8'))) {
      definitions.set(name, [...(definitions.get(name) ?? []), file]);
      if (Number(file.slice(0, 3)) >= 20) late.push(`${file} defines ${name}()`);
    }
  }
  assert.deepEqual(late, [], `functions go in ${functionsDir}/<name>.sql, not in a new migration`);
  const copied = [...definitions].filter(([name, where]) => where.length > 1 && !live.has(name)).map(([name, where]) => `${name}() in ${where.join(', ')}`);
  assert.deepEqual(copied, [], `a function defined in more than one migration needs its live file in ${functionsDir}/`);
});

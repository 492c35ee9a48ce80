/**
 * docs/API.md is the public contract: this test fails when it drifts from the code, naming what
 * is missing on which side.
 * - Routes: the app is built by buildApp (once per PSP adapter, since each registers its own
 *   webhook route) and its routes read from Fastify's route tree (`printRoutes`), checked against
 *   the generated OpenAPI document so the parsing cannot silently miss a route. Each route needs
 *   one `### METHOD /path` heading; every heading and every `METHOD /path` written in the file
 *   must be a route.
 * - Error codes: every exported ContractError class of src/domain/errors.ts, instantiated, against
 *   the table under `## Errors` (code, HTTP status, type); literal codes answered in src/api too.
 * - Event types: EVENT_TYPES (src/domain/events.ts) against the table under `## Events`; event
 *   types written as literals (TypeScript writers, SQL INSERTs into events) must be in the list.
 * No database: the app is built with a context whose only used part at build time is the PSP.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import pino from 'pino';
import { buildApp } from '../src/api/app.ts';
import * as domainErrors from '../src/domain/errors.ts';
import { ContractError } from '../src/domain/errors.ts';
import { EVENT_TYPES } from '../src/domain/events.ts';
import type { FlowContext } from '../src/flows/context.ts';
import type { PspGateway } from '../src/psp/gateway.ts';
import { createSimulatorGateway } from '../src/psp/simulator/adapter.ts';
import { createStripeGateway } from '../src/psp/stripe/adapter.ts';

const REFERENCE_PATH = 'docs/API.md';
const reference = readFileSync(REFERENCE_PATH, 'utf8');

/** Routes that are parts of documentation or of the dashboard bundle, not of the API. */
const DOCUMENTATION_ONLY = new Set([
  'GET /docs/',
  'GET /docs/static/*',
  'GET /docs/json',
  'GET /docs/yaml',
  'GET /docs/static/index.html',
  'GET /docs/static/swagger-initializer.js',
  'GET /dashboard/*',
]);

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/** Text of one `## Title` section (up to the next `## `). */
function section(title: string): string {
  const start = reference.search(new RegExp(`^## ${title}\\s*$`, 'm'));
  assert.notEqual(start, -1, `${REFERENCE_PATH} has no "## ${title}" section`);
  const rest = reference.slice(start + 1);
  const end = rest.search(/^## /m);
  return end === -1 ? rest : rest.slice(0, end);
}

function sorted(values: Iterable<string>): string[] {
  return [...values].sort();
}

function listed(values: string[]): string {
  return values.map((v) => `\n  - ${v}`).join('');
}

/** `/v1/charges/:id` -> `/v1/charges/{id}` (the reference's and OpenAPI's spelling). */
function referenceStyle(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/**
 * Fastify's `printRoutes()` radix tree: one node per line, indented 4 characters per level, each
 * node's text the part of the path after its parent's, its methods (if any) in parentheses.
 * Returns Fastify-style paths (`/v1/charges/:id`), checked with `hasRoute` by the caller.
 */
function routesOfTree(tree: string): Array<{ method: string; path: string }> {
  const routes: Array<{ method: string; path: string }> = [];
  const prefixes: string[] = [];
  for (const line of tree.split('\n')) {
    if (line.trim() === '') continue;
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([^)]*)\))?$/.exec(line);
    assert.ok(match, `printRoutes line not understood (the tree format changed?): ${JSON.stringify(line)}`);
    const [, indent = '', segment = '', methods = ''] = match;
    const depth = indent.length / 4;
    const path = (depth > 0 ? (prefixes[depth - 1] ?? '') : '') + segment;
    prefixes[depth] = path;
    prefixes.length = depth + 1;
    for (const method of methods.split(',').map((m) => m.trim())) {
      if (HTTP_METHODS.includes(method)) routes.push({ method, path });
    }
  }
  return routes;
}

async function routesWith(psp: PspGateway): Promise<{ routes: string[]; openApi: string[] }> {
  const ctx = { psp } as unknown as FlowContext;
  const app = await buildApp({ ctx, adminKey: 'adm_reference_test', bodyLimitBytes: 65536, logger: pino({ level: 'silent' }), version: 'test' });
  try {
    await app.ready();
    const tree = routesOfTree(app.printRoutes());
    // Every route read from the tree must be one Fastify knows, or the parsing is wrong.
    const misread = tree.filter(({ method, path }) => !app.hasRoute({ method: method as 'GET', url: path })).map(({ method, path }) => `${method} ${path}`);
    assert.deepEqual(misread, [], `printRoutes parsed into routes Fastify does not have (fix routesOfTree):${listed(misread)}`);
    const routes = tree.map(({ method, path }) => `${method} ${referenceStyle(path)}`);
    const document = app.swagger() as { paths?: Record<string, Record<string, unknown>> };
    const openApi = Object.entries(document.paths ?? {}).flatMap(([path, operations]) =>
      Object.keys(operations)
        .filter((key) => HTTP_METHODS.includes(key.toUpperCase()))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    return { routes, openApi };
  } finally {
    await app.close();
  }
}

type ContractErrorClass = new (message: string) => ContractError;

/** Every exported ContractError subclass of src/domain/errors.ts, with its export name. */
function contractErrorClasses(): Array<[string, ContractErrorClass]> {
  return Object.entries(domainErrors as Record<string, unknown>)
    .filter(([, value]) => typeof value === 'function' && (value as { prototype: unknown }).prototype instanceof ContractError)
    .map(([name, value]) => [name, value as ContractErrorClass]);
}

/** Every .ts / .sql file under `dir`, recursively. */
function sourceFiles(dir: string, extension: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path, extension);
    return entry.name.endsWith(extension) ? [path] : [];
  });
}

describe('docs/API.md, the API reference, matches the code', () => {
  let registered: Set<string>;

  before(async () => {
    const simulator = await routesWith(createSimulatorGateway({ baseUrl: 'http://127.0.0.1:9', webhookSecret: 'whsec_reference_test' }));
    const stripe = await routesWith(createStripeGateway({ secretKey: 'sk_test_reference', webhookSecret: 'whsec_reference_test', timeoutMs: 1000 }));
    const all = new Set([...simulator.routes, ...stripe.routes]);
    // The tree parser must see at least what OpenAPI sees, or it is the parser that is broken.
    const unseen = [...simulator.openApi, ...stripe.openApi].filter((route) => !all.has(route));
    assert.deepEqual(unseen, [], `routes in the OpenAPI document that the printRoutes parser missed:${listed(unseen)}`);
    // HEAD twins of GET routes are Fastify's (exposeHeadRoutes), not routes of their own.
    registered = new Set([...all].filter((route) => !(route.startsWith('HEAD ') && all.has(`GET ${route.slice(5)}`))));
  });

  it('documents every registered route as a "### METHOD /path" heading', () => {
    const headings = [...reference.matchAll(/^### ([A-Z]+) (\/\S*)\s*$/gm)].map((m) => `${m[1]} ${m[2]}`);
    const documented = new Set(headings);
    const duplicated = sorted(new Set(headings.filter((h, i) => headings.indexOf(h) !== i)));
    const undocumented = sorted([...registered].filter((route) => !DOCUMENTATION_ONLY.has(route) && !documented.has(route)));
    const problems = [
      ...undocumented.map((route) => `${route}: registered by the app, no "### ${route}" section`),
      ...duplicated.map((route) => `${route}: more than one "### ${route}" section`),
    ];
    assert.deepEqual(problems, [], `routes: ${REFERENCE_PATH} does not document what the app serves:${listed(problems)}`);
  });

  it('documents no route the app does not register', () => {
    const headings = [...reference.matchAll(/^### ([A-Z]+) (\/\S*)\s*$/gm)].map((m) => `${m[1]} ${m[2]}`);
    const stale = sorted(new Set(headings.filter((route) => !registered.has(route))));
    // Also `METHOD /path` written anywhere in the text (tables, prose), query strings aside.
    const methods = HTTP_METHODS.join('|');
    const mentions = [...reference.matchAll(new RegExp(`\`(${methods}) (/[^\`\\s?]*)[^\`]*\``, 'g'))].map((m) => `${m[1]} ${m[2]}`);
    const unknown = sorted(new Set(mentions.filter((route) => !registered.has(route) && !stale.includes(route))));
    const problems = [
      ...stale.map((route) => `${route}: has a "### ${route}" section, the app registers no such route`),
      ...unknown.map((route) => `${route}: written as \`${route}\`, the app registers no such route`),
    ];
    assert.deepEqual(problems, [], `routes: ${REFERENCE_PATH} documents what the app does not serve:${listed(problems)}`);
  });

  it('lists no stale exemption', () => {
    const stale = sorted([...DOCUMENTATION_ONLY].filter((route) => !registered.has(route)));
    assert.deepEqual(stale, [], `DOCUMENTATION_ONLY in test/api-reference.test.ts names routes the app no longer registers:${listed(stale)}`);
  });

  it('has one row per error code under "## Errors", with its HTTP status and type', () => {
    const classes = contractErrorClasses();
    assert.ok(classes.length > 0, 'no ContractError classes found in src/domain/errors.ts');
    const rows = new Map(
      [...section('Errors').matchAll(/^\|\s*`([a-z0-9_]+)`\s*\|([^|]*)\|([^|]*)\|/gm)].map((m) => [m[1] ?? '', { statuses: Array.from((m[2] ?? '').matchAll(/\d{3}/g), (d) => d[0]), type: (m[3] ?? '').replace(/`/g, '').trim() }]),
    );
    const problems: string[] = [];
    const codes = new Set<string>();
    for (const [name, ErrorClass] of classes) {
      const error = new ErrorClass('reference probe');
      codes.add(error.code);
      const row = rows.get(error.code);
      if (!row) problems.push(`${error.code} (${name}, ${error.httpStatus} ${error.type}): no row under "## Errors"`);
      else {
        if (!row.statuses.includes(String(error.httpStatus))) problems.push(`${error.code} (${name}): its row does not name HTTP ${error.httpStatus}`);
        if (row.type !== error.type) problems.push(`${error.code} (${name}): its row says type "${row.type}", the code says "${error.type}"`);
      }
    }
    for (const code of rows.keys()) if (!codes.has(code)) problems.push(`${code}: documented under "## Errors" but no ContractError in src/domain/errors.ts has it`);
    assert.deepEqual(problems, [], `error codes: ${REFERENCE_PATH} and src/domain/errors.ts disagree:${listed(problems)}`);
  });

  it('answers no error code outside src/domain/errors.ts', () => {
    const codes = new Set(contractErrorClasses().map(([, ErrorClass]) => new ErrorClass('reference probe').code));
    const strays = sourceFiles('src/api', '.ts').flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/\bcode: '([a-z0-9_]+)'/g)].filter((m) => !codes.has(m[1] ?? '')).map((m) => `${file}: '${m[1]}'`),
    );
    assert.deepEqual(strays, [], `error codes answered in src/api that are no ContractError code (add a class and a row under "## Errors"):${listed(strays)}`);
  });

  it('has one row per event type under "## Events"', () => {
    const rows = [...section('Events').matchAll(/^\|\s*`([a-z_]+\.[a-z_.]+)`\s*\|/gm)].map((m) => m[1] ?? '');
    const known = new Set<string>(EVENT_TYPES);
    const duplicated = sorted(new Set(rows.filter((type, i) => rows.indexOf(type) !== i)));
    const problems = [
      ...EVENT_TYPES.filter((type) => !rows.includes(type)).map((type) => `${type}: in EVENT_TYPES (src/domain/events.ts), no row under "## Events"`),
      ...sorted(new Set(rows.filter((type) => !known.has(type)))).map((type) => `${type}: a row under "## Events", not in EVENT_TYPES`),
      ...duplicated.map((type) => `${type}: more than one row under "## Events"`),
    ];
    assert.deepEqual(problems, [], `event types: ${REFERENCE_PATH} and EVENT_TYPES disagree:${listed(problems)}`);
  });

  it('writes no event type that EVENT_TYPES lacks', () => {
    const known = new Set<string>(EVENT_TYPES);
    // TypeScript writers: `type: 'x.y'` in event objects. The PSP adapters and the simulator speak
    // their PSP's event types, not FinCore's.
    const tsLiterals = sourceFiles('src', '.ts')
      .filter((file) => !file.startsWith(join('src', 'psp')))
      .flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/\btype: '([a-z_]+\.[a-z_]+)'/g)].map((m) => ({ file, type: m[1] ?? '' })));
    // SQL writers: literals inside INSERT INTO events statements (migrations and SQL functions).
    const sqlLiterals = sourceFiles('src', '.sql').flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/INSERT INTO events\s*\([^;]*;/gi)].flatMap((statement) =>
        [...(statement[0] ?? '').matchAll(/'([a-z_]+\.[a-z_]+)'/g)].map((m) => ({ file, type: m[1] ?? '' })),
      ),
    );
    assert.ok(tsLiterals.length > 0 && sqlLiterals.length > 0, 'found no event writers to check: did the code move?');
    const strays = [...tsLiterals, ...sqlLiterals].filter(({ type }) => !known.has(type)).map(({ file, type }) => `${file}: '${type}'`);
    assert.deepEqual(strays, [], `event types written by the code but missing from EVENT_TYPES (src/domain/events.ts):${listed(strays)}`);
  });
});

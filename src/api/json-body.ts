/**
 * The API's one `application/json` body parser. Besides what Fastify's own parser does
 * (secure-json-parse: JSON.parse, then refusing `__proto__` and `constructor.prototype`), it
 * refuses what JSON.parse quietly accepts:
 * - nesting deeper than MAX_JSON_DEPTH: every later walk over the body (the idempotency hash,
 *   the hostile-string check, Ajv) may recurse, and a few thousand levels overflow the stack;
 * - a key twice in one object: JSON.parse keeps the last one, so `"amount":5000,"amount":1`
 *   would charge 1 while a log or a proxy that reads the first one saw 5000.
 *
 * Why a hand-written scan: no maintained JSON parser on npm reports duplicate keys while
 * keeping V8's JSON.parse speed and secure-json-parse's checks (the ones that do are
 * unmaintained, or full AST parsers many times slower), and the scan needed is small: strings,
 * brackets, colons and commas. It runs on the raw text before parsing, iteratively (it cannot
 * overflow the stack itself), and never decides whether the text is valid JSON: it only looks
 * for the three problems; anything else is left to secure-json-parse, whose error becomes 400
 * `invalid_json` (also when the scan found a problem in text that is not JSON anyway).
 */
import type { FastifyInstance } from 'fastify';
import { InvalidJson, ParameterInvalid, type ContractError } from '../domain/errors.ts';

/** Objects and arrays nested inside each other; the API's deepest real body (metadata) is 2. */
export const MAX_JSON_DEPTH = 32;

export type JsonPath = ReadonlyArray<string | number>;

export type JsonTextProblem =
  | { kind: 'too_deep'; maxDepth: number }
  | { kind: 'duplicate_key'; key: string; path: JsonPath }
  | { kind: 'forbidden_key'; key: '__proto__' | 'constructor.prototype'; path: JsonPath };

interface Frame {
  /** Keys seen so far (objects), or null (arrays). */
  keys: Set<string> | null;
  /** Objects: the next string is a key. */
  expectingKey: boolean;
  /** Objects: the key whose value is being read; arrays: the element index. */
  at: string | number | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function decodeKey(text: string, start: number, end: number, escaped: boolean): string | undefined {
  if (!escaped) return text.slice(start + 1, end);
  try {
    const key: unknown = JSON.parse(text.slice(start, end + 1));
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined; // a bad escape: not JSON, secure-json-parse says so
  }
}

/** The first depth, duplicate-key or prototype-poisoning problem of a JSON text, if any. */
export function inspectJsonText(text: string, maxDepth: number = MAX_JSON_DEPTH): JsonTextProblem | undefined {
  const stack: Frame[] = [];
  const pathOf = (): JsonPath => stack.map((frame) => frame.at ?? '');
  const length = text.length;
  let i = 0;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = i + 1;
      let escaped = false;
      while (j < length) {
        const d = text.charCodeAt(j);
        if (d === BACKSLASH) {
          escaped = true;
          j += 2;
          continue;
        }
        if (d === QUOTE) break;
        j++;
      }
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectingKey) {
        const key = decodeKey(text, i, j, escaped);
        if (key === undefined) return undefined;
        const path = pathOf().slice(0, -1);
        if (top.keys.has(key)) return { kind: 'duplicate_key', key, path };
        if (key === '__proto__') return { kind: 'forbidden_key', key: '__proto__', path };
        const parent = stack[stack.length - 2];
        if (key === 'prototype' && parent?.keys && parent.at === 'constructor') return { kind: 'forbidden_key', key: 'constructor.prototype', path: path.slice(0, -1) };
        top.keys.add(key);
        top.at = key;
        top.expectingKey = false;
      }
      i = j + 1;
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? { keys: new Set(), expectingKey: true, at: undefined } : { keys: null, expectingKey: false, at: 0 });
      if (stack.length > maxDepth) return { kind: 'too_deep', maxDepth };
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectingKey = true;
      else if (top) top.at = (typeof top.at === 'number' ? top.at : 0) + 1;
    }
    i++;
  }
  return undefined;
}

/** A key or path as safe, short text for a message or `param` (no control characters, no lone surrogates). */
export function printable(text: string, max = 60): string {
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped.length > max ? `${escaped.slice(0, max)}...` : escaped;
}

/** `param` names the top-level field a problem is in, as validation errors do. */
function paramOf(path: JsonPath, key?: string): string | undefined {
  const first = path.length > 0 ? path[0] : key;
  return typeof first === 'string' ? printable(first) : undefined;
}

function where(path: JsonPath): string {
  return path.length === 0 ? '' : ` (in ${path.map((p) => (typeof p === 'number' ? `[${p}]` : printable(p))).join('.').replaceAll('.[', '[')})`;
}

export function jsonProblemError(problem: JsonTextProblem): ContractError {
  switch (problem.kind) {
    case 'too_deep':
      return new InvalidJson(`The request body nests objects and arrays more than ${problem.maxDepth} levels deep.`);
    case 'duplicate_key':
      return new ParameterInvalid(
        `The JSON body has the key '${printable(problem.key)}' twice in one object${where(problem.path)}: each key may appear only once.`,
        paramOf(problem.path, problem.key),
      );
    case 'forbidden_key':
      return new ParameterInvalid(
        `The key '${problem.key}' is not allowed in a request body${where(problem.path)}: it could change the prototype of the parsed objects.`,
        paramOf(problem.path, problem.key === '__proto__' ? '__proto__' : 'constructor'),
      );
  }
}

/** V8's JSON.parse is iterative: safe on any depth. Only asked when the scan found a problem. */
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Replaces Fastify's JSON parser (and drops its text/plain one: a JSON body sent as text/plain
 * is answered 415 `unsupported_media_type`, naming the Content-Type to use).
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const secureJsonParse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    const problem = inspectJsonText(text);
    // Text that is not JSON at all is reported as such, whatever the scan saw before the error.
    if (problem && isJson(text)) {
      done(jsonProblemError(problem), undefined);
      return;
    }
    secureJsonParse(request, text, done);
  });
}

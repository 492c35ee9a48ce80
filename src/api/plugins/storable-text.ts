/**
 * One check for every string a request carries (body keys and values at any depth, path
 * params, query keys and values), before any route sees it: PostgreSQL can store neither a NUL
 * (`\u0000`) in text or jsonb nor a lone UTF-16 surrogate in jsonb, so such a string used to
 * reach the database and come back as a 500. Here it is a 400 `parameter_invalid` naming the
 * parameter.
 */
import type { FastifyInstance } from 'fastify';
import { ParameterInvalid } from '../../domain/errors.ts';
import { printable, type JsonPath } from '../json-body.ts';

/** A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * Where the first unstorable string is in a parsed value (a key counts as being where its
 * value is), or undefined. Iterative: the value's depth is bounded by the JSON parser, but this
 * must not depend on it.
 */
export function findUnstorableText(value: unknown): JsonPath | undefined {
  const pending: Array<{ value: unknown; path: JsonPath }> = [{ value, path: [] }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value: current, path } = next;
    if (typeof current === 'string') {
      if (!isStorableText(current)) return path;
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) pending.push({ value: current[i], path: [...path, i] });
    } else if (current !== null && typeof current === 'object' && !Buffer.isBuffer(current)) {
      const entries = Object.entries(current);
      for (const [key] of entries) if (!isStorableText(key)) return [...path, key];
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i] as [string, unknown];
        pending.push({ value: child, path: [...path, key] });
      }
    }
  }
  return undefined;
}

const PARTS = [
  ['params', 'path parameter'],
  ['query', 'query parameter'],
  ['body', 'body parameter'],
] as const;

export function registerStorableText(app: FastifyInstance): void {
  // preValidation: after the body is parsed, before the idempotency lookup and the schema.
  app.addHook('preValidation', async (request) => {
    for (const [part, what] of PARTS) {
      const path = findUnstorableText(request[part]);
      if (path === undefined) continue;
      const first = path[0];
      const param = typeof first === 'string' ? printable(first) : undefined;
      throw new ParameterInvalid(
        `Invalid ${param ?? `request ${part}`}: a ${what} contains a NUL character (U+0000) or an unpaired UTF-16 surrogate (U+D800 to U+DFFF), which cannot be stored. Send valid Unicode text.`,
        param,
      );
    }
  });
}

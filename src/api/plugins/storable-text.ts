/**
 * One check for every string a request carries (body keys and values at any depth, path
 * params, query keys and values), before any route sees it: PostgreSQL can store neither a NUL
 * (`\u0000`) in text or jsonb nor a lone UTF-16 surrogate in jsonb, so such a string used to
 * reach the database and come back as a 500. Here it is a 400 `parameter_invalid` naming the
 * parameter.
 */
import type { FastifyInstance } from 'fastify';
import { ParameterInvalid } from '../../domain/errors.ts';
import { findUnstorableText } from '../../domain/text.ts';
import { printable } from '../json-body.ts';

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

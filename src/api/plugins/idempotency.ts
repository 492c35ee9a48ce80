/**
 * Idempotency-Key handling around POST routes (API.md "Idempotency").
 * - preValidation: a stored response for this key is replayed (same request) or refused
 *   (different request) before the body is even validated.
 * - The money-moving flow itself locks the key and stores the response in its transaction.
 * - A request refused with a 4xx is remembered too; a 5xx is not (the client may retry).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ParameterInvalid } from '../../domain/errors.ts';
import { findIdempotencyRecord } from '../../db/idempotency.ts';
import { replayOrReject, storeIdempotentResponse, type ApiResponse, type IdempotentRequest } from '../../flows/idempotency.ts';
import type pg from 'pg';

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: IdempotentRequest | undefined;
  }
  interface FastifyContextConfig {
    /** The route's flow reads the stored record in its own first query: no separate lookup here. */
    idempotencyLookupInFlow?: boolean;
  }
}

const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/** Same JSON, same hash, whatever the key order or whitespace. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

export function sendApiResponse(reply: FastifyReply, response: ApiResponse, replayed = false): FastifyReply {
  if (replayed) reply.header('Idempotent-Replayed', 'true');
  return reply.code(response.status).send(response.body);
}

export function registerIdempotency(app: FastifyInstance, pool: pg.Pool): void {
  app.decorateRequest('idempotency', undefined);
  app.addHook('preValidation', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method !== 'POST' || request.routeOptions.config.auth === 'none') return;
    const header = request.headers['idempotency-key'];
    if (header === undefined) return;
    const key = Array.isArray(header) ? header[0] : header;
    if (key === undefined || !KEY_PATTERN.test(key)) {
      throw new ParameterInvalid('Idempotency-Key must be 1 to 255 printable ASCII characters.', 'Idempotency-Key');
    }
    const idempotency: IdempotentRequest = {
      scope: request.scope,
      key,
      method: request.method,
      path: request.routeOptions.url ?? request.url,
      requestHash: createHash('sha256').update(canonicalJson(request.body ?? null)).digest('hex'),
    };
    request.idempotency = idempotency;
    if (request.routeOptions.config.idempotencyLookupInFlow) return;
    const stored = await findIdempotencyRecord(pool, idempotency.scope, key);
    if (stored) return sendApiResponse(reply, replayOrReject(stored, idempotency), true);
  });
}

/**
 * Called by the error handler for a 4xx answer to a request that carried a key: the refusal is
 * remembered. If the key already held an answer (routes whose flow looks the key up itself
 * refuse invalid bodies before any lookup), that answer wins: it is replayed, or the request is
 * refused as a reuse of the key (replayOrReject throws IdempotencyKeyReused).
 */
export async function rememberRefusal(pool: pg.Pool, request: FastifyRequest, response: ApiResponse): Promise<{ response: ApiResponse; replayed: boolean }> {
  const idempotency = request.idempotency;
  if (!idempotency || (await storeIdempotentResponse(pool, idempotency, response))) return { response, replayed: false };
  const stored = await findIdempotencyRecord(pool, idempotency.scope, idempotency.key);
  return stored ? { response: replayOrReject(stored, idempotency), replayed: true } : { response, replayed: false };
}

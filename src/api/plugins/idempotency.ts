/**
 * Idempotency-Key handling around POST routes (API.md "Idempotency").
 * - preValidation: the key is read (one header, 1..255 printable ASCII) and the request's identity
 *   computed once: method + full path (parameters and query string included) + canonical body.
 *   A live stored answer for this key is replayed (same request) or refused (different request)
 *   before the body is even validated.
 * - The endpoint's flow claims the key and stores its answer in its transaction.
 * - A 4xx refusal is stored only if the endpoint had started executing (flows/idempotency.ts):
 *   validation failures and refusals decided before any work are not, so a corrected retry with
 *   the same key works. A 5xx is never stored (the client may retry).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ParameterInvalid } from '../../domain/errors.ts';
import { IDEMPOTENCY_KEY_PATTERN } from '../../domain/idempotency.ts';
import { answerRefusal, liveAnswer, type ApiResponse, type IdempotentRequest } from '../../flows/idempotency.ts';
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

/** Same JSON, same hash, whatever the key order or whitespace. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

/**
 * How many Idempotency-Key header lines the request carried. Node joins repeated lines into one
 * value ("a, b"), itself a valid key: only the raw header list tells two headers from one.
 */
function idempotencyKeyHeaderCount(request: FastifyRequest): number {
  const raw = request.raw.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === 'idempotency-key') count++;
  return count;
}

export function sendApiResponse(reply: FastifyReply, response: ApiResponse, replayed = false): FastifyReply {
  if (replayed) reply.header('Idempotent-Replayed', 'true');
  return reply.code(response.status).send(response.body);
}

export function registerIdempotency(app: FastifyInstance, pool: pg.Pool, options: { ttlHours: number }): void {
  app.decorateRequest('idempotency', undefined);
  app.addHook('preValidation', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method !== 'POST' || request.routeOptions.config.auth === 'none') return;
    const header = request.headers['idempotency-key'];
    if (header === undefined) return;
    if (Array.isArray(header) || idempotencyKeyHeaderCount(request) > 1) {
      throw new ParameterInvalid('Send one Idempotency-Key header, not several.', 'Idempotency-Key');
    }
    if (!IDEMPOTENCY_KEY_PATTERN.test(header)) {
      throw new ParameterInvalid('Idempotency-Key must be 1 to 255 printable ASCII characters.', 'Idempotency-Key');
    }
    const idempotency: IdempotentRequest = {
      scope: request.scope,
      key: header,
      method: request.method,
      // The full path as requested, never the route template: the same key on
      // /deliveries/d1/resend and /deliveries/d2/resend are two different requests.
      path: request.url,
      requestHash: createHash('sha256').update(canonicalJson(request.body ?? null)).digest('hex'),
      ttlHours: options.ttlHours,
      started: false,
    };
    request.idempotency = idempotency;
    if (request.routeOptions.config.idempotencyLookupInFlow) return;
    const stored = await liveAnswer(pool, idempotency);
    if (stored) return sendApiResponse(reply, stored, true);
  });
}

/**
 * Called by the error handler for a 4xx answer: what to answer instead, if the key says so
 * (flows/idempotency.ts answerRefusal: stored only once the endpoint started; a live answer under
 * the key wins; IdempotencyKeyReused or IdempotencyKeyInUse may be thrown).
 */
export async function rememberRefusal(pool: pg.Pool, request: FastifyRequest, response: ApiResponse): Promise<{ response: ApiResponse; replayed: boolean }> {
  return answerRefusal(pool, request.idempotency, response);
}

/**
 * Per-merchant request rate limit (token bucket, in process memory). A burst of one second's
 * allowance is accepted; beyond it the API answers 429 rate_limited with Retry-After.
 * Limits are per API process: with N API tasks the fleet-wide allowance is N times this.
 */
import type { FastifyInstance } from 'fastify';
import { RateLimited } from '../../domain/errors.ts';

interface Bucket {
  tokens: number;
  refilledAt: number;
}

export function registerRateLimit(app: FastifyInstance, requestsPerSecond: number): void {
  if (requestsPerSecond <= 0) return;
  const buckets = new Map<string, Bucket>();
  app.addHook('onRequest', async (request, reply) => {
    const scope = request.scope;
    if (!scope) return; // unauthenticated routes (health, webhooks, docs)
    const now = Date.now();
    const bucket = buckets.get(scope) ?? { tokens: requestsPerSecond, refilledAt: now };
    bucket.tokens = Math.min(requestsPerSecond, bucket.tokens + ((now - bucket.refilledAt) / 1000) * requestsPerSecond);
    bucket.refilledAt = now;
    buckets.set(scope, bucket);
    if (bucket.tokens < 1) {
      reply.header('Retry-After', String(Math.max(1, Math.ceil((1 - bucket.tokens) / requestsPerSecond))));
      throw new RateLimited('Too many requests. Slow down and retry after the time in the Retry-After header.');
    }
    bucket.tokens -= 1;
  });
}

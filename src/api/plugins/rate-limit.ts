/**
 * Request rate limits, with @fastify/rate-limit (fixed one-second windows in process memory).
 * Every limit is per API process: with N API tasks the fleet-wide allowance is N times it.
 *
 * Who is counted where:
 * - a merchant's requests, by merchant id, once its key is known (after auth);
 * - the operator's (admin key) requests, all together, under their own limit;
 * - the PSP webhook intake (`/v1/webhooks/*`), by client address, under its own limit;
 * - every other request without a key (health, docs, dashboard assets), by client address;
 * - failed authentication (no key, a wrong key, a wrong admin key), by client address, over a
 *   longer window: once an address has failed `authFailures` times in it, its next requests are
 *   refused with 429 before their key is even looked at, so keys cannot be brute-forced.
 *
 * The client address is the TCP peer, or with FINCORE_TRUST_PROXY the address the trusted
 * proxy (the ALB) put in X-Forwarded-For (Fastify's `trustProxy`).
 */
import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RateLimited } from '../../domain/errors.ts';

export interface RateLimits {
  /** Requests per second per merchant; 0: off. */
  merchantPerSecond: number;
  /** Admin-key requests per second, all operators together; 0: off. */
  adminPerSecond: number;
  /** PSP webhook deliveries per second per client address; 0: off. */
  webhookPerSecond: number;
  /** Requests per second per client address on routes that need no key; 0: off. */
  addressPerSecond: number;
  /** Failed authentications per client address per `authFailureWindowMs`; 0: off. */
  authFailures: number;
  authFailureWindowMs: number;
}

/** Everything off (tests of other things, the bench's throughput runs). */
export const NO_RATE_LIMITS: RateLimits = { merchantPerSecond: 0, adminPerSecond: 0, webhookPerSecond: 0, addressPerSecond: 0, authFailures: 0, authFailureWindowMs: 60_000 };

export interface FailedAuthGate {
  /** Throws 429 when the request's address has used up its failed attempts (nothing is counted). */
  check(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Counts one failed attempt of the request's address. */
  count(request: FastifyRequest): Promise<void>;
}

const WINDOW_MS = 1000;

function clientAddress(request: FastifyRequest): string {
  // IPv6 clients get a /64 each (one host usually owns the whole prefix).
  return normalizeIP(request.ip);
}

function isPspWebhook(request: FastifyRequest): boolean {
  return request.routeOptions.url?.startsWith('/v1/webhooks/') ?? false;
}

function refusal(seconds: number): RateLimited {
  return new RateLimited(`Too many requests. Slow down and retry after ${seconds} s (the Retry-After header).`);
}

/**
 * Registers the limits on every route defined after it (call before the routes). Returns the
 * failed-authentication gate the auth hook uses.
 */
export async function registerRateLimit(app: FastifyInstance, limits: RateLimits): Promise<FailedAuthGate> {
  const classOf = (request: FastifyRequest): { key: string; max: number } => {
    if (request.scope === 'admin') return { key: 'admin', max: limits.adminPerSecond };
    if (request.scope) return { key: `merchant:${request.scope}`, max: limits.merchantPerSecond };
    if (isPspWebhook(request)) return { key: `webhook:${clientAddress(request)}`, max: limits.webhookPerSecond };
    return { key: `address:${clientAddress(request)}`, max: limits.addressPerSecond };
  };
  await app.register(fastifyRateLimit, {
    global: true,
    // Route-level onRequest hooks run after the app's: auth has set request.scope by then, so a
    // merchant is counted as itself, never as the address it shares with others.
    hook: 'onRequest',
    timeWindow: WINDOW_MS,
    // Merchants, addresses and admin share one LRU (least recently used goes first): room for
    // 50,000 keys, so only a flood from that many addresses within a window could evict an
    // active merchant's count (which would then restart at zero, never refuse wrongly).
    cache: 50_000,
    keyGenerator: (request) => classOf(request).key,
    max: (request) => classOf(request).max,
    allowList: (request) => classOf(request).max === 0,
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    addHeaders: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true, 'retry-after': true },
    // The plugin sets Retry-After; the error goes through the one error mapper (contract shape).
    errorResponseBuilder: (_request, context) => refusal(Math.ceil(context.ttl / 1000)),
  });

  const failedAuth = app.createRateLimit({
    timeWindow: limits.authFailureWindowMs,
    max: limits.authFailures,
    keyGenerator: (request) => `auth_failed:${clientAddress(request)}`,
  });
  return {
    async check(request, reply) {
      if (limits.authFailures === 0) return;
      const state = await failedAuth(request, { increment: false });
      if (state.isAllowed || state.remaining > 0) return;
      const seconds = Math.max(1, state.ttlInSeconds);
      reply.header('Retry-After', String(seconds));
      throw refusal(seconds);
    },
    async count(request) {
      if (limits.authFailures === 0) return;
      await failedAuth(request);
    },
  };
}

/**
 * Bearer authentication. Merchant keys are looked up by their sha256 hash; the admin key is
 * compared in constant time. Routes declare `config.auth`: 'merchant' (default), 'admin', 'none'.
 * Failed attempts are counted per client address; an address over its allowance is refused with
 * 429 before its key is looked at (rate-limit.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Unauthorized } from '../../domain/errors.ts';
import { hashApiKey, merchantOfKey } from '../../flows/merchants.ts';
import type pg from 'pg';
import type { FailedAuthGate } from './rate-limit.ts';

export type AuthMode = 'merchant' | 'admin' | 'none';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
  }
  interface FastifyRequest {
    /** The authenticated merchant's id; 'admin' on admin routes. */
    scope: string;
  }
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** How long a key may keep working in a process after it was revoked elsewhere (the cache TTL). */
export const DEFAULT_KEY_CACHE_MS = 5000;

/**
 * Merchant id by API key, remembered briefly so a busy merchant's requests do not each pay a
 * database round trip. Revocation latency is bounded by it: the process that rolls or revokes
 * a key forgets the merchant's entries at once (`forgetMerchant`); every other process stops
 * taking a revoked key at most `ttlMs` later. An entry never outlives its key's own expiry (the
 * end of a roll's overlap). Unknown keys are not remembered (a new merchant works at once).
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, { merchantId: string; expiresAt: number }>();

  constructor(
    readonly ttlMs = DEFAULT_KEY_CACHE_MS,
    private readonly maxEntries = 10_000,
  ) {}

  get(keyHash: string, now: number): string | undefined {
    const entry = this.entries.get(keyHash);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(keyHash);
      return undefined;
    }
    return entry.merchantId;
  }

  /** `keyExpiresAt`: when the key itself stops being valid (ms), if it is set to. */
  set(keyHash: string, merchantId: string, now: number, keyExpiresAt: number | null = null): void {
    // Map keeps insertion order: the first key is the oldest entry.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value ?? '');
    this.entries.set(keyHash, { merchantId, expiresAt: Math.min(now + this.ttlMs, keyExpiresAt ?? Number.POSITIVE_INFINITY) });
  }

  /** After a roll or revoke in this process: its next request reads the keys again. */
  forgetMerchant(merchantId: string): void {
    for (const [keyHash, entry] of this.entries) if (entry.merchantId === merchantId) this.entries.delete(keyHash);
  }
}

export function registerAuth(app: FastifyInstance, pool: pg.Pool, adminKey: string, keyCache: ApiKeyCache, failedAuth: FailedAuthGate): void {
  const adminKeyHash = sha256(adminKey);
  app.decorateRequest('scope', '');
  const refuse = async (request: FastifyRequest, message: string): Promise<never> => {
    await failedAuth.count(request);
    throw new Unauthorized(message);
  };
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const mode = request.routeOptions.config.auth ?? 'merchant';
    const url = request.routeOptions.url;
    if (mode === 'none' || url === undefined || url.startsWith('/docs')) return;
    await failedAuth.check(request, reply);
    const token = bearerToken(request);
    if (!token) return refuse(request, 'No valid API key provided. Use the header Authorization: Bearer <api_key>.');
    if (mode === 'admin') {
      if (!timingSafeEqual(sha256(token), adminKeyHash)) return refuse(request, 'Invalid admin key provided.');
      request.scope = 'admin';
      return;
    }
    const keyHash = hashApiKey(token);
    const now = Date.now();
    const cached = keyCache.get(keyHash, now);
    if (cached) {
      request.scope = cached;
      return;
    }
    const key = await merchantOfKey(pool, keyHash);
    if (!key) return refuse(request, 'Invalid API key provided.');
    keyCache.set(keyHash, key.merchantId, now, key.expiresAt?.getTime() ?? null);
    request.scope = key.merchantId;
  });
}

/**
 * Bearer authentication. Merchant keys are looked up by their sha256 hash; the admin key is
 * compared in constant time. Routes declare `config.auth`: 'merchant' (default), 'admin', 'none'.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Unauthorized } from '../../domain/errors.ts';
import { hashApiKey } from '../../flows/merchants.ts';
import { merchantByKeyHash } from '../../flows/queries.ts';
import type pg from 'pg';

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

/**
 * Merchant id by API key, remembered briefly so a busy merchant's requests do not each pay a
 * database round trip. Keys are never revoked or rotated today; the TTL bounds how long a change
 * would take to show once they are. Unknown keys are not remembered (a new merchant works at once).
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, { merchantId: string; expiresAt: number }>();

  constructor(
    private readonly ttlMs = 30_000,
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

  set(keyHash: string, merchantId: string, now: number): void {
    // Map keeps insertion order: the first key is the oldest entry.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value ?? '');
    this.entries.set(keyHash, { merchantId, expiresAt: now + this.ttlMs });
  }
}

export function registerAuth(app: FastifyInstance, pool: pg.Pool, adminKey: string, keyCache = new ApiKeyCache()): void {
  const adminKeyHash = sha256(adminKey);
  app.decorateRequest('scope', '');
  app.addHook('onRequest', async (request) => {
    const mode = request.routeOptions.config.auth ?? 'merchant';
    const url = request.routeOptions.url;
    if (mode === 'none' || url === undefined || url.startsWith('/docs')) return;
    const token = bearerToken(request);
    if (!token) throw new Unauthorized('No valid API key provided. Use the header Authorization: Bearer <api_key>.');
    if (mode === 'admin') {
      if (!timingSafeEqual(sha256(token), adminKeyHash)) throw new Unauthorized('Invalid admin key provided.');
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
    const merchant = await merchantByKeyHash(pool, keyHash);
    if (!merchant) throw new Unauthorized('Invalid API key provided.');
    keyCache.set(keyHash, merchant.id, now);
    request.scope = merchant.id;
  });
}

/**
 * Bearer authentication. Merchant keys are looked up by their sha256 hash; the admin key is
 * compared in constant time. Routes declare `config.auth`: 'merchant' (default), 'admin', 'none'.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Unauthorized } from '../../domain/errors.ts';
import { merchantForApiKey } from '../../flows/queries.ts';
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

export function registerAuth(app: FastifyInstance, pool: pg.Pool, adminKey: string): void {
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
    const merchant = await merchantForApiKey(pool, token);
    if (!merchant) throw new Unauthorized('Invalid API key provided.');
    request.scope = merchant.id;
  });
}

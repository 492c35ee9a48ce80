/**
 * The typed FinCore client: openapi-fetch over the types `npm run openapi` generates from the
 * OpenAPI document (openapi/types.ts, not committed). The dashboard, scripts/demo.ts and the
 * tests' helpers call FinCore through it, so a route or schema change that breaks a caller is a
 * type error (`npm run typecheck`), not a surprise at run time.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './types.ts';

export type { components, paths };
export type Schemas = components['schemas'];
export type FinCoreClient = Client<paths>;

/**
 * A client for the FinCore at `baseUrl`, sending `key` (a merchant's API key or the admin key, or
 * a function reading it at each request) as the Bearer token.
 */
export function createFinCoreClient(baseUrl: string, key: string | (() => string), options: { fetch?: typeof fetch } = {}): FinCoreClient {
  const client = createClient<paths>({ baseUrl, headers: { accept: 'application/json' }, ...(options.fetch ? { fetch: options.fetch } : {}) });
  client.use({
    onRequest({ request }) {
      request.headers.set('authorization', `Bearer ${typeof key === 'function' ? key() : key}`);
      return request;
    },
  });
  return client;
}

/** The native API's routes: create (idempotent by key) and look up charges and refunds. */
import type { IncomingMessage } from 'node:http';
import { readBody } from '../body.ts';
import { createCharge, type ChargeDeps } from './charges.ts';
import { HttpError, parseJsonObject, requireIdempotencyKey, tooLarge, type JsonObject, type StoredResponse } from './http.ts';
import { createRefund } from './refunds.ts';
import { countCreateRequest, type NativeStore } from './store.ts';

export type NativeDeps = ChargeDeps;

async function handlePost(
  store: NativeStore,
  req: IncomingMessage,
  route: string,
  create: (body: JsonObject) => StoredResponse,
): Promise<StoredResponse> {
  const key = requireIdempotencyKey(req);
  const raw = await readBody(req, tooLarge);
  countCreateRequest(store, route, key);
  const storeKey = `${route} ${key}`;
  const stored = store.idempotent.get(storeKey);
  if (stored !== undefined) return stored;
  const body = parseJsonObject(raw);
  // Only successful results are remembered (like real PSPs, a request that failed
  // validation stores nothing and may be retried with the same key).
  const result = create(body);
  store.idempotent.set(storeKey, result);
  return result;
}

function lookup<T>(url: URL, byReference: Map<string, string>, objects: Map<string, T>): StoredResponse {
  const reference = url.searchParams.get('reference');
  if (reference === null || reference.length === 0) {
    throw new HttpError(400, 'parameter_missing', 'Missing required query parameter: reference.');
  }
  const id = byReference.get(reference);
  const object = id === undefined ? undefined : objects.get(id);
  if (object === undefined) throw new HttpError(404, 'resource_missing', `No object with reference ${reference}.`);
  return { status: 200, body: object };
}

/** The answer for /v1/charges and /v1/refunds; null for any other path. */
export async function nativeRoute(deps: NativeDeps, req: IncomingMessage, url: URL, method: string, path: string): Promise<StoredResponse | null> {
  const { store } = deps;
  if (path === '/v1/charges') {
    if (method === 'POST') return handlePost(store, req, 'charges', (body) => createCharge(deps, body));
    if (method === 'GET') return lookup(url, store.chargesByReference, store.charges);
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
  }
  if (path === '/v1/refunds') {
    if (method === 'POST') return handlePost(store, req, 'refunds', (body) => createRefund(deps, body));
    if (method === 'GET') return lookup(url, store.refundsByReference, store.refunds);
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
  }
  return null;
}

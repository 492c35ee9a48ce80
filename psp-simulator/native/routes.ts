/** The native API's routes: create (idempotent by key) and look up charges and refunds. */
import type { IncomingMessage } from 'node:http';
import { readBody } from '../body.ts';
import { createCharge, type ChargeDeps } from './charges.ts';
import { HttpError, parseJsonObject, requireIdempotencyKey, tooLarge, type JsonObject, type StoredResponse } from './http.ts';
import { createRefund } from './refunds.ts';
import type { NextReport } from '../scenarios.ts';
import { countCreateRequest } from './store.ts';

export type NativeDeps = ChargeDeps;

async function handlePost(
  deps: NativeDeps,
  req: IncomingMessage,
  route: 'charges' | 'refunds',
  create: (body: JsonObject, next: NextReport | null) => StoredResponse,
): Promise<StoredResponse> {
  const { store, scenarios } = deps;
  const key = requireIdempotencyKey(req);
  const raw = await readBody(req, tooLarge);
  countCreateRequest(store, route, key);
  const storeKey = `${route} ${key}`;
  const stored = store.idempotent.get(storeKey);
  if (stored !== undefined) return stored;
  const body = parseJsonObject(raw);
  // What POST /sim/next-charge or /sim/next-refund asked for is used by this create call, if it
  // creates anything (a refused call leaves it for the next one).
  const kind = route === 'charges' ? 'charge' : 'refund';
  const next = scenarios.takeNext(kind);
  let result: StoredResponse;
  try {
    result = create(body, next);
  } catch (error) {
    if (scenarios.peekNext(kind) === null) scenarios.setNext(kind, next);
    throw error;
  }
  // Only successful results are remembered (like real PSPs, a request that failed
  // validation stores nothing and may be retried with the same key).
  store.idempotent.set(storeKey, result);
  // An early webhook: it went out when the object settled, the answer waits for it to arrive.
  if (next?.early_webhook === true) await scenarios.hold();
  return result;
}

/** By the merchant's `reference`, or by the simulator's `id` (objects made at the PSP have no reference). */
function lookup<T>(url: URL, byReference: Map<string, string>, objects: Map<string, T>): StoredResponse {
  const byId = url.searchParams.get('id');
  if (byId !== null && byId.length > 0) {
    const object = objects.get(byId);
    if (object === undefined) throw new HttpError(404, 'resource_missing', `No object with id ${byId}.`);
    return { status: 200, body: object };
  }
  const reference = url.searchParams.get('reference');
  if (reference === null || reference.length === 0) {
    throw new HttpError(400, 'parameter_missing', 'Missing required query parameter: reference (or id).');
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
    if (method === 'POST') return handlePost(deps, req, 'charges', (body, next) => createCharge(deps, body, next));
    if (method === 'GET') return lookup(url, store.chargesByReference, store.charges);
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
  }
  if (path === '/v1/refunds') {
    if (method === 'POST') return handlePost(deps, req, 'refunds', (body, next) => createRefund(deps, body, next));
    if (method === 'GET') return lookup(url, store.refundsByReference, store.refunds);
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
  }
  return null;
}

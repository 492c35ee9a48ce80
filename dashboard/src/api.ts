// The admin API client (typed: openapi/client.ts). The admin key lives only in sessionStorage (gone when the tab closes;
// never localStorage, a cookie or a URL) and travels only in the Authorization header.

import { createFinCoreClient } from '../../openapi/client.ts';

const KEY_SLOT = 'fincore.adminKey';

export function adminKey(): string | null {
  return sessionStorage.getItem(KEY_SLOT);
}

export function rememberAdminKey(key: string): void {
  sessionStorage.setItem(KEY_SLOT, key);
}

export function forgetAdminKey(): void {
  sessionStorage.removeItem(KEY_SLOT);
}

/** An answer in the contract's error shape (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface ErrorShape {
  error: { type?: unknown; code?: unknown; message?: unknown };
}

function isErrorShape(body: unknown): body is ErrorShape {
  return typeof body === 'object' && body !== null && 'error' in body && typeof (body as { error: unknown }).error === 'object';
}

/** Listeners told when the API refuses the key (e.g. the server restarted with another key). */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** Never a cached answer: the pages poll. */
const noStoreFetch: typeof fetch = (input, init) => fetch(input instanceof Request ? new Request(input, { cache: 'no-store' }) : input, { ...init, cache: 'no-store' });

/**
 * The typed admin API client (openapi-fetch over the generated OpenAPI types, openapi/client.ts),
 * sending the signed-in admin key. `withKey`: one with another key (signing in).
 */
export const api = createFinCoreClient(location.origin, () => adminKey() ?? '', { fetch: noStoreFetch });
export const withKey = (key: string) => createFinCoreClient(location.origin, key, { fetch: noStoreFetch });

/**
 * The answer's body, or an ApiError in the contract's shape (status 0: FinCore did not answer).
 * A 401 on the signed-in key tells the listeners (the app signs out).
 */
export async function answer<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>, options: { signedIn?: boolean } = {}): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (error) {
    throw new ApiError(0, 'network_error', 'network_error', `FinCore did not answer (${error instanceof Error ? error.message : String(error)}).`);
  }
  const { response } = result;
  if (!response.ok) {
    const shape = isErrorShape(result.error) ? result.error.error : {};
    const error = new ApiError(
      response.status,
      typeof shape.type === 'string' ? shape.type : 'api_error',
      typeof shape.code === 'string' ? shape.code : 'http_' + response.status,
      typeof shape.message === 'string' ? shape.message : `HTTP ${response.status}`,
    );
    if (response.status === 401 && options.signedIn !== false) for (const listener of unauthorizedListeners) listener();
    throw error;
  }
  return result.data as T;
}

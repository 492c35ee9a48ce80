// The admin API client. The admin key lives only in sessionStorage (gone when the tab closes;
// never localStorage, a cookie or a URL) and travels only in the Authorization header.

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

export async function request<T>(path: string, options: { method?: 'GET' | 'POST'; key?: string; body?: Record<string, unknown> } = {}): Promise<T> {
  const key = options.key ?? adminKey() ?? '';
  let response: Response;
  try {
    // A JSON body only for the actions that take one (resolving a review); the others send none.
    const headers: Record<string, string> = { authorization: `Bearer ${key}`, accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      cache: 'no-store',
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch (error) {
    throw new ApiError(0, 'network_error', 'network_error', `FinCore did not answer (${error instanceof Error ? error.message : String(error)}).`);
  }
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const shape = isErrorShape(body) ? body.error : {};
    const error = new ApiError(
      response.status,
      typeof shape.type === 'string' ? shape.type : 'api_error',
      typeof shape.code === 'string' ? shape.code : 'http_' + response.status,
      typeof shape.message === 'string' ? shape.message : `HTTP ${response.status}`,
    );
    if (response.status === 401 && options.key === undefined) for (const listener of unauthorizedListeners) listener();
    throw error;
  }
  return body as T;
}

/** A query string from the filters that are set (empty values are left out). */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

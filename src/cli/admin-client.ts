/**
 * The CLI's way into a running FinCore: its admin API. Used when the database cannot be opened
 * here (an embedded data dir has one opener, the running FinCore) or when `--url` names it.
 */
export class AdminApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export interface AdminClient {
  url: string;
  request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
}

export function adminClient(url: string, adminKey: string): AdminClient {
  const base = url.replace(/\/+$/, '');
  return {
    url: base,
    async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      let response: Response;
      try {
        response = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(120_000),
        });
      } catch (error) {
        throw new AdminApiError(`FinCore at ${base} did not answer (${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)})`, 0, undefined);
      }
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (!response.ok) {
        const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
        if (response.status === 401) {
          throw new AdminApiError(`FinCore at ${base} refused the admin key (401): set FINCORE_ADMIN_KEY to the key it printed at start`, 401, error?.code);
        }
        throw new AdminApiError(error?.message ?? `FinCore at ${base} answered ${response.status}`, response.status, error?.code);
      }
      return parsed as T;
    },
  };
}

/** Whether a FinCore API answers /healthz at url (quickly: this decides a fallback). */
export async function apiReachable(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url.replace(/\/+$/, '')}/healthz`, { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}

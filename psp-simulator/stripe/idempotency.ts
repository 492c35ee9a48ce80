/**
 * Stripe's Idempotency-Key layer for POST requests, per API key:
 * - the first request with a key locks it while it runs (until its answer is written or its
 *   connection is gone); another request with the key meanwhile gets 409 idempotency_key_in_use;
 * - once the endpoint has run, its answer (status and exact body, errors such as a card decline
 *   included) is kept and replayed for the same endpoint and parameters;
 * - the same key with other parameters, or on another endpoint, is a 400 idempotency_error;
 * - a request stopped before the endpoint ran (invalid parameters) stores nothing: the key can be
 *   retried with corrected parameters.
 */
import { idempotencyError, type StripeApiError } from './errors.ts';

export interface StoredAnswer {
  status: number;
  body: string;
  requestId: string;
}

interface Entry {
  endpoint: string;
  fingerprint: string;
  running: boolean;
  answer: StoredAnswer | null;
}

/** The lock on a key held by the request that runs the endpoint. */
export interface KeyClaim {
  /** Keep this answer for replays (the endpoint ran). */
  store(answer: StoredAnswer): void;
  /** The answer is out (or the connection gone): unlock; forget the key if nothing was stored. */
  release(): void;
}

export type ClaimResult =
  | { outcome: 'run'; claim: KeyClaim }
  | { outcome: 'replay'; answer: StoredAnswer }
  | { outcome: 'refuse'; error: StripeApiError };

export class IdempotencyKeys {
  private readonly entries = new Map<string, Entry>();

  claim(apiKey: string, idempotencyKey: string, endpoint: string, fingerprint: string): ClaimResult {
    const mapKey = `${apiKey}\u0000${idempotencyKey}`;
    const existing = this.entries.get(mapKey);
    if (existing !== undefined) {
      if (existing.running) {
        return {
          outcome: 'refuse',
          error: idempotencyError(
            409,
            `There is currently another in-progress request using this Stripe API key and idempotency key (the key that was used is '${idempotencyKey}'). Please try again later.`,
            'idempotency_key_in_use',
          ),
        };
      }
      if (existing.endpoint !== endpoint) {
        return {
          outcome: 'refuse',
          error: idempotencyError(
            400,
            `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${existing.endpoint}' vs '${endpoint}'). Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
          ),
        };
      }
      if (existing.fingerprint !== fingerprint) {
        return {
          outcome: 'refuse',
          error: idempotencyError(
            400,
            `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
          ),
        };
      }
      if (existing.answer !== null) return { outcome: 'replay', answer: existing.answer };
    }
    const entry: Entry = { endpoint, fingerprint, running: true, answer: null };
    this.entries.set(mapKey, entry);
    let released = false;
    return {
      outcome: 'run',
      claim: {
        store: (answer) => {
          entry.answer = answer;
        },
        release: () => {
          if (released) return;
          released = true;
          entry.running = false;
          if (entry.answer === null && this.entries.get(mapKey) === entry) this.entries.delete(mapKey);
        },
      },
    };
  }
}

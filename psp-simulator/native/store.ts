/** What the native API remembers: charges, refunds, their lookups, idempotent answers, create counts. */
import type { SimCharge, SimDispute, SimRefund } from '../objects.ts';
import type { StoredResponse } from './http.ts';

export interface NativeStore {
  charges: Map<string, SimCharge>;
  refunds: Map<string, SimRefund>;
  /** Disputes opened with POST /sim/charges/{id}/disputes. */
  disputes: Map<string, SimDispute>;
  /** Each charge's refunds: the refundable check reads its charge's only, never every refund (it did: quadratic over a bench run). */
  refundsByCharge: Map<string, SimRefund[]>;
  chargesByReference: Map<string, string>;
  refundsByReference: Map<string, string>;
  /** `${route} ${Idempotency-Key}` -> first successful response. */
  idempotent: Map<string, StoredResponse>;
  /** `${route} ${Idempotency-Key}` -> how many create calls arrived (replays included; Stripe mode's too). */
  createRequests: Map<string, number>;
}

export function createNativeStore(): NativeStore {
  return {
    charges: new Map(),
    refunds: new Map(),
    disputes: new Map(),
    refundsByCharge: new Map(),
    chargesByReference: new Map(),
    refundsByReference: new Map(),
    idempotent: new Map(),
    createRequests: new Map(),
  };
}

export function countCreateRequest(store: NativeStore, route: string, key: string): void {
  const storeKey = `${route} ${key}`;
  store.createRequests.set(storeKey, (store.createRequests.get(storeKey) ?? 0) + 1);
}

/**
 * The last known facts of recently refunded charges (status, amount, currency, reserved amount,
 * dispute facts: one open? how much lost?),
 * kept by this API process. A refund of a charge seen before is decided on them and written in
 * one round trip: create_refund_if_unchanged re-checks them under the charge's row lock and
 * refuses if they moved (another process's refund, a failed refund freeing its amount), so a
 * stale entry costs a retry, never a wrong refund (a dispute opened since is such a move). A refusal is never based on these: it is
 * decided again on facts read from the database.
 */
import type { DisputeFacts } from '../domain/dispute.ts';
import type { ChargeStatus } from '../domain/status.ts';

export interface KnownRefundFacts {
  charge: { status: ChargeStatus; amount: number; currency: string };
  reserved: number;
  disputes: DisputeFacts;
}

export class RefundFactsCache {
  private readonly entries = new Map<string, KnownRefundFacts>();

  constructor(private readonly maxEntries = 10_000) {}

  get(merchantId: string, chargeId: string): KnownRefundFacts | undefined {
    return this.entries.get(`${merchantId}/${chargeId}`);
  }

  set(merchantId: string, chargeId: string, facts: KnownRefundFacts): void {
    const key = `${merchantId}/${chargeId}`;
    // Re-inserting moves the entry to the end: the first key is the least recently written.
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value ?? '');
    this.entries.set(key, facts);
  }

  forget(merchantId: string, chargeId: string): void {
    this.entries.delete(`${merchantId}/${chargeId}`);
  }
}

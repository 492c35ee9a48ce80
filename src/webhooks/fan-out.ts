/**
 * Which merchant webhook deliveries an event creates. Called by the events relay with batches of
 * newly committed events (in per-merchant order), inside the relay's transaction; waking the
 * workers after commit (`ctx.wakeup.jobsCommitted()`) is the caller's business.
 */
import type { EventRow } from '../db/events.ts';
import type { Queryable } from '../db/pool.ts';
import { insertDeliveries, matchEndpoints } from '../db/webhook-endpoints.ts';
import { newId } from '../domain/ids.ts';

/**
 * For each event with a merchant: one delivery and one WEBHOOK job per enabled endpoint of that
 * merchant subscribed to the event's type (or to "*"), written in `tx`. Two statements for the
 * whole batch (match, then write deliveries and jobs together). Idempotent per (endpoint, event):
 * handing the same batch over again writes nothing more. Returns the deliveries written.
 *
 * Ids are made here, not in SQL, so deliveries and jobs keep FinCore's time-sortable ids: the
 * deliveries of a batch sort in the order of its events.
 */
export async function fanOutEvents(tx: Queryable, events: readonly EventRow[], options: { maxAttempts: number }): Promise<number> {
  const addressed = events.filter((event) => event.merchant_id !== null);
  if (addressed.length === 0) return 0;
  const pairs = await matchEndpoints(tx, addressed);
  return insertDeliveries(
    tx,
    pairs.map((pair) => ({ ...pair, delivery_id: newId('whd'), job_id: newId('job') })),
    options.maxAttempts,
  );
}

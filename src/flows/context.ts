import type pg from 'pg';
import type { GroupedReads } from '../db/grouped-reads.ts';
import type { GroupedWrites } from '../db/grouped-writes.ts';
import type { RefundWithChargePspReference } from '../db/refunds.ts';
import type { ChargeRecord } from '../domain/objects.ts';
import type { PspReferenceOf } from '../db/psp-references.ts';
import type { JobWakeup } from '../jobs/wakeup.ts';
import type { PspGateway } from '../psp/gateway.ts';
import type { RefundFactsCache } from './refund-facts-cache.ts';
import type { WebhookDeliverySettings } from '../webhooks/deliver.ts';

/** What flows need from the outside world, built once at start-up. */
export interface FlowContext {
  pool: pg.Pool;
  psp: PspGateway;
  wakeup: JobWakeup;
  jobMaxAttempts: number;
  /** Facts of recently refunded charges, re-checked by the database before any write. */
  refundFacts: RefundFactsCache;
  /**
   * PSP references from pending answers, recorded in groups: one statement (and commit) for all
   * the jobs that got their answer meanwhile, instead of one each.
   */
  pspReferences: { charges: GroupedWrites<PspReferenceOf>; refunds: GroupedWrites<PspReferenceOf> };
  /** What CHARGE and REFUND jobs read first, grouped: a claimed batch's jobs read in one query. */
  jobReads: { charges: GroupedReads<ChargeRecord>; refunds: GroupedReads<RefundWithChargePspReference> };
  /** Outbound merchant webhooks: delivery timeout, retry schedule, which addresses are allowed. */
  webhooks: WebhookDeliverySettings & { jobMaxAttempts: number };
}

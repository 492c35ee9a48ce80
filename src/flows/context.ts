import type { Logger } from 'pino';
import type pg from 'pg';
import type { PspReferenceOf } from '../db/psp-references.ts';
import type { RefundWithChargePspReference } from '../db/refunds.ts';
import type { ChargeRecord } from '../domain/objects.ts';
import type { JobWakeup } from '../db/wakeup.ts';
import type { PspGateway } from '../psp/gateway.ts';
import type { RefundFactsCache } from './refund-facts-cache.ts';
import type { WebhookDeliverySettings } from '../webhooks/deliver.ts';

/** A read by id (one query each, or many callers' ids in one query: the caller cannot tell). */
export interface ReadById<V> {
  read(id: string): Promise<V | undefined>;
}

/** Records a pending answer's PSP reference with its event, in a transaction; settles once committed. */
export interface PspReferenceRecorder {
  record(reference: PspReferenceOf): Promise<void>;
}

/** What flows need from the outside world, built once at start-up. */
export interface FlowContext {
  pool: pg.Pool;
  psp: PspGateway;
  wakeup: JobWakeup;
  jobMaxAttempts: number;
  /** Facts of recently refunded charges, re-checked by the database before any write. */
  refundFacts: RefundFactsCache;
  /**
   * A pending answer's PSP reference, recorded with its `charge.updated` / `refund.updated`
   * event in a transaction: one per job, or, in the postgres worker, one per group of jobs
   * (src/jobs/grouped-psp-references.ts).
   */
  pspReferences: { charges: PspReferenceRecorder; refunds: PspReferenceRecorder };
  /** What CHARGE and REFUND jobs read first: one query per job, or, in the postgres worker, per claimed batch (src/jobs/grouped-reads.ts). */
  jobReads: { charges: ReadById<ChargeRecord>; refunds: ReadById<RefundWithChargePspReference> };
  /** Outbound merchant webhooks: delivery timeout, retry schedule, which addresses are allowed. */
  webhooks: WebhookDeliverySettings & { jobMaxAttempts: number };
  /** Where flows log what an operator must hear about (PSP contradictions, late moves, parked events). */
  log?: Logger | undefined;
}

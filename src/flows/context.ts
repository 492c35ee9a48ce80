import type { Logger } from 'pino';
import type pg from 'pg';
import type { FinishAttempt, StartAttempt } from '../db/attempts.ts';
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

/** Writes the PSP attempt history around a call (flows/attempts.ts); each settles once committed. */
export interface AttemptRecorder {
  /** Records that a call starts; its attempt number. Committed before the call is made. */
  start(attempt: StartAttempt): Promise<number>;
  finish(attempt: FinishAttempt): Promise<void>;
}

/** What flows need from the outside world, built once at start-up. */
export interface FlowContext {
  pool: pg.Pool;
  /** The PSP new charges go to (FINCORE_PSP). */
  psp: PspGateway;
  /**
   * Every configured PSP by name (FINCORE_PSP and FINCORE_PSPS_ENABLED), the default included: a
   * charge's refunds, queries and reconciliation go to the PSP that took it (pspOf). Absent: only
   * `psp` is configured.
   */
  psps?: Readonly<Record<string, PspGateway>>;
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
  /**
   * The PSP attempt history's writes: one statement per call, or, in the postgres worker, one per
   * group of calls (src/jobs/grouped-attempts.ts).
   */
  attempts: AttemptRecorder;
  /** What CHARGE and REFUND jobs read first: one query per job, or, in the postgres worker, per claimed batch (src/jobs/grouped-reads.ts). */
  jobReads: { charges: ReadById<ChargeRecord>; refunds: ReadById<RefundWithChargePspReference> };
  /** Outbound merchant webhooks: delivery timeout, retry schedule, which addresses are allowed. */
  webhooks: WebhookDeliverySettings & { jobMaxAttempts: number };
  /**
   * FINCORE_RECONCILE_AFTER_MS: how long a pending object waits before the reconciliation sweep
   * asks the PSP about it. psp_status / next_check_at (flows/attempts.ts pspProgressOf) promise
   * that moment, so they read it from here rather than assume the default.
   */
  reconcileAfterMs: number;
  /** The terminal reconciliation sweep's settings (FINCORE_RECONCILE_TERMINAL_*); absent: the defaults (flows/reconcile.ts). */
  reconcileTerminal?: { windowMs: number; recheckMs: number; batch: number } | undefined;
  /** Where flows log what an operator must hear about (PSP contradictions, late moves, parked events). */
  log?: Logger | undefined;
}

/** A charge (or its refund) belongs to a PSP this process does not have configured. */
export class PspNotConfiguredError extends Error {
  constructor(readonly psp: string) {
    super(`PSP "${psp}" took this charge but is not configured here: add it to FINCORE_PSPS_ENABLED (or FINCORE_PSP)`);
    this.name = 'PspNotConfiguredError';
  }
}

/**
 * The gateway of the PSP that took a charge: `psp` is payments.psp, null for charges from before
 * it was recorded (the configured default's). The default is `ctx.psp` itself, so a context whose
 * `psp` is replaced (a test's stub) serves that PSP's charges. Throws PspNotConfiguredError rather
 * than ask another PSP about an object it never saw.
 */
export function pspOf(ctx: Pick<FlowContext, 'psp' | 'psps'>, psp: string | null | undefined): PspGateway {
  const name = psp ?? ctx.psp.name;
  if (name === ctx.psp.name) return ctx.psp;
  const gateway = ctx.psps?.[name];
  if (!gateway) throw new PspNotConfiguredError(name);
  return gateway;
}

/** Every configured PSP gateway, the default first. */
export function configuredPsps(ctx: Pick<FlowContext, 'psp' | 'psps'>): PspGateway[] {
  return [ctx.psp, ...Object.values(ctx.psps ?? {}).filter((gateway) => gateway.name !== ctx.psp.name)];
}

/**
 * Builds what flows need from the configuration: the database pool, the PSP gateway the
 * configuration names, and the job wakeup. Shared by every entry point (main.ts, cli.ts,
 * lambda.ts) and kept free of the HTTP server so the Lambda bundle does not carry it.
 */
import { pspCalls } from './metrics.ts';
import type { Config } from './config.ts';
import type pg from 'pg';
import { finishAttempt, startAttempt } from './db/attempts.ts';
import { findCharges } from './db/charges.ts';
import type { Database } from './db/pool.ts';
import { findRefundsWithChargePspReference } from './db/refunds.ts';
import type { FlowContext } from './flows/context.ts';
import { recordPendingPspReferences } from './flows/record-psp-references.ts';
import { RefundFactsCache } from './flows/refund-facts-cache.ts';
import { JobWakeup } from './db/wakeup.ts';
import { secretFingerprint, type PspGateway } from './psp/gateway.ts';
import type { Logger } from 'pino';
import { PSP_ADAPTERS, type PspName } from './psp/adapters.ts';

/**
 * Start-up log of the webhook secrets: the fingerprint of the one that verifies each configured
 * PSP's events (the audit trail records the same fingerprint per event), and a warning naming
 * every secret that runs on its public development default.
 */
export function logWebhookSecrets(config: Config, logger: Logger): void {
  for (const psp of config.psps) {
    const verifying = psp === 'stripe' ? 'STRIPE_WEBHOOK_SECRET' : 'FINCORE_PSP_WEBHOOK_SECRET';
    const secret = psp === 'stripe' ? config.stripe.webhookSecret : config.pspWebhookSecret;
    logger.info({ psp, default: psp === config.psp, secret: verifying, fingerprint: secretFingerprint(secret) }, 'PSP webhooks are verified with this secret');
  }
  if (config.devDefaultSecrets.length > 0) {
    logger.warn({ secrets: config.devDefaultSecrets }, `development default webhook secrets in use (public values, accepted only on loopback with the built-in simulator): ${config.devDefaultSecrets.join(', ')}`);
  }
}

/** Times every PSP call (fincore_psp_request_duration_seconds) without changing what it does. */
export function timedGateway(gateway: PspGateway): PspGateway {
  const timed = <A, R>(operation: string, call: (arg: A) => Promise<R>) => async (arg: A): Promise<R> => {
    const end = pspCalls.startTimer({ operation });
    try {
      const result = await call(arg);
      end({ outcome: 'ok' });
      return result;
    } catch (error) {
      end({ outcome: error instanceof Error ? error.name : 'error' });
      throw error;
    }
  };
  return {
    name: gateway.name,
    webhook: gateway.webhook,
    supportsPaymentMethod: (paymentMethod) => gateway.supportsPaymentMethod(paymentMethod),
    verifyWebhook: (rawBody, headers, nowMs) => gateway.verifyWebhook(rawBody, headers, nowMs),
    createCharge: timed('create_charge', (request) => gateway.createCharge(request)),
    createRefund: timed('create_refund', (request) => gateway.createRefund(request)),
    getCharge: timed('get_charge', (lookup) => gateway.getCharge(lookup)),
    getRefund: timed('get_refund', (lookup) => gateway.getRefund(lookup)),
  };
}

/** The PSP adapter the configuration names (src/psp/adapters.ts): FINCORE_PSP, or `name`. */
export function pspGateway(config: Config, simulatorUrl?: string, name: PspName = config.psp): PspGateway {
  return PSP_ADAPTERS[name](config, simulatorUrl);
}

/** Every configured PSP (FINCORE_PSP and FINCORE_PSPS_ENABLED), timed, by name. */
export function pspGateways(config: Config, simulatorUrl?: string): Record<string, PspGateway> {
  return Object.fromEntries(config.psps.map((name) => [name, timedGateway(pspGateway(config, simulatorUrl, name))]));
}

/**
 * A pending answer's PSP reference: one transaction per job. The postgres worker groups its own
 * (jobs/grouped-psp-references.ts); this is for the other transports (SQS) and tools.
 */
export function pspReferenceWriters(pool: pg.Pool): FlowContext['pspReferences'] {
  return {
    charges: { record: async (reference) => void (await recordPendingPspReferences(pool, 'payments', [reference])) },
    refunds: { record: async (reference) => void (await recordPendingPspReferences(pool, 'refunds', [reference])) },
  };
}

/** The PSP attempt history: one statement per call. The postgres worker groups its own (jobs/grouped-attempts.ts). */
export function attemptWriters(pool: pg.Pool): FlowContext['attempts'] {
  return {
    start: (attempt) => startAttempt(pool, attempt),
    finish: (attempt) => finishAttempt(pool, attempt),
  };
}

/** A job's first read: one query per job. The postgres worker groups its own (jobs/grouped-reads.ts). */
export function jobReaders(pool: pg.Pool): FlowContext['jobReads'] {
  return {
    charges: { read: async (id) => (await findCharges(pool, [id])).get(id) },
    refunds: { read: async (id) => (await findRefundsWithChargePspReference(pool, [id])).get(id) },
  };
}

/** `simulatorUrl`: the simulator started in this process, when there is one. */
export function flowContext(db: Database, config: Config, simulatorUrl?: string): FlowContext {
  const psps = pspGateways(config, simulatorUrl);
  return {
    pool: db.pool,
    psp: psps[config.psp] as PspGateway,
    psps,
    wakeup: new JobWakeup(db.pool, db.embedded),
    jobMaxAttempts: config.worker.maxAttempts,
    refundFacts: new RefundFactsCache(),
    pspReferences: pspReferenceWriters(db.pool),
    attempts: attemptWriters(db.pool),
    jobReads: jobReaders(db.pool),
    webhooks: config.webhooks,
    reconcileAfterMs: config.reconcile.afterMs,
    reconcileTerminal: { windowMs: config.reconcile.terminalWindowMs, recheckMs: config.reconcile.terminalRecheckMs, batch: config.reconcile.terminalBatch },
  };
}

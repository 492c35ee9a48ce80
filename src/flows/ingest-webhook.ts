/**
 * The PSP's webhook (POST /v1/webhooks/psp, or /v1/webhooks/stripe): the signature is verified on the raw body first (by the gateway), then
 * one transaction stores the event in the inbox (once per PSP event id) and applies it
 * (flows/apply-psp-event.ts): a move, a review item, an imported refund, or parked until its
 * object is known. Every verified event is acknowledged with 2xx, whatever it says: duplicates,
 * unknown objects, early events and unreadable ones are kept, never refused.
 */
import { createHash } from 'node:crypto';
import { inTransaction } from '../db/pool.ts';
import { recordPspEventResult, storeMalformedPspEvent, storePspEvent } from '../db/psp-events.ts';
import { IgnoredWebhookEvent, MalformedWebhookEvent, WebhookVerificationError } from '../psp/gateway.ts';
import { configuredPsps, pspOf, type FlowContext } from './context.ts';
import { applyPspEvent, type ApplyResult } from './apply-psp-event.ts';

export type IngestResult = ApplyResult | 'duplicate' | 'not_for_fincore' | 'malformed';

export interface PspWebhookIntake {
  pspName: string;
  path: string;
  signatureHeader: string;
}

/**
 * Where each configured PSP (FINCORE_PSP and FINCORE_PSPS_ENABLED) posts its events, and the
 * header its signature comes in: one intake per PSP, each verified with that PSP's gateway.
 */
export function pspWebhookIntakes(ctx: Pick<FlowContext, 'psp' | 'psps'>): PspWebhookIntake[] {
  return configuredPsps(ctx).map((gateway) => ({ pspName: gateway.name, ...gateway.webhook }));
}

/** True when the PSP's signature or timestamp did not verify (the event was not read). */
export function isUnverifiedWebhook(error: unknown): error is WebhookVerificationError {
  return error instanceof WebhookVerificationError;
}

/** `pspName`: the PSP whose intake received it (pspWebhookIntakes): its gateway verifies it, and the event records it. */
export async function ingestPspWebhook(
  ctx: FlowContext,
  pspName: string,
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
): Promise<{ eventId: string; result: IngestResult; malformedReason?: string }> {
  const psp = pspOf(ctx, pspName);
  let event;
  try {
    event = psp.verifyWebhook(rawBody, headers, Date.now()); // throws WebhookVerificationError
  } catch (error) {
    // Verified, but about nothing FinCore holds: acknowledge so the PSP stops resending it.
    if (error instanceof IgnoredWebhookEvent) return { eventId: error.eventId, result: 'not_for_fincore' };
    // Signed but unreadable: kept as sent (the operator sees it) and acknowledged, so it does not
    // come back on every retry of the PSP. Its id is the content's hash: redeliveries dedupe.
    if (error instanceof MalformedWebhookEvent) {
      const eventId = `malformed_${createHash('sha256').update(rawBody).digest('hex').slice(0, 32)}`;
      const isNew = await storeMalformedPspEvent(ctx.pool, { id: eventId, rawBody, reason: error.reason, secretFingerprint: error.secretFingerprint });
      return { eventId, result: isNew ? 'malformed' : 'duplicate', malformedReason: error.reason };
    }
    throw error;
  }
  const { payload, secretFingerprint, ...report } = event;
  const result = await inTransaction(ctx.pool, async (tx): Promise<IngestResult> => {
    const isNew = await storePspEvent(tx, {
      id: event.eventId,
      type: event.type,
      objectId: report.objectType === 'dispute' ? report.chargeReference : report.reference,
      objectType: report.objectType,
      pspObjectId: report.objectType === 'dispute' ? report.pspReference : report.outcome.pspReference,
      psp: psp.name,
      report,
      payload,
      secretFingerprint,
    });
    if (!isNew) return 'duplicate';
    const applied = await applyPspEvent(ctx, tx, report);
    await recordPspEventResult(tx, event.eventId, applied, false);
    return applied;
  });
  return { eventId: event.eventId, result };
}

/**
 * Carries out one WEBHOOK job: POSTs the event to the endpoint, signed (src/webhooks/deliver.ts),
 * and logs the attempt on the delivery. Any 2xx is delivered. Anything else is retried on the
 * delivery's own schedule while the next attempt still falls inside the retry window; then the
 * delivery is failed and the job ends normally. When the job should run again, the flow says so
 * (a DeliveryRetry) and the job handler (src/jobs/router.ts) schedules it: flows know no job
 * mechanics. At least once: a copy may arrive twice (a lost 2xx, a resend); the event id lets
 * the receiver drop it.
 */
import { appendEvent } from '../db/events.ts';
import { inTransaction } from '../db/pool.ts';
import {
  claimEndpointProbe,
  deferWebhookDelivery,
  findDeliveryTarget,
  lockEndpointBreaker,
  recordDeliveryAttempt,
  stopWebhookDelivery,
  wakeEndpointDeliveries,
  writeEndpointBreaker,
  type DeliveryTarget,
  type WebhookDeliveryRecord,
} from '../db/webhook-endpoints.ts';
import type { EventType } from '../domain/events.ts';
import { eventObject } from '../domain/objects.ts';
import { afterAttempt, gate } from '../domain/webhook-breaker.ts';
import { postWebhook, type AttemptResult, type WebhookDeliverySettings } from '../webhooks/deliver.ts';
import { webhookEndpointObject } from '../webhooks/objects.ts';
import { DELIVERY_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhook } from '../webhooks/signature.ts';
import type { FlowContext } from './context.ts';

/** Deliveries waiting for the same moment (a pause's end) spread over this much. */
const DEFER_JITTER_MS = 1000;

/**
 * The job should run again after `delayMs`. `logKey`: retries sharing it are logged at most once
 * a minute; `deferred`: no attempt was made (the endpoint is paused or its merchant at its
 * in-flight cap), which is not worth a warning at all.
 */
export interface DeliveryRetry {
  delayMs: number;
  reason: string;
  logKey: string;
  deferred: boolean;
}

/** How long the probe's claim keeps the other deliveries of a half-open endpoint waiting. */
function probeLeaseMs(settings: WebhookDeliverySettings): number {
  return settings.timeoutMs + DEFER_JITTER_MS;
}

function attemptSummary(result: AttemptResult): string {
  return result.responseStatus !== null ? `HTTP ${result.responseStatus}` : (result.error ?? 'no answer').slice(0, 200);
}

/**
 * The delivery waits without an attempt (its endpoint is paused, or its merchant has as many
 * deliveries in flight as allowed): due again at `until`, the job retried then. A wait past the
 * retry window fails the delivery, and the job ends.
 */
async function deferDelivery(ctx: FlowContext, target: DeliveryTarget, until: Date, why: string): Promise<DeliveryRetry | undefined> {
  const at = new Date(until.getTime() + Math.round(Math.random() * DEFER_JITTER_MS));
  const status = await deferWebhookDelivery(ctx.pool, target.delivery.id, at, ctx.webhooks.retryWindowMs);
  if (status !== 'pending') return undefined;
  return { delayMs: Math.max(0, at.getTime() - target.now.getTime()), reason: `webhook ${target.delivery.id} to ${target.endpoint.id} waits: ${why}`, logKey: `webhook:${target.endpoint.id}`, deferred: true };
}

/**
 * Logs the attempt on the delivery and, under the endpoint's row lock, moves its circuit breaker
 * (one transaction with the event when the endpoint pauses or resumes). A success on an endpoint
 * with nothing to clear takes the one-statement path, as before the breaker.
 */
async function recordAttempt(ctx: FlowContext, target: DeliveryTarget, jobId: string, result: AttemptResult, retryInMs: number): Promise<WebhookDeliveryRecord | undefined> {
  const outcome = { ...result, retryInMs, retryWindowMs: ctx.webhooks.retryWindowMs };
  const clean = target.endpoint.consecutive_failures === 0 && target.endpoint.paused_until === null;
  if (result.delivered && clean) return recordDeliveryAttempt(ctx.pool, target.delivery.id, outcome);
  const { recorded, resumed } = await inTransaction(ctx.pool, async (tx) => {
    const breaker = await lockEndpointBreaker(tx, target.endpoint.id);
    const recorded = await recordDeliveryAttempt(tx, target.delivery.id, outcome);
    if (!breaker) return { recorded, resumed: false };
    const next = afterAttempt(breaker, { delivered: result.delivered, summary: attemptSummary(result) }, breaker.now, ctx.webhooks.breaker);
    const endpoint = await writeEndpointBreaker(tx, target.endpoint.id, next.state);
    if (next.transition && endpoint) {
      const type: EventType = `webhook_endpoint.${next.transition}`;
      await appendEvent(tx, {
        merchantId: breaker.merchant_id,
        type,
        objectType: 'webhook_endpoint',
        objectId: target.endpoint.id,
        data: { webhook_endpoint: webhookEndpointObject(endpoint) },
        cause: { type: 'job', id: jobId },
      });
    }
    return { recorded, resumed: next.transition === 'resumed' && (await wakeEndpointDeliveries(tx, target.endpoint.id)) > 0 };
  });
  if (resumed) ctx.wakeup.jobsCommitted('WEBHOOK');
  return recorded;
}

/**
 * The WEBHOOK job's flow, the same on both transports. `retryInMs`: when this job's next attempt
 * would run if this one fails (the job's backoff for its attempt, counted from 1 in each attempt
 * series); the delivery fails instead when that falls past its retry window. The rules the
 * postgres claim applies (per-merchant in-flight cap, the endpoint's breaker) are checked again
 * here, so they hold wherever the job came from. Returns when to run the job again, if ever.
 */
export async function deliverWebhook(ctx: FlowContext, deliveryId: string, jobId: string, retryInMs: number): Promise<DeliveryRetry | undefined> {
  const target = await findDeliveryTarget(ctx.pool, deliveryId, jobId);
  // Delivered already, failed, or stopped: a duplicate job, or one whose endpoint was deleted.
  if (!target || target.delivery.status !== 'pending') return undefined;
  if (target.endpoint.status !== 'enabled') {
    await stopWebhookDelivery(ctx.pool, deliveryId, 'endpoint deleted');
    return undefined;
  }
  const settings = ctx.webhooks;
  if (target.merchantInFlight >= settings.merchantConcurrency) {
    return deferDelivery(ctx, target, target.now, `merchant ${target.endpoint.merchant_id} has ${target.merchantInFlight} deliveries in flight`);
  }
  const decision = gate(target.endpoint, target.now);
  if (decision.action === 'wait') {
    return deferDelivery(ctx, target, decision.until, `endpoint paused until ${decision.until.toISOString()}`);
  }
  if (decision.action === 'probe' && !(await claimEndpointProbe(ctx.pool, target.endpoint.id, probeLeaseMs(settings)))) {
    return deferDelivery(ctx, target, new Date(target.now.getTime() + probeLeaseMs(settings)), 'another delivery is probing the paused endpoint');
  }
  const rawBody = JSON.stringify(eventObject(target.event));
  const signature = signWebhook(target.endpoint.signingSecrets, Math.floor(Date.now() / 1000), rawBody);
  const result = await postWebhook(target.endpoint.url, rawBody, { [SIGNATURE_HEADER]: signature, [EVENT_ID_HEADER]: target.event.id, [DELIVERY_ID_HEADER]: deliveryId }, settings);
  const recorded = await recordAttempt(ctx, target, jobId, result, retryInMs);
  if (recorded?.status !== 'pending') return undefined;
  return { delayMs: retryInMs, reason: `webhook ${deliveryId} to ${target.endpoint.id}: ${result.responseStatus ?? 'no answer'} ${(result.error ?? '').slice(0, 200)}`, logKey: `webhook:${target.endpoint.id}`, deferred: false };
}

/**
 * Carries out one WEBHOOK job: POSTs the event to the endpoint, signed, and logs the attempt on
 * the delivery. Any 2xx is delivered. Anything else (another status, a timeout, a refused or
 * reset connection) is retried on the delivery's own schedule (RetryAfter) while the next attempt
 * still falls inside the retry window; then the delivery is failed and the job ends normally.
 * At least once: a copy may arrive twice (a lost 2xx, a resend); the event id lets the receiver
 * drop it.
 *
 * The HTTP call holds no database connection (on embedded PGlite one would block everything),
 * never follows a redirect, reads at most 64 KB of the answer and keeps 1 KB of it.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
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
import type { FlowContext } from '../flows/context.ts';
import { RetryAfter, retryDelayMs } from '../jobs/backoff.ts';
import { checkUrlTarget, classifyAddress } from '../domain/webhook-address.ts';
import { afterAttempt, gate, type BreakerSettings } from '../domain/webhook-breaker.ts';
import { webhookEndpointObject } from './objects.ts';
import { DELIVERY_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhook } from './signature.ts';

export interface WebhookDeliverySettings {
  timeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  retryWindowMs: number;
  allowPrivateNetworks: boolean;
  /** Enabled endpoints a merchant may have. */
  maxEndpoints: number;
  /** WEBHOOK jobs of one merchant in flight at once, across all workers (both transports). */
  merchantConcurrency: number;
  breaker: BreakerSettings;
}

export const USER_AGENT = 'FinCore-Webhooks/1.0';
const BODY_READ_LIMIT = 64 * 1024;
const ERROR_TEXT_LIMIT = 1024;
/** Deliveries waiting for the same moment (a pause's end) spread over this much. */
const DEFER_JITTER_MS = 1000;

// Kept-alive connections: a merchant's endpoint gets many events, each a short POST.
const httpAgent = new HttpAgent({ keepAlive: true });
const httpsAgent = new HttpsAgent({ keepAlive: true });

/** True for an IP address a merchant's URL may not reach (see src/domain/webhook-address.ts: only unicast is allowed). */
export function isPrivateAddress(address: string): boolean {
  return isIP(address) !== 0 && !classifyAddress(address).allowed;
}

/**
 * Resolves as usual, then refuses a name with any non-public address. The connection is made to
 * the addresses returned here, the ones just checked: the check and the connect share one
 * resolution, so DNS rebinding (a second answer, private this time) cannot slip in between.
 */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const blocked = addresses.map((entry) => classifyAddress(entry.address)).find((verdict) => !verdict.allowed);
    if (blocked) return callback(Object.assign(new Error(`${hostname} resolves to a private or reserved address (${blocked.address}); not delivered`), { code: 'EPRIVATEADDRESS' }), '', 0);
    if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
    const first = addresses[0];
    if (options.all) return callback(null, addresses);
    return callback(null, first?.address ?? '', first?.family ?? 4);
  });
};

export interface AttemptResult {
  delivered: boolean;
  responseStatus: number | null;
  error: string | null;
}

function errorText(status: number, chunks: Buffer[]): string {
  // PostgreSQL text cannot hold NUL; an endpoint's answer may.
  const text = Buffer.concat(chunks).subarray(0, ERROR_TEXT_LIMIT).toString('utf8').replaceAll('\u0000', '');
  return text === '' ? `HTTP ${status}` : text;
}

/** One POST with a hard deadline covering connect, request and answer. Never throws. */
export function postWebhook(url: string, rawBody: string, headers: Record<string, string>, settings: Pick<WebhookDeliverySettings, 'timeoutMs' | 'allowPrivateNetworks'>): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve({ delivered: false, responseStatus: null, error: 'invalid endpoint URL' });
      return;
    }
    // An IP literal is connected to without a lookup: it is judged here (every form: mapped,
    // 6to4, NAT64, IPv4-compatible), like a resolved name's addresses are in publicOnlyLookup.
    if (!settings.allowPrivateNetworks) {
      const refused = checkUrlTarget(target);
      if (!refused.allowed) {
        resolve({ delivered: false, responseStatus: null, error: `${refused.reason}: a private address; not delivered` });
        return;
      }
    }
    const https = target.protocol === 'https:';
    const request = https ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (result: AttemptResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(result);
    };
    const req = request(target, {
      method: 'POST',
      agent: https ? httpsAgent : httpAgent,
      headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(rawBody)), 'User-Agent': USER_AGENT },
      ...(settings.allowPrivateNetworks ? {} : { lookup: publicOnlyLookup }),
    });
    const deadline = setTimeout(() => req.destroy(new Error(`timed out after ${settings.timeoutMs} ms`)), settings.timeoutMs);
    req.on('error', (error) => finish({ delivered: false, responseStatus: null, error: error.message }));
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const delivered = status >= 200 && status < 300;
      const chunks: Buffer[] = [];
      let kept = 0;
      let read = 0;
      const done = () => finish({ delivered, responseStatus: status, error: delivered ? null : errorText(status, chunks) });
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (kept < ERROR_TEXT_LIMIT) {
          chunks.push(chunk);
          kept += chunk.length;
        }
        if (read > BODY_READ_LIMIT) req.destroy();
      });
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    req.end(rawBody);
  });
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
async function deferDelivery(ctx: FlowContext, target: DeliveryTarget, until: Date, why: string): Promise<void> {
  const at = new Date(until.getTime() + Math.round(Math.random() * DEFER_JITTER_MS));
  const status = await deferWebhookDelivery(ctx.pool, target.delivery.id, at, ctx.webhooks.retryWindowMs);
  if (status !== 'pending') return;
  throw new RetryAfter(Math.max(0, at.getTime() - target.now.getTime()), `webhook ${target.delivery.id} to ${target.endpoint.id} waits: ${why}`, `webhook:${target.endpoint.id}`, true);
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
  if (resumed) ctx.wakeup.jobsCommitted();
  return recorded;
}

/**
 * The WEBHOOK job handler, the same on both transports. `attempt`: the job's attempt, counting
 * from 1 in each attempt series. The rules the postgres claim applies (per-merchant in-flight
 * cap, the endpoint's breaker) are checked again here, so they hold wherever the job came from.
 */
export async function deliverWebhook(ctx: FlowContext, deliveryId: string, attempt: number, jobId: string): Promise<void> {
  const target = await findDeliveryTarget(ctx.pool, deliveryId, jobId);
  // Delivered already, failed, or stopped: a duplicate job, or one whose endpoint was deleted.
  if (!target || target.delivery.status !== 'pending') return;
  if (target.endpoint.status !== 'enabled') {
    await stopWebhookDelivery(ctx.pool, deliveryId, 'endpoint deleted');
    return;
  }
  const settings = ctx.webhooks;
  if (target.merchantInFlight >= settings.merchantConcurrency) {
    await deferDelivery(ctx, target, target.now, `merchant ${target.endpoint.merchant_id} has ${target.merchantInFlight} deliveries in flight`);
    return;
  }
  const decision = gate(target.endpoint, target.now);
  if (decision.action === 'wait') {
    await deferDelivery(ctx, target, decision.until, `endpoint paused until ${decision.until.toISOString()}`);
    return;
  }
  if (decision.action === 'probe' && !(await claimEndpointProbe(ctx.pool, target.endpoint.id, probeLeaseMs(settings)))) {
    await deferDelivery(ctx, target, new Date(target.now.getTime() + probeLeaseMs(settings)), 'another delivery is probing the paused endpoint');
    return;
  }
  const rawBody = JSON.stringify(eventObject(target.event));
  const signature = signWebhook(target.endpoint.signingSecrets, Math.floor(Date.now() / 1000), rawBody);
  const result = await postWebhook(target.endpoint.url, rawBody, { [SIGNATURE_HEADER]: signature, [EVENT_ID_HEADER]: target.event.id, [DELIVERY_ID_HEADER]: deliveryId }, settings);
  const retryInMs = retryDelayMs(attempt, settings.backoffBaseMs, settings.backoffMaxMs);
  const recorded = await recordAttempt(ctx, target, jobId, result, retryInMs);
  if (recorded?.status === 'pending') {
    throw new RetryAfter(retryInMs, `webhook ${deliveryId} to ${target.endpoint.id}: ${result.responseStatus ?? 'no answer'} ${(result.error ?? '').slice(0, 200)}`, `webhook:${target.endpoint.id}`);
  }
}

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
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { findDeliveryTarget, recordDeliveryAttempt, stopWebhookDelivery } from '../db/webhook-endpoints.ts';
import { eventObject } from '../domain/objects.ts';
import type { FlowContext } from '../flows/context.ts';
import { RetryAfter, retryDelayMs } from '../jobs/backoff.ts';
import { DELIVERY_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhook } from './signature.ts';

export interface WebhookDeliverySettings {
  timeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  retryWindowMs: number;
  allowPrivateNetworks: boolean;
}

export const USER_AGENT = 'FinCore-Webhooks/1.0';
const BODY_READ_LIMIT = 64 * 1024;
const ERROR_TEXT_LIMIT = 1024;

// Kept-alive connections: a merchant's endpoint gets many events, each a short POST.
const httpAgent = new HttpAgent({ keepAlive: true });
const httpsAgent = new HttpsAgent({ keepAlive: true });

/**
 * Addresses a merchant's URL may not reach unless FINCORE_WEBHOOK_ALLOW_PRIVATE_NETWORKS is set:
 * loopback, private, carrier-grade NAT, link-local (cloud metadata at 169.254.169.254), multicast,
 * reserved, and their IPv6 counterparts (IPv4-mapped ones are judged as the IPv4 address).
 */
const privateRanges = new BlockList();
for (const [network, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 3]] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv4');
}
// No ::ffff:0:0/96 rule: BlockList checks IPv4-mapped addresses against the IPv4 rules itself, and
// such a rule would match every IPv4 address.
for (const [network, prefix] of [['::', 127], ['64:ff9b::', 96], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && privateRanges.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** Resolves as usual, then refuses a name with any private address (checked at connect time, so DNS rebinding cannot slip past a check made earlier). */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const blocked = addresses.find((entry) => isPrivateAddress(entry.address));
    if (blocked) return callback(Object.assign(new Error(`${hostname} resolves to a private address (${blocked.address}); not delivered`), { code: 'EPRIVATEADDRESS' }), '', 0);
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
    const literalHost = target.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!settings.allowPrivateNetworks && isPrivateAddress(literalHost)) {
      resolve({ delivered: false, responseStatus: null, error: `${literalHost} is a private address; not delivered` });
      return;
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

/** The WEBHOOK job handler. `attempt`: the job's attempt, counting from 1 in each attempt series. */
export async function deliverWebhook(ctx: FlowContext, deliveryId: string, attempt: number): Promise<void> {
  const target = await findDeliveryTarget(ctx.pool, deliveryId);
  // Delivered already, failed, or stopped: a duplicate job, or one whose endpoint was deleted.
  if (!target || target.delivery.status !== 'pending') return;
  if (target.endpoint.status !== 'enabled') {
    await stopWebhookDelivery(ctx.pool, deliveryId, 'endpoint deleted');
    return;
  }
  const settings = ctx.webhooks;
  const rawBody = JSON.stringify(eventObject(target.event));
  const signature = signWebhook(target.endpoint.secret, Math.floor(Date.now() / 1000), rawBody);
  const result = await postWebhook(target.endpoint.url, rawBody, { [SIGNATURE_HEADER]: signature, [EVENT_ID_HEADER]: target.event.id, [DELIVERY_ID_HEADER]: deliveryId }, settings);
  const retryInMs = retryDelayMs(attempt, settings.backoffBaseMs, settings.backoffMaxMs);
  const recorded = await recordDeliveryAttempt(ctx.pool, deliveryId, { ...result, retryInMs, retryWindowMs: settings.retryWindowMs });
  if (recorded?.status === 'pending') {
    throw new RetryAfter(retryInMs, `webhook ${deliveryId} to ${target.endpoint.id}: ${result.responseStatus ?? 'no answer'} ${(result.error ?? '').slice(0, 200)}`);
  }
}

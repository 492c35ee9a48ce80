/**
 * The `FinCore-Signature` header on every merchant webhook:
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint's secret>`,
 * the same scheme as the PSP's webhooks to FinCore. During a secret rotation's overlap the header
 * carries one `v1=` per valid secret (newest first), like Stripe's: a receiver accepts the
 * delivery when any of them matches its secret. `verifyWebhookSignature` is the README's
 * verification snippet ("Webhooks to your systems"), typed; the tests verify every delivery with it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'FinCore-Signature';
export const EVENT_ID_HEADER = 'FinCore-Event-Id';
export const DELIVERY_ID_HEADER = 'FinCore-Delivery-Id';
/** How old (or how far in the future) a signed timestamp may be. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The header value for `rawBody` signed at `timestampSec` with each of `secrets`. */
export function signWebhook(secrets: string | readonly string[], timestampSec: number, rawBody: string): string {
  const signatures = (typeof secrets === 'string' ? [secrets] : secrets).map((secret) => `v1=${createHmac('sha256', secret).update(`${timestampSec}.`).update(rawBody).digest('hex')}`);
  return [`t=${timestampSec}`, ...signatures].join(',');
}

/** True when `header` signs exactly `rawBody` with `secret`, within `toleranceSec` of now. */
export function verifyWebhookSignature(
  rawBody: string | Buffer,
  header: string | undefined,
  secret: string,
  toleranceSec = DEFAULT_TOLERANCE_SECONDS,
  nowSec = Date.now() / 1000,
): boolean {
  const parts = String(header).split(',').map((part) => part.split('=', 2));
  const t = Number(parts.find(([name]) => name === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowSec - t) > toleranceSec) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  return parts.some(([name, value]) => {
    if (name !== 'v1') return false;
    const given = Buffer.from(String(value ?? ''), 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

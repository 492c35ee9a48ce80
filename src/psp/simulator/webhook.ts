/**
 * Pure functions for the PSP simulator adapter: webhook signature verification and mapping of
 * the simulator's charge / refund objects to FinCore's PspOutcome.
 *
 * Signature header: `FinCore-PSP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, `${t}.${rawBody}`)>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { unstorableText } from '../../domain/text.ts';
import {
  IgnoredWebhookEvent,
  MalformedWebhookEvent,
  WebhookVerificationError,
  secretFingerprint,
  type MappedWebhookEvent,
  type PspDisputeReport,
  type PspOutcome,
  type PspWebhookEvent,
} from '../gateway.ts';

export const SIGNATURE_HEADER = 'fincore-psp-signature';
export const WEBHOOK_TOLERANCE_SECONDS = 300;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Thrown by the mapping functions when a simulator object does not have the expected shape. */
export class SimulatorObjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulatorObjectError';
  }
}

function readStatus(object: JsonObject): PspOutcome['status'] {
  const status = object['status'];
  if (status === 'pending' || status === 'succeeded' || status === 'failed') return status;
  throw new SimulatorObjectError(`unexpected status ${JSON.stringify(status)}`);
}

function readId(object: JsonObject, prefix: string): string {
  const id = object['id'];
  if (typeof id !== 'string' || !id.startsWith(prefix)) {
    throw new SimulatorObjectError(`expected an id starting with ${prefix}, got ${JSON.stringify(id)}`);
  }
  return id;
}

/** The simulator id (`simch_...`) of the charge a refund or dispute belongs to. */
function readChargeId(object: JsonObject): string {
  const charge = object['charge'];
  if (typeof charge !== 'string' || !charge.startsWith('simch_')) throw new SimulatorObjectError(`expected charge to start with simch_, got ${JSON.stringify(charge)}`);
  return charge;
}

function readNullableString(object: JsonObject, field: string): string | null {
  const value = object[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new SimulatorObjectError(`${field} must be a string or null`);
  return value;
}

/** The amount (minor units) the simulator reports; a wrong type is the object's shape problem. */
function readAmount(object: JsonObject): number {
  const amount = object['amount'];
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) throw new SimulatorObjectError(`amount must be a non-negative integer, got ${JSON.stringify(amount)}`);
  return amount;
}

function readCurrency(object: JsonObject): string {
  const currency = object['currency'];
  if (typeof currency !== 'string' || !/^[a-zA-Z]{3}$/.test(currency)) throw new SimulatorObjectError(`currency must be a three-letter code, got ${JSON.stringify(currency)}`);
  return currency.toLowerCase();
}

/** Maps a simulator charge object (`simch_...`) to a PspOutcome, with the amount and currency it reports. */
export function mapChargeObject(object: unknown): PspOutcome {
  if (!isObject(object) || object['object'] !== 'charge') {
    throw new SimulatorObjectError('expected a charge object');
  }
  return {
    pspReference: readId(object, 'simch_'),
    status: readStatus(object),
    failureCode: readNullableString(object, 'failure_code'),
    failureMessage: readNullableString(object, 'failure_message'),
    amount: readAmount(object),
    currency: readCurrency(object),
  };
}

/** Maps a simulator refund object (`simre_...`) to a PspOutcome (failureCode is always null). */
export function mapRefundObject(object: unknown): PspOutcome {
  if (!isObject(object) || object['object'] !== 'refund') {
    throw new SimulatorObjectError('expected a refund object');
  }
  return {
    pspReference: readId(object, 'simre_'),
    status: readStatus(object),
    failureCode: null,
    failureMessage: readNullableString(object, 'failure_reason'),
    amount: readAmount(object),
    currency: readCurrency(object),
  };
}

/** Maps a simulator dispute object (`simdp_...`) to what FinCore records of it. */
export function mapDisputeObject(object: unknown): Omit<PspDisputeReport, 'objectType'> {
  if (!isObject(object) || object['object'] !== 'dispute') {
    throw new SimulatorObjectError('expected a dispute object');
  }
  const status = object['status'];
  if (status !== 'open' && status !== 'won' && status !== 'lost') throw new SimulatorObjectError(`unexpected dispute status ${JSON.stringify(status)}`);
  return {
    pspReference: readId(object, 'simdp_'),
    chargeReference: readNullableString(object, 'charge_reference'),
    chargePspReference: readChargeId(object),
    amount: readAmount(object),
    currency: readCurrency(object),
    status,
    pspStatus: status,
    reason: readNullableString(object, 'reason'),
  };
}

/** Hex HMAC-SHA256 over `${timestampSec}.${rawBody}`. */
export function computeSignature(secret: string, timestampSec: number, rawBody: Buffer): string {
  return createHmac('sha256', secret).update(`${timestampSec}.`).update(rawBody).digest('hex');
}

export interface ParsedSignatureHeader {
  timestampSec: number;
  v1: string[];
}

/** Parses `t=<digits>,v1=<hex>[,v1=<hex>...]`; unknown schemes are ignored. */
export function parseSignatureHeader(header: string): ParsedSignatureHeader {
  let timestampSec: number | null = null;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const item = part.trim();
    if (item.length === 0) continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new WebhookVerificationError('malformed signature header');
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (key === 't') {
      if (timestampSec !== null) throw new WebhookVerificationError('signature header has more than one timestamp');
      if (!/^\d{1,12}$/.test(value)) throw new WebhookVerificationError('signature timestamp is not a unix time');
      timestampSec = Number(value);
    } else if (key === 'v1') {
      v1.push(value);
    }
  }
  if (timestampSec === null) throw new WebhookVerificationError('signature header has no timestamp (t=)');
  if (v1.length === 0) throw new WebhookVerificationError('signature header has no v1 signature');
  return { timestampSec, v1 };
}

function findHeader(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  let value = headers[name];
  if (value === undefined) {
    for (const [key, candidate] of Object.entries(headers)) {
      if (key.toLowerCase() === name) {
        value = candidate;
        break;
      }
    }
  }
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.join(',');
  return value;
}

/**
 * Verifies the signature and timestamp of a simulator webhook over the raw body, and only then
 * parses and maps it. Throws WebhookVerificationError on any problem.
 */
export function verifySimulatorWebhook(
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
  secret: string,
  nowMs: number,
  toleranceSeconds: number = WEBHOOK_TOLERANCE_SECONDS,
): PspWebhookEvent {
  if (secret.length === 0) throw new WebhookVerificationError('no webhook secret configured');
  const header = findHeader(headers, SIGNATURE_HEADER);
  if (header === undefined || header.trim().length === 0) {
    throw new WebhookVerificationError(`missing ${SIGNATURE_HEADER} header`);
  }
  const { timestampSec, v1 } = parseSignatureHeader(header);

  const ageSeconds = nowMs / 1000 - timestampSec;
  if (!Number.isFinite(ageSeconds) || Math.abs(ageSeconds) > toleranceSeconds) {
    throw new WebhookVerificationError(
      `signature timestamp ${timestampSec} is outside the ±${toleranceSeconds} s tolerance`,
    );
  }

  const expected = Buffer.from(computeSignature(secret, timestampSec, rawBody), 'hex');
  let matched = false;
  for (const candidate of v1) {
    if (!/^[0-9a-fA-F]+$/.test(candidate) || candidate.length !== expected.length * 2) continue;
    const given = Buffer.from(candidate, 'hex');
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError('no v1 signature matches the body');

  // Signature verified: only now is the body parsed. From here on the PSP did send these bytes,
  // so a problem is the content's (MalformedWebhookEvent, kept and acknowledged), not the signature's.
  const fingerprint = secretFingerprint(secret);
  let payload: unknown;
  try {
    payload = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new MalformedWebhookEvent('the body is not valid JSON', fingerprint);
  }
  const unstorable = unstorableText(payload);
  if (unstorable) throw new MalformedWebhookEvent(unstorable, fingerprint);
  let mapped: MappedWebhookEvent;
  try {
    mapped = mapWebhookEvent(payload);
  } catch (error) {
    if (error instanceof SimulatorObjectError) throw new MalformedWebhookEvent(error.message, fingerprint);
    throw error;
  }
  return { ...mapped, secretFingerprint: fingerprint };
}

/**
 * Maps a parsed (already verified) simulator event to FinCore's terms. Throws SimulatorObjectError
 * for a body of the wrong shape, IgnoredWebhookEvent for an event type FinCore does not act on.
 */
export function mapWebhookEvent(payload: unknown): MappedWebhookEvent {
  if (!isObject(payload)) throw new SimulatorObjectError('webhook body is not a JSON object');
  const eventId = payload['id'];
  if (typeof eventId !== 'string' || eventId.length === 0) throw new SimulatorObjectError('webhook event has no id');
  const type = payload['type'];
  if (typeof type !== 'string') throw new SimulatorObjectError('webhook event has no type');
  const objectType = type.startsWith('charge.') ? 'charge' : type.startsWith('refund.') ? 'refund' : type.startsWith('dispute.') ? 'dispute' : null;
  if (objectType === null) throw new IgnoredWebhookEvent(eventId, type);
  const data = payload['data'];
  const object = isObject(data) ? data['object'] : undefined;
  if (!isObject(object)) throw new SimulatorObjectError('webhook event has no data.object');
  try {
    if (objectType === 'dispute') return { eventId, type, objectType, ...mapDisputeObject(object), payload };
    const reference = object['reference'];
    if (objectType === 'charge') {
      // Every charge is made through the API, with the merchant's reference.
      if (typeof reference !== 'string' || reference.length === 0) throw new SimulatorObjectError('webhook data.object has no reference');
      return { eventId, type, objectType, reference, outcome: mapChargeObject(object), payload };
    }
    // A refund made at the PSP (its dashboard) has no reference: matched by its id, or imported.
    if (reference !== null && (typeof reference !== 'string' || reference.length === 0)) throw new SimulatorObjectError('webhook data.object reference must be a non-empty string or null');
    return {
      eventId,
      type,
      objectType,
      reference,
      chargeReference: readNullableString(object, 'charge_reference'),
      chargePspReference: readChargeId(object),
      outcome: mapRefundObject(object),
      payload,
    };
  } catch (err) {
    if (!(err instanceof SimulatorObjectError)) throw err;
    throw new SimulatorObjectError(`webhook data.object is not a valid ${objectType}: ${err.message}`);
  }
}

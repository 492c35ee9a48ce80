/**
 * Pure mapping between Stripe's objects and FinCore's PSP terms: PaymentIntent and Refund
 * statuses to PspOutcome, Stripe errors to FinCore's permanent / transient classes, and Stripe
 * events to MappedWebhookEvent. No I/O here, so every rule is unit-tested without a server.
 *
 * FinCore's id travels in `metadata.fincore_id` (and as the Idempotency-Key of the create call).
 */
import { PspPermanentError, PspTransientError, type PspDisputeReport, type PspOutcome, type MappedWebhookEvent } from '../gateway.ts';

/** The metadata key carrying the FinCore charge or refund id. */
export const FINCORE_ID = 'fincore_id';
/** The metadata key carrying, on a refund FinCore creates, the FinCore id of its charge. */
export const FINCORE_CHARGE_ID = 'fincore_charge_id';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(object: JsonObject, field: string): string | null {
  const value = object[field];
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Thrown when Stripe answers with something that is not the object we asked for. */
export class StripeShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StripeShapeError';
  }
}

export function fincoreIdOf(object: JsonObject, key: string = FINCORE_ID): string | null {
  const metadata = object['metadata'];
  return isObject(metadata) ? str(metadata, key) : null;
}

/**
 * The amount and currency Stripe reports for the object (FinCore compares them with what it
 * asked); a field the object does not carry is left out (not reported, so not compared).
 */
function money(object: JsonObject): { amount?: number; currency?: string } {
  const amount = object['amount'];
  const currency = str(object, 'currency')?.toLowerCase();
  return {
    ...(typeof amount === 'number' && Number.isSafeInteger(amount) ? { amount } : {}),
    ...(currency ? { currency } : {}),
  };
}

/** An id field that may be expanded into its object (`charge`, `payment_intent`). */
function idOf(value: unknown): string | null {
  if (typeof value === 'string' && value !== '') return value;
  return isObject(value) ? str(value, 'id') : null;
}

/**
 * PaymentIntent -> outcome. `processing`, `requires_action`, `requires_capture` and
 * `requires_confirmation` are not decisions: pending (reconciliation asks again). A PI back at
 * `requires_payment_method` after a confirm attempt, or `canceled`, has failed.
 */
export function mapPaymentIntent(object: unknown): PspOutcome {
  if (!isObject(object) || object['object'] !== 'payment_intent') throw new StripeShapeError('expected a payment_intent');
  const id = str(object, 'id');
  if (!id) throw new StripeShapeError('payment_intent without an id');
  const status = object['status'];
  const lastError = isObject(object['last_payment_error']) ? object['last_payment_error'] : null;
  const reported = money(object);
  switch (status) {
    case 'succeeded':
      return { pspReference: id, status: 'succeeded', failureCode: null, failureMessage: null, ...reported };
    case 'requires_payment_method':
      if (!lastError) return { pspReference: id, status: 'pending', failureCode: null, failureMessage: null, ...reported };
      return { pspReference: id, status: 'failed', failureCode: str(lastError, 'code') ?? 'card_declined', failureMessage: str(lastError, 'message') ?? 'The card was declined.', ...reported };
    case 'canceled':
      return { pspReference: id, status: 'failed', failureCode: 'payment_intent_canceled', failureMessage: `The PaymentIntent was canceled (${str(object, 'cancellation_reason') ?? 'no reason given'}).`, ...reported };
    case 'processing':
    case 'requires_action':
    case 'requires_capture':
    case 'requires_confirmation':
      return { pspReference: id, status: 'pending', failureCode: null, failureMessage: null, ...reported };
    default:
      throw new StripeShapeError(`unexpected payment_intent status ${JSON.stringify(status)}`);
  }
}

/** Refund -> outcome. `requires_action` waits like `pending`; `canceled` means no money moved. */
export function mapRefund(object: unknown): PspOutcome {
  if (!isObject(object) || object['object'] !== 'refund') throw new StripeShapeError('expected a refund');
  const id = str(object, 'id');
  if (!id) throw new StripeShapeError('refund without an id');
  const reported = money(object);
  switch (object['status']) {
    case 'succeeded':
      return { pspReference: id, status: 'succeeded', failureCode: null, failureMessage: null, ...reported };
    case 'failed':
      // Also a refund that failed after it succeeded (charge.refund.updated, previous status succeeded):
      // an ordinary failed report; FinCore's domain decides it is a late failure.
      return { pspReference: id, status: 'failed', failureCode: null, failureMessage: `Stripe could not carry out the refund (${str(object, 'failure_reason') ?? 'unknown'}).`, ...reported };
    case 'canceled':
      return { pspReference: id, status: 'failed', failureCode: null, failureMessage: 'The refund was canceled at Stripe.', ...reported };
    case 'pending':
    case 'requires_action':
      return { pspReference: id, status: 'pending', failureCode: null, failureMessage: null, ...reported };
    default:
      throw new StripeShapeError(`unexpected refund status ${JSON.stringify(object['status'])}`);
  }
}

/** What the SDK's StripeError carries that the mapping needs (kept structural: no SDK import). */
export interface StripeErrorLike {
  type: string;
  statusCode?: number;
  code?: string;
  message: string;
  payment_intent?: unknown;
}

export function isStripeErrorLike(error: unknown): error is StripeErrorLike {
  if (!(error instanceof Error)) return false;
  const type: unknown = (error as Error & { type?: unknown }).type;
  return typeof type === 'string' && type.startsWith('Stripe');
}

/** Refusals that retrying cannot change: the object fails with Stripe's reason. */
const PERMANENT_REQUEST_CODES = new Set(['amount_too_large', 'amount_too_small', 'charge_already_refunded', 'charge_disputed', 'resource_missing', 'parameter_invalid_integer', 'parameter_missing', 'parameter_unknown', 'invalid_request_error', 'refund_disputed_payment', 'currency_not_supported', 'payment_intent_unexpected_state']);

/**
 * A create call failed. Returns the decided outcome for a card decline (the PaymentIntent exists
 * and has failed), or throws PspPermanentError (Stripe refused the request for good) or
 * PspTransientError (the outcome is unknown or Stripe is unavailable: retry with the same key).
 */
export function outcomeOfCreateError(error: unknown, what: string): PspOutcome {
  if (!isStripeErrorLike(error)) throw new PspTransientError(`Stripe ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
  switch (error.type) {
    case 'StripeCardError': {
      const pi = isObject(error.payment_intent) ? error.payment_intent : null;
      return { pspReference: (pi && str(pi, 'id')) ?? '', status: 'failed', failureCode: error.code ?? 'card_declined', failureMessage: error.message };
    }
    case 'StripeInvalidRequestError':
      // 409 is "a request with this key is in flight": the first one decides, ask again later.
      if (error.statusCode === 409 || error.statusCode === 429) break;
      if (error.statusCode === 400 || error.statusCode === 402 || error.statusCode === 404 || (error.statusCode === undefined && error.code && PERMANENT_REQUEST_CODES.has(error.code))) {
        throw new PspPermanentError(error.code ?? 'invalid_request', error.message);
      }
      break;
    default:
      // StripeAPIError (5xx), StripeConnectionError (network, timeout), StripeRateLimitError,
      // StripeIdempotencyError (same key, other parameters: a bug to look at, never a decline),
      // StripeAuthenticationError / StripePermissionError (a key to fix): none decides the money.
      break;
  }
  throw new PspTransientError(`Stripe ${what} failed (${error.type}${error.statusCode ? ` ${error.statusCode}` : ''}${error.code ? ` ${error.code}` : ''}): ${error.message}`);
}

/** Event types FinCore acts on; everything else is acknowledged and ignored. */
const PAYMENT_INTENT_EVENTS = new Set(['payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled', 'payment_intent.processing']);
const REFUND_EVENTS = new Set(['refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated']);
const DISPUTE_EVENTS = new Set([
  'charge.dispute.created',
  'charge.dispute.updated',
  'charge.dispute.closed',
  'charge.dispute.funds_withdrawn',
  'charge.dispute.funds_reinstated',
]);

/**
 * Stripe's dispute status -> FinCore's. `won` and `lost` are final; `warning_closed` (an inquiry
 * closed without a chargeback) and `prevented` (stopped before it became one) took no money, so
 * they count as won; every other status (needs_response, under_review, warning_*, and any new one
 * Stripe adds) is open.
 */
export function disputeStatusOf(stripeStatus: string): PspDisputeReport['status'] {
  switch (stripeStatus) {
    case 'lost':
      return 'lost';
    case 'won':
    case 'warning_closed':
    case 'prevented':
      return 'won';
    default:
      return 'open';
  }
}

/** Dispute -> what FinCore records: the charge by its PaymentIntent id (FinCore's PSP id of a charge). */
export function mapDispute(object: unknown): Omit<PspDisputeReport, 'objectType'> {
  if (!isObject(object) || object['object'] !== 'dispute') throw new StripeShapeError('expected a dispute');
  const id = str(object, 'id');
  if (!id) throw new StripeShapeError('dispute without an id');
  const status = str(object, 'status');
  if (!status) throw new StripeShapeError('dispute without a status');
  const { amount, currency } = money(object);
  if (amount === undefined || currency === undefined) throw new StripeShapeError('dispute without amount or currency');
  const charge = object['charge'];
  const chargePspReference = idOf(object['payment_intent']) ?? idOf(charge);
  if (!chargePspReference) throw new StripeShapeError('dispute without a charge or payment_intent');
  // An expanded charge carries FinCore's id in its metadata (the PaymentIntent's metadata is copied to it).
  const chargeReference = isObject(charge) ? fincoreIdOf(charge) : null;
  return { pspReference: id, chargeReference, chargePspReference, amount, currency, status: disputeStatusOf(status), pspStatus: status, reason: str(object, 'reason') };
}

/**
 * A verified Stripe event -> FinCore's terms; null for an event FinCore does not act on (another
 * type, or a PaymentIntent FinCore did not create: no fincore_id in its metadata). Refunds are
 * always mapped: one made in Stripe's Dashboard has no fincore_id (reference null) and is matched
 * by its id or imported on its PaymentIntent. A refund that failed after it succeeded is an
 * ordinary failed report (FinCore's domain decides it is late).
 */
export function mapStripeEvent(event: unknown): MappedWebhookEvent | null {
  if (!isObject(event) || event['object'] !== 'event') throw new StripeShapeError('expected an event');
  const eventId = str(event, 'id');
  const type = str(event, 'type');
  const data = event['data'];
  if (!eventId || !type || !isObject(data) || !isObject(data['object'])) throw new StripeShapeError('event without id, type or data.object');
  const object = data['object'];
  if (PAYMENT_INTENT_EVENTS.has(type)) {
    const reference = fincoreIdOf(object);
    if (!reference || !reference.startsWith('ch_')) return null;
    return { eventId, type, objectType: 'charge', reference, outcome: mapPaymentIntent(object), payload: event };
  }
  if (REFUND_EVENTS.has(type)) {
    const outcome = mapRefund(object);
    const fincoreId = fincoreIdOf(object);
    const chargeId = fincoreIdOf(object, FINCORE_CHARGE_ID);
    return {
      eventId,
      type,
      objectType: 'refund',
      reference: fincoreId?.startsWith('re_') ? fincoreId : null,
      chargeReference: chargeId?.startsWith('ch_') ? chargeId : null,
      chargePspReference: idOf(object['payment_intent']),
      outcome,
      payload: event,
    };
  }
  if (DISPUTE_EVENTS.has(type)) {
    return { eventId, type, objectType: 'dispute', ...mapDispute(object), payload: event };
  }
  return null;
}

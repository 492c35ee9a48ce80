/**
 * JSON schemas for every route: they validate requests (unknown fields rejected), serialize
 * responses, and are the source of the OpenAPI document at /openapi.json.
 */
import { ATTEMPT_OBJECT_TYPES, ATTEMPT_OUTCOMES, PSP_STATUSES } from '../domain/attempts.ts';
import { DISPUTE_STATUSES } from '../domain/dispute.ts';
import { FINCORE_CHARGE_FAILURE_CODES } from '../domain/failure-codes.ts';
import { ERROR_TYPES, ParameterInvalid } from '../domain/errors.ts';
import { ERROR_CODES } from './openapi.ts';
import { EMBEDDED_REFUNDS, REFUND_ORIGINS } from '../domain/objects.ts';
import { CAUSE_TYPES, EVENT_TYPES } from '../domain/events.ts';
import type { IdPrefix } from '../domain/ids.ts';
import { ISO_8601_PATTERN, parseInstant } from '../domain/instant.ts';
import { MAX_AMOUNT, MIN_AMOUNT } from '../domain/money.ts';
import { REFUND_REASONS } from '../domain/refund.ts';
import { REVIEW_DECISIONS, REVIEW_REASONS } from '../domain/psp-report.ts';
import { CHARGE_STATUSES, REFUND_STATUSES } from '../domain/status.ts';

const timestamp = { type: 'string', format: 'date-time' } as const;
const nullableString = { type: ['string', 'null'] } as const;

export const metadataSchema = {
  type: 'object',
  description: 'Flat object of at most 20 string keys (<= 40 chars) to string values (<= 500 chars).',
  maxProperties: 20,
  propertyNames: { minLength: 1, maxLength: 40 },
  additionalProperties: { type: 'string', maxLength: 500 },
  examples: [{ order_id: '6735' }],
} as const;

/** A merchant's `reference` on a create (charges: unique per merchant; refunds: per charge; for ever). */
export const referenceSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  examples: ['order-6735-refund-1'],
} as const;

/** The `reference` list filter. */
export const referenceFilter = { type: 'string', minLength: 1, maxLength: 255, description: 'Only the object with this reference.' } as const;

export const amountSchema = {
  type: 'integer',
  minimum: MIN_AMOUNT,
  maximum: MAX_AMOUNT,
  description: "Integer in the currency's minor unit (cents for usd, yen for jpy, fils for kwd).",
  examples: [5000],
} as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['type', 'code', 'message'],
      properties: {
        type: { type: 'string', enum: ERROR_TYPES },
        code: { type: 'string', enum: ERROR_CODES, description: 'What went wrong, for programs: every code is listed in docs/API.md "Errors".', examples: ['parameter_missing'] },
        message: { type: 'string', description: 'What went wrong, for people.', examples: ['Missing required param: amount.'] },
        param: { type: 'string', description: 'The parameter at fault, when there is one.', examples: ['amount'] },
        existing_id: { type: 'string', description: 'With reference_already_used: the id of the charge or refund that has the reference.', examples: ['re_01KBQ3ZQ8Y3S6N4M2P7W5T9XHC'] },
      },
    },
  },
} as const;

/** A refund's `reason`, in a request and in the Refund object: one of REFUND_REASONS (src/domain/refund.ts) or null. */
export const refundReasonSchema = { type: ['string', 'null'], enum: [...REFUND_REASONS, null] } as const;

/** Why a charge or refund is in `requires_review` (REVIEW_REASONS, src/domain/psp-report.ts), null otherwise. */
export const reviewReasonSchema = {
  type: ['string', 'null'],
  enum: [...REVIEW_REASONS, null],
  description: 'Why the object is in requires_review (an operator decides); null in any other status.',
} as const;

/**
 * What FinCore knows about a charge's or refund's PSP call (src/domain/attempts.ts), derived from
 * its latest attempt and its job: on retrieve and list responses.
 */
const pspProgressProperties = {
  psp_status: {
    type: 'string',
    enum: PSP_STATUSES,
    description:
      'not_sent: nothing reached the PSP: no call started yet, or every call so far failed to open its connection (attempts all not_sent); sent_awaiting_answer: a call is in flight; unknown_after_timeout: the last call ended without an answer (timeout, lost response, 5xx, network) and FinCore asks again, never failing it for that; accepted: the PSP accepted it and FinCore waits for its webhook; settled: the object is no longer pending. On retrieve and list responses.',
    examples: ['accepted'],
  },
  next_check_at: { type: ['string', 'null'], format: 'date-time', description: "When FinCore next asks the PSP: its job's next run, or the reconciliation sweep (created_at + the configured FINCORE_RECONCILE_AFTER_MS, or now once that has passed); null once settled." },
} as const;

/** One PSP call for a charge or refund (GET /v1/charges/{id}/attempts, GET /v1/refunds/{id}/attempts). */
export const attemptSchema = {
  $id: 'PspAttempt',
  type: 'object',
  required: ['object', 'object_type', 'object_id', 'attempt_number', 'psp', 'idempotency_key', 'started_at', 'finished_at', 'latency_ms', 'outcome', 'psp_code', 'fincore_code', 'message'],
  properties: {
    object: { type: 'string', enum: ['psp_attempt'] },
    object_type: { type: 'string', enum: ATTEMPT_OBJECT_TYPES },
    object_id: { type: 'string', examples: ['re_01JD3Q9M4V7T2B8K6N5X3W1RZC'] },
    attempt_number: { type: 'integer', minimum: 1, description: '1 for the first call, +1 for every retry.' },
    psp: { type: 'string', examples: ['simulator'] },
    idempotency_key: { type: 'string', description: 'The Idempotency-Key sent to the PSP: always the FinCore id, so a retry can never move money twice.' },
    started_at: timestamp,
    finished_at: { type: ['string', 'null'], format: 'date-time', description: 'null while the call is in flight.' },
    latency_ms: { type: ['integer', 'null'], description: 'null while the call is in flight.' },
    outcome: {
      type: ['string', 'null'],
      enum: [...ATTEMPT_OUTCOMES, null],
      description: 'success: decided; pending: accepted, answer by webhook; decline: the PSP refused (4xx); timeout: no answer in time, or the answer was lost; server_error: 5xx (or 409/429, an unreadable answer); network: the connection failed after it was open (the request may have reached the PSP); not_sent: the connection could not be opened (refused, host not resolved, no route), so the request never left FinCore and the PSP cannot have it. null while in flight.',
    },
    psp_code: { ...nullableString, description: "What the PSP said (its error code or HTTP status), when it said something.", examples: ['HTTP 503 internal_error'] },
    fincore_code: { ...nullableString, description: "What FinCore made of it: the object's status for an answer, the failure code for a decline; null when nothing was decided.", examples: ['pending'] },
    message: nullableString,
  },
} as const;

/** The list object of an object's attempts, newest first. */
export const attemptListSchema = {
  type: 'object',
  required: ['object', 'data', 'has_more', 'url'],
  properties: {
    object: { type: 'string', enum: ['list'] },
    data: { type: 'array', items: { $ref: 'PspAttempt#' }, description: 'Newest first.' },
    has_more: { type: 'boolean', description: 'Always false: every attempt is listed.' },
    url: { type: 'string' },
  },
  examples: [
    {
      object: 'list',
      has_more: false,
      url: '/v1/refunds/re_01JD3Q9M4V7T2B8K6N5X3W1RZC/attempts',
      data: [
        { object: 'psp_attempt', object_type: 'refund', object_id: 're_01JD3Q9M4V7T2B8K6N5X3W1RZC', attempt_number: 2, psp: 'simulator', idempotency_key: 're_01JD3Q9M4V7T2B8K6N5X3W1RZC', started_at: '2026-01-05T10:00:03.000Z', finished_at: '2026-01-05T10:00:03.042Z', latency_ms: 42, outcome: 'pending', psp_code: null, fincore_code: 'pending', message: null },
        { object: 'psp_attempt', object_type: 'refund', object_id: 're_01JD3Q9M4V7T2B8K6N5X3W1RZC', attempt_number: 1, psp: 'simulator', idempotency_key: 're_01JD3Q9M4V7T2B8K6N5X3W1RZC', started_at: '2026-01-05T10:00:00.000Z', finished_at: '2026-01-05T10:00:00.020Z', latency_ms: 20, outcome: 'server_error', psp_code: 'HTTP 503 internal_error', fincore_code: null, message: 'PSP simulator POST /v1/refunds answered HTTP 503' },
      ],
    },
  ],
} as const;

export const refundSchema = {
  $id: 'Refund',
  type: 'object',
  required: ['id', 'object', 'charge_id', 'amount', 'currency', 'status', 'reason', 'metadata', 'failure_reason', 'review_reason', 'origin', 'created_at', 'updated_at'],
  properties: {
    id: { type: 'string', description: 'Prefix re_', examples: ['re_01JD3Q9M4V7T2B8K6N5X3W1RZC'] },
    object: { type: 'string', enum: ['refund'] },
    charge_id: { type: 'string', examples: ['ch_01JD3Q7Z8C2V1A6ZK5N3X4W9YT'] },
    amount: { type: 'integer', description: 'Minor units (cents for usd).', examples: [1500] },
    currency: { type: 'string', description: 'ISO 4217, lowercase.', examples: ['usd'] },
    status: { type: 'string', enum: REFUND_STATUSES },
    reason: refundReasonSchema,
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
    failure_reason: { type: ['string', 'null'], description: 'Why the refund failed, for people (the PSP\'s words or the operator\'s); null unless failed. docs/API.md "Failure codes".' },
    review_reason: reviewReasonSchema,
    origin: { type: 'string', enum: REFUND_ORIGINS, description: "api: asked for through FinCore; psp: made at the PSP (its dashboard) and imported." },
    reference: { type: ['string', 'null'], description: "The merchant's reference, unique per charge for ever; null: none given." },
    created_at: timestamp,
    updated_at: timestamp,
    ...pspProgressProperties,
  },
} as const;

export const chargeSchema = {
  $id: 'Charge',
  type: 'object',
  required: ['id', 'object', 'amount', 'currency', 'status', 'payment_method', 'description', 'metadata', 'amount_refunded', 'amount_refund_pending', 'refunded', 'failure_code', 'failure_message', 'review_reason', 'psp', 'created_at', 'updated_at'],
  properties: {
    id: { type: 'string', description: 'Prefix ch_', examples: ['ch_01JD3Q7Z8C2V1A6ZK5N3X4W9YT'] },
    object: { type: 'string', enum: ['charge'] },
    amount: { type: 'integer', description: 'Minor units (cents for usd).', examples: [5000] },
    currency: { type: 'string', description: 'ISO 4217, lowercase.', examples: ['usd'] },
    status: { type: 'string', enum: CHARGE_STATUSES },
    payment_method: { type: 'string', examples: ['pm_card_visa'] },
    description: { ...nullableString, examples: ['Order 6735'] },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
    amount_refunded: { type: 'integer', description: 'Sum of succeeded refunds.' },
    amount_refund_pending: { type: 'integer', description: 'Sum of refunds that hold part of the charge but have not moved it yet: pending and requires_review.' },
    amount_refundable: {
      type: 'integer',
      description: 'What a refund with no amount would get now (0 when a refund would be refused: see GET /v1/charges/{id}/refundability for why). On GET and POST /v1/charges/{id} only (where disputes are read), not in lists or event snapshots.',
    },
    refunded: { type: 'boolean' },
    failure_code: {
      type: ['string', 'null'],
      description: `Why the charge failed: one of FinCore's own codes (${FINCORE_CHARGE_FAILURE_CODES.join(', ')}) or the PSP's decline code as it said it (card_declined, insufficient_funds, ...); null unless failed. docs/API.md "Failure codes".`,
    },
    failure_message: nullableString,
    review_reason: reviewReasonSchema,
    psp: { type: ['string', 'null'], description: 'The PSP that took the charge (its refunds and queries go there); null: recorded before FinCore kept it.' },
    reference: { type: ['string', 'null'], description: "The merchant's reference, unique per merchant for ever; null: none given." },
    refunds: {
      type: 'object',
      description: `The charge's oldest refunds, at most ${EMBEDDED_REFUNDS}, as a list object; has_more: there are others, all listed (paged) at url. amount_refunded counts every refund.`,
      required: ['object', 'data', 'has_more', 'url'],
      properties: {
        object: { type: 'string', enum: ['list'] },
        data: { type: 'array', items: { $ref: 'Refund#' }, description: 'Oldest first.' },
        has_more: { type: 'boolean' },
        url: { type: 'string', description: '/v1/refunds?charge_id=<charge id>' },
      },
    },
    disputes: {
      type: 'array',
      description: 'GET /v1/charges/{id} only: its disputes (chargebacks), oldest first. An open one refuses refunds (charge_disputed); a lost one takes its amount out of what is refundable.',
      items: {
        type: 'object',
        required: ['id', 'object', 'charge_id', 'amount', 'currency', 'status', 'psp_status', 'reason', 'created_at', 'updated_at'],
        properties: {
          id: { type: 'string', description: 'Prefix dp_' },
          object: { type: 'string', enum: ['dispute'] },
          charge_id: { type: 'string' },
          amount: { type: 'integer', description: 'As the PSP reports it: usually the charge amount, possibly less (a partial dispute) or more (currency fluctuation).' },
          currency: { type: 'string' },
          status: { type: 'string', enum: DISPUTE_STATUSES },
          psp_status: { type: 'string', description: "The PSP's own status, as it said it (Stripe: warning_needs_response, needs_response, under_review, won, lost, ...)." },
          reason: nullableString,
          created_at: timestamp,
          updated_at: timestamp,
        },
      },
    },
    created_at: timestamp,
    updated_at: timestamp,
    ...pspProgressProperties,
  },
} as const;

export const merchantSchema = {
  $id: 'Merchant',
  type: 'object',
  required: ['id', 'object', 'name', 'api_key'],
  properties: {
    id: { type: 'string', description: 'Prefix mer_', examples: ['mer_01JD3Q5B2N8R4T6V1X3Z5K7M9P'] },
    object: { type: 'string', enum: ['merchant'] },
    name: { type: 'string', examples: ['Corner Coffee'] },
    api_key: { type: ['string', 'null'], description: 'Shown only in the first response; null in an idempotent replay.' },
  },
} as const;

export function listSchema(itemRef: string) {
  return {
    type: 'object',
    required: ['object', 'data', 'has_more'],
    properties: {
      object: { type: 'string', enum: ['list'] },
      data: { type: 'array', items: { $ref: `${itemRef}#` } },
      has_more: { type: 'boolean' },
    },
  } as const;
}

export const errorResponses = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  409: { $ref: 'Error#' },
  413: { $ref: 'Error#' },
  429: { $ref: 'Error#' },
  500: { $ref: 'Error#' },
  503: { $ref: 'Error#' },
} as const;

export const idempotencyHeader = {
  type: 'object',
  properties: {
    'idempotency-key': { type: 'string', description: '1..255 printable ASCII characters, scoped per merchant, kept at least 24 hours. The same key with the same request answers the stored response (Idempotent-Replayed: true); with a different request, 400 idempotency_key_reused.', examples: ['order-6735-charge'] },
  },
} as const;

export const paginationQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
  starting_after: { type: 'string', description: 'Id of the last object of the previous page.' },
} as const;

const ID_NAMES: Partial<Record<IdPrefix, string>> = { ch: 'a charge id', re: 'a refund id', evt: 'an event id', mer: 'a merchant id', job: 'a job id', we: 'a webhook endpoint id', whd: 'a webhook delivery id', rev: 'a review id' };

/** An id of one kind, as FinCore makes them (src/domain/ids.ts): the prefix, `_`, 26 Crockford base32 characters. */
export function idSchema(prefix: IdPrefix, description?: string) {
  return {
    type: 'string',
    pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`,
    'x-expected': `${ID_NAMES[prefix] ?? `an id`} (${prefix}_ followed by 26 characters)`,
    ...(description === undefined ? {} : { description }),
  } as const;
}

/**
 * `limit` and a `starting_after` cursor that must be an id of the listed kind: a malformed
 * cursor is a 400 `parameter_invalid` (it used to be compared as text and silently gave the
 * first page, or none). A well-formed id that does not exist is a position: the page after it.
 */
export function pageQuery(prefix: IdPrefix) {
  return { limit: paginationQuery.limit, starting_after: idSchema(prefix, 'Id of the last object of the previous page.') } as const;
}

/**
 * A merchant list's page query: `limit`, and a cursor either way, Stripe's: `starting_after`
 * (older objects) or `ending_before` (newer ones), not both. Malformed cursors are a 400.
 */
export function merchantPageQuery(prefix: IdPrefix) {
  return {
    ...pageQuery(prefix),
    ending_before: idSchema(prefix, 'Id of the first object of the next page (newer objects): pages backwards. Not with starting_after.'),
  } as const;
}

/** The cursor of a merchant list request; both given is a 400 (Stripe refuses it too). */
export function pageCursor(query: { starting_after?: string; ending_before?: string }): { startingAfter?: string; endingBefore?: string } {
  if (query.starting_after !== undefined && query.ending_before !== undefined) {
    throw new ParameterInvalid('starting_after and ending_before cannot be used together: page one way at a time.', 'ending_before');
  }
  return { startingAfter: query.starting_after, endingBefore: query.ending_before };
}

/** A list's `status` filter: one of the object's statuses (an unknown one is a 400, not an empty list). */
export function statusFilter(statuses: readonly string[], description: string) {
  return { type: 'string', enum: statuses, description } as const;
}

/** GET /v1/charges/{id}/refundability. */
export const refundabilitySchema = {
  type: 'object',
  required: ['object', 'charge_id', 'refundable', 'amount_refundable', 'amount_requested', 'error', 'rules'],
  properties: {
    object: { type: 'string', enum: ['refundability'] },
    charge_id: { type: 'string', examples: ['ch_01JD3Q7Z8C2V1A6ZK5N3X4W9YT'] },
    refundable: { type: 'boolean', description: 'Whether POST /v1/refunds (with ?amount, that amount; else none) would be accepted now.' },
    amount_refundable: { type: 'integer', description: 'What a refund with no amount would get now; 0 when none would be accepted.', examples: [3500] },
    amount_requested: { type: ['integer', 'null'], description: 'The ?amount asked about, else null.' },
    error: {
      type: ['object', 'null'],
      description: 'The contract error POST /v1/refunds would get now (same code and message); null when it would be accepted.',
      required: ['code', 'message'],
      properties: { code: { type: 'string', enum: ERROR_CODES, examples: ['charge_disputed'] }, message: { type: 'string' } },
    },
    rules: {
      type: 'object',
      description: 'The facts the answer was decided on.',
      required: ['currency', 'exponent', 'smallest_unit', 'charge_status', 'open_dispute', 'lost_to_disputes', 'reserved'],
      properties: {
        currency: { type: 'string', examples: ['usd'] },
        exponent: { type: 'integer', description: 'ISO 4217 minor-unit exponent: amounts are integers of 10^-exponent of the currency.', examples: [2] },
        smallest_unit: { type: 'string', description: 'The smallest refundable amount (1 minor unit) in major units.', examples: ['0.01'] },
        charge_status: { type: 'string', enum: CHARGE_STATUSES, description: 'Only a succeeded charge is refundable.' },
        open_dispute: { type: 'boolean', description: 'An open dispute refuses every refund (charge_disputed).' },
        lost_to_disputes: { type: 'integer', description: 'What lost disputes took back: no longer refundable.' },
        reserved: { type: 'integer', description: 'What refunds hold: pending, requires_review and succeeded ones.' },
      },
    },
  },
} as const;

/** POST /v1/charges/{id} and /v1/refunds/{id}: metadata to merge (a key set to "" is removed). */
export const metadataUpdateSchema = {
  anyOf: [metadataSchema, { type: 'string', enum: [''], description: 'The empty string: every key removed.' }],
  description: 'Merged into the object\'s metadata: keys given are set, a key given "" is removed, keys not given stay; or metadata "" (the empty string itself) removes every key (Stripe\'s convention). At most 20 keys after the merge.',
  'x-expected': 'an object of string keys (1-40 characters) to string values (at most 500 characters; "" removes the key), or "" to remove every key',
  examples: [{ order_id: '6735', note: '' }, ''],
} as const;

/** The events list's `type` filter: one of the types FinCore writes (an unknown one is a 400, not an empty list). */
export const eventTypeFilter = { type: 'string', enum: EVENT_TYPES, description: 'Only events of this type, e.g. refund.succeeded.' } as const;

/** What an event's `data.object_type` names (the events.object_type values, src/db/events.ts EventRow). */
export const EVENT_OBJECT_TYPES = ['charge', 'refund', 'job', 'merchant', 'reconciliation', 'webhook_endpoint', 'review', 'dispute', 'psp_event'] as const;

export const eventSchema = {
  $id: 'Event',
  type: 'object',
  required: ['id', 'object', 'type', 'sequence', 'data', 'cause', 'created_at'],
  properties: {
    id: { type: 'string', description: 'Prefix evt_' },
    object: { type: 'string', enum: ['event'] },
    type: { type: 'string', enum: EVENT_TYPES, description: EVENT_TYPES.join(', ') },
    sequence: { type: 'integer', description: "The object's change number: 1 at creation, +1 per change. Keep the highest seen; drop older deliveries." },
    data: {
      type: 'object',
      required: ['object_type', 'object_id', 'object'],
      properties: {
        object_type: { type: 'string', enum: EVENT_OBJECT_TYPES },
        object_id: { type: 'string' },
        object: { type: 'object', additionalProperties: true, description: 'Snapshot of the object right after the change.' },
        previous_attributes: {
          type: 'object',
          additionalProperties: true,
          description: 'The attributes the change replaced, with their values before it (e.g. { "status": "succeeded" } on a refund.failed that came after success); absent when the event records no change of attributes.',
        },
      },
    },
    cause: {
      type: 'object',
      required: ['type', 'id', 'idempotency_key'],
      properties: {
        type: { type: 'string', enum: CAUSE_TYPES },
        id: { type: 'string', description: 'Request id (req_), job id (job_), PSP event id, or reconciliation sweep (recon_).' },
        idempotency_key: nullableString,
      },
    },
    created_at: timestamp,
  },
} as const;

/** Query filters `created[gte]` / `created[lte]`: ISO 8601, checked by pattern and then as a real date. */
export const ISO_8601 = ISO_8601_PATTERN;

const INSTANT_WORDS = 'an ISO 8601 date or date-time, e.g. 2026-11-29 or 2026-11-29T10:00:00Z (no zone: UTC)';

/** A `created[gte]` / `created[lte]` filter's schema. */
export function instantFilter(description: string) {
  return { type: 'string', pattern: ISO_8601_PATTERN, 'x-expected': INSTANT_WORDS, description } as const;
}

/** The `created[gte]` / `created[lte]` query filters of the merchant lists (charges, refunds, events). */
export const createdFilterQuery = {
  'created[gte]': instantFilter('Created at or after (ISO 8601, e.g. 2026-11-29T10:00:00Z; no zone: UTC).'),
  'created[lte]': instantFilter('Created at or before (ISO 8601).'),
} as const;

/** What a merchant list's `created[...]` filters name (createdFilterQuery), each checked by instant(). */
export function createdFilter(query: { 'created[gte]'?: string; 'created[lte]'?: string }): { createdGte: Date | undefined; createdLte: Date | undefined } {
  return { createdGte: instant(query['created[gte]'], 'created[gte]'), createdLte: instant(query['created[lte]'], 'created[lte]') };
}

/** A timestamp filter that matched the pattern but names no real instant (2026-02-30, 2026-13-45, 24:00) is refused too. */
export function instant(value: string | undefined, param: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = parseInstant(value);
  if (!at) throw new ParameterInvalid(`Invalid ${param}: '${value}' is not a real date and time; expected ${INSTANT_WORDS}.`, param);
  return at;
}

/** A review item (admin API, GET /v1/admin/reviews): a PSP report FinCore could not apply safely, in front of an operator. */
export const reviewSchema = {
  $id: 'Review',
  type: 'object',
  required: ['id', 'object', 'merchant_id', 'object_type', 'object_id', 'psp_event_id', 'reason', 'status', 'status_before', 'psp', 'details', 'decision', 'note', 'created_at', 'resolved_at'],
  properties: {
    id: { type: 'string', description: 'Prefix rev_' },
    object: { type: 'string', enum: ['review'] },
    merchant_id: nullableString,
    object_type: { type: ['string', 'null'], enum: ['charge', 'refund', null], description: 'The object in review; null for a PSP event FinCore could not tie to an object.' },
    object_id: nullableString,
    psp_event_id: { type: ['string', 'null'], description: 'The stored PSP event that opened the review, if one did.' },
    reason: { type: 'string', enum: REVIEW_REASONS },
    status: { type: 'string', enum: ['open', 'resolved'] },
    status_before: { type: ['string', 'null'], description: "The object's status when the review opened (what FinCore held)." },
    psp: {
      type: 'object',
      required: ['status', 'amount', 'currency'],
      description: 'What the PSP said.',
      properties: { status: nullableString, amount: { type: ['integer', 'null'] }, currency: nullableString },
    },
    details: {
      type: 'object',
      additionalProperties: true,
      description: "FinCore's and the PSP's view side by side (amount, currency, status, PSP reference).",
      properties: {
        fincore: {
          type: 'object',
          additionalProperties: true,
          description: 'What FinCore held.',
          properties: { amount: { type: ['integer', 'null'] }, currency: { type: ['string', 'null'] }, status: { type: ['string', 'null'] } },
        },
        psp: { type: 'object', additionalProperties: true, description: 'What the PSP said (status, amount, currency, psp_reference).' },
      },
    },
    decision: { type: ['string', 'null'], enum: [...REVIEW_DECISIONS, null] },
    note: { type: ['string', 'null'], description: "The operator's note, once resolved." },
    created_at: timestamp,
    resolved_at: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

/** Longest operator note on a review resolution. */
export const MAX_REVIEW_NOTE = 1000;

export const resolveReviewBody = {
  type: 'object',
  additionalProperties: false,
  examples: [{ decision: 'accept_psp', note: 'The PSP dashboard shows the refund succeeded; the customer was credited.' }],
  required: ['decision', 'note'],
  properties: {
    decision: { type: 'string', enum: REVIEW_DECISIONS, examples: ['accept_psp'], description: "accept_psp: the object takes the PSP's status; keep_fincore: it goes back to the status FinCore held before the review." },
    note: { type: 'string', minLength: 1, maxLength: MAX_REVIEW_NOTE, pattern: '\\S', 'x-expected': `a note of 1 to ${MAX_REVIEW_NOTE} characters, not only spaces`, description: 'Why: kept with the review and in the review.resolved event.' },
  },
} as const;

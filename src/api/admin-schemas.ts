/**
 * Response schemas of the operator API (admin key): what the dashboard reads, described once
 * here so the OpenAPI document (and the client types generated from it) carries them. Every
 * object keeps `additionalProperties: true`: these schemas also serialize the answers, and a
 * field added to a flow must never be dropped silently by a schema that did not list it yet.
 */
import { CHARGE_STATUSES, REFUND_STATUSES } from '../domain/status.ts';
import { chargeSchema, refundSchema } from './schemas.ts';

const int = { type: 'integer' } as const;
const timestamp = { type: 'string', format: 'date-time' } as const;
const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' } as const;
const open = { type: 'object', additionalProperties: true } as const;

/** One count per status of `statuses` (src/domain/status.ts), each required: a status is never left out. */
function statusCounts<S extends string>(statuses: readonly S[], description: string) {
  return { ...open, description, required: statuses, properties: Object.fromEntries(statuses.map((status) => [status, int])) as Record<S, typeof int> };
}

/** A webhook endpoint's deliveries by outcome. */
const deliveryCounts = { ...open, required: ['pending', 'succeeded', 'failed'], properties: { pending: int, succeeded: int, failed: int } } as const;

export const overviewSchema = {
  $id: 'Overview',
  ...open,
  required: ['object', 'merchants', 'charges', 'refunds', 'volume', 'queue', 'audit'],
  properties: {
    object: { type: 'string', enum: ['overview'] },
    merchants: int,
    charges: statusCounts(CHARGE_STATUSES, 'Charges by status, every status listed (0 when none).'),
    refunds: statusCounts(REFUND_STATUSES, 'Refunds by status, every status listed (0 when none), canceled and requires_review included.'),
    volume: {
      type: 'array',
      description: 'Money by currency, minor units: charged (succeeded charges), refunded (succeeded refunds), refund_pending.',
      items: { ...open, required: ['currency', 'charged', 'refunded', 'refund_pending'], properties: { currency: { type: 'string' }, charged: int, refunded: int, refund_pending: int } },
    },
    queue: { ...open, required: ['queued', 'running', 'dead', 'oldest_due_age_seconds'], properties: { queued: int, running: int, dead: int, oldest_due_age_seconds: { type: ['number', 'null'] } } },
    audit: { ...open, required: ['pending_seal'], properties: { pending_seal: int } },
  },
} as const;

export const statsSchema = {
  $id: 'Stats',
  ...open,
  required: ['object', 'at', 'requests_total', 'charges_created_total', 'refunds_created_total', 'refunds_settled_total', 'settle_latency_ms', 'queue_depth'],
  properties: {
    object: { type: 'string', enum: ['stats'] },
    at: timestamp,
    requests_total: { ...int, description: 'Requests this process answered since it started.' },
    charges_created_total: int,
    refunds_created_total: int,
    refunds_settled_total: int,
    settle_latency_ms: {
      ...open,
      required: ['p50', 'p99', 'count', 'window_seconds'],
      properties: { p50: { type: ['number', 'null'] }, p99: { type: ['number', 'null'] }, count: int, window_seconds: int },
    },
    queue_depth: int,
  },
} as const;

export const adminMerchantSchema = {
  $id: 'AdminMerchant',
  ...open,
  required: ['id', 'object', 'name', 'created_at'],
  properties: { id: { type: 'string' }, object: { type: 'string', enum: ['merchant'] }, name: { type: 'string' }, created_at: timestamp },
} as const;

/** A charge in the operator's lists: the Charge object and its merchant. */
export const adminChargeSchema = {
  $id: 'AdminCharge',
  ...open,
  required: chargeSchema.required,
  properties: { ...chargeSchema.properties, merchant_id: { type: 'string' } },
} as const;

/** A refund in the operator's lists: the Refund object and its merchant. */
export const adminRefundSchema = {
  $id: 'AdminRefund',
  ...open,
  required: refundSchema.required,
  properties: { ...refundSchema.properties, merchant_id: { type: 'string' } },
} as const;

export const ledgerEntrySchema = {
  $id: 'LedgerEntry',
  ...open,
  required: ['id', 'event_id', 'movement', 'account', 'currency', 'amount', 'refund_id', 'created_at'],
  properties: {
    id: int,
    event_id: { type: 'string' },
    movement: { type: 'string' },
    account: { type: 'string' },
    currency: { type: 'string' },
    amount: { ...int, description: 'Minor units; positive: debit, negative: credit.' },
    charge_id: { type: 'string' },
    refund_id: { type: ['string', 'null'] },
    created_at: timestamp,
  },
} as const;

export const chargeDetailSchema = {
  $id: 'ChargeDetail',
  ...open,
  required: ['object', 'merchant_id', 'merchant_name', 'charge', 'refundable_amount', 'ledger', 'events', 'attempts'],
  properties: {
    object: { type: 'string', enum: ['charge_detail'] },
    merchant_id: { type: 'string' },
    merchant_name: { type: 'string' },
    charge: { ...open, required: chargeSchema.required, properties: chargeSchema.properties, description: 'The Charge object with its oldest refunds (up to 100) and its disputes.' },
    refundable_amount: { ...int, description: 'What a refund may still take (0 unless succeeded).' },
    ledger: { type: 'array', items: { $ref: 'LedgerEntry#' }, description: 'Postings of the charge and of the refunds shown.' },
    events: { type: 'array', items: { $ref: 'Event#' }, description: 'Events of the charge and of the refunds shown, oldest first.' },
    attempts: { type: 'array', items: { $ref: 'PspAttempt#' }, description: 'The PSP calls made for the charge and for the refunds shown, newest first: the public PSP attempt object (GET /v1/charges/{id}/attempts).' },
  },
} as const;

export const jobSchema = {
  $id: 'Job',
  ...open,
  required: ['id', 'object', 'job_type', 'ref', 'status', 'attempts', 'max_attempts', 'last_error', 'run_at', 'created_at', 'updated_at'],
  properties: {
    id: { type: 'string', description: 'Prefix job_' },
    object: { type: 'string', enum: ['job'] },
    job_type: { type: 'string' },
    ref: { type: 'string', description: 'The id the job works on.' },
    status: { type: 'string' },
    attempts: int,
    max_attempts: int,
    last_error: { type: ['string', 'null'] },
    run_at: timestamp,
    created_at: timestamp,
    updated_at: timestamp,
  },
} as const;

export const adminWebhookEndpointSchema = {
  $id: 'AdminWebhookEndpoint',
  ...open,
  required: ['id', 'object', 'merchant_id', 'url', 'enabled_events', 'status', 'created_at', 'deliveries', 'last_delivery_at'],
  properties: {
    id: { type: 'string' },
    object: { type: 'string', enum: ['webhook_endpoint'] },
    merchant_id: { type: 'string' },
    url: { type: 'string' },
    enabled_events: { type: 'array', items: { type: 'string' } },
    status: { type: 'string' },
    created_at: timestamp,
    deliveries: deliveryCounts,
    last_delivery_at: nullableTimestamp,
  },
} as const;

export const ADMIN_SCHEMAS = [overviewSchema, statsSchema, adminMerchantSchema, adminChargeSchema, adminRefundSchema, ledgerEntrySchema, chargeDetailSchema, jobSchema, adminWebhookEndpointSchema] as const;

// Shapes of the admin API's answers (API.md and the admin API spec), as the dashboard reads them.

export type Status = 'pending' | 'succeeded' | 'failed' | 'requires_review';

export interface List<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

export interface StatusCounts {
  pending: number;
  succeeded: number;
  failed: number;
}

export interface Overview {
  object: 'overview';
  merchants: number;
  charges: StatusCounts;
  refunds: StatusCounts;
  volume: { currency: string; charged: number; refunded: number; refund_pending: number }[];
  queue: { queued: number; running: number; dead: number; oldest_due_age_seconds: number | null };
  audit: { pending_seal: number };
}

export interface Stats {
  object: 'stats';
  at: string;
  requests_total: number;
  charges_created_total: number;
  refunds_created_total: number;
  refunds_settled_total: number;
  settle_latency_ms: { p50: number | null; p99: number | null; count: number; window_seconds: number };
  queue_depth: number;
}

export interface Merchant {
  id: string;
  object: 'merchant';
  name: string;
  created_at: string;
}

export interface Refund {
  id: string;
  object: 'refund';
  charge_id: string;
  merchant_id?: string;
  amount: number;
  currency: string;
  status: Status;
  reason: string | null;
  failure_reason: string | null;
  /** Why it is in requires_review, else null. */
  review_reason: string | null;
  /** 'api': asked for through FinCore; 'psp': made at the PSP and imported. */
  origin: 'api' | 'psp';
  created_at: string;
  updated_at: string;
}

export interface Charge {
  id: string;
  object: 'charge';
  merchant_id?: string;
  amount: number;
  currency: string;
  status: Status;
  payment_method: string;
  description: string | null;
  amount_refunded: number;
  refunded: boolean;
  failure_code: string | null;
  failure_message: string | null;
  /** Why it is in requires_review, else null. */
  review_reason: string | null;
  /** The PSP that took the charge; null: from before FinCore recorded it. */
  psp: string | null;
  /** The oldest refunds (10 in lists, 100 on the charge detail); has_more: there are others, at url. */
  refunds?: RefundList;
  created_at: string;
  updated_at: string;
}

export interface RefundList {
  object: 'list';
  data: Refund[];
  has_more: boolean;
  url: string;
}

export interface LedgerEntry {
  id: string;
  event_id: string;
  movement: string;
  account: string;
  currency: string;
  amount: number;
  refund_id: string | null;
  created_at: string;
}

export interface EventCause {
  type: string;
  id: string | null;
  idempotency_key?: string | null;
}

export interface FinCoreEvent {
  id: string;
  object: 'event';
  type: string;
  sequence: number;
  data: { object_type: string; object_id: string; object: Record<string, unknown> };
  cause: EventCause;
  created_at: string;
}

export interface ChargeDetail {
  object: 'charge_detail';
  merchant_id: string;
  merchant_name: string;
  charge: Charge;
  refundable_amount: number;
  /** Postings of the charge and of the refunds shown. */
  ledger: LedgerEntry[];
  /** Events of the charge and of the refunds shown. */
  events: FinCoreEvent[];
}

export interface Job {
  id: string;
  object: 'job';
  job_type: string;
  ref: string;
  status: string;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  run_at: string;
  created_at: string;
  updated_at: string;
}

export interface WebhookEndpoint {
  id: string;
  object: 'webhook_endpoint';
  merchant_id: string;
  url: string;
  enabled_events: string[];
  status: string;
  created_at: string;
  deliveries: StatusCounts;
  last_delivery_at: string | null;
}

/** A review item (GET /v1/admin/reviews): a PSP report FinCore could not apply safely. */
export interface Review {
  id: string;
  object: 'review';
  merchant_id: string | null;
  object_type: 'charge' | 'refund' | null;
  object_id: string | null;
  psp_event_id: string | null;
  reason: string;
  status: 'open' | 'resolved';
  /** The object's status when the review opened (what FinCore held). */
  status_before: string | null;
  /** What the PSP said. */
  psp: { status: string | null; amount: number | null; currency: string | null };
  /** details.fincore: what FinCore asked for ({ amount, currency, status }); details.psp: the PSP's side. */
  details: { fincore?: { amount?: number; currency?: string; status?: string }; psp?: Record<string, unknown>; [k: string]: unknown };
  decision: 'accept_psp' | 'keep_fincore' | null;
  note: string | null;
  created_at: string;
  resolved_at: string | null;
}

export const REVIEW_DECISIONS = ['accept_psp', 'keep_fincore'] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];

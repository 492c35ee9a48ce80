/**
 * The PSP Gateway: the one interface every payment service provider adapter implements.
 * Flows talk to a PSP only through this. Every call that moves money carries an idempotency
 * key equal to the FinCore object id, so a retried job can never charge or refund twice.
 */

/** What the PSP says about one charge or refund. `pending` means "not decided yet". */
export interface PspOutcome {
  /** The PSP's own id for the object (PSP reference). */
  pspReference: string;
  status: 'pending' | 'succeeded' | 'failed';
  /** For a failed charge: machine code such as `card_declined`. For a failed refund: null. */
  failureCode: string | null;
  /** Human-readable reason for a failure (charge failure_message / refund failure_reason). */
  failureMessage: string | null;
}

export interface CreateChargeRequest {
  /** FinCore charge id (`ch_...`); also the idempotency key at the PSP. */
  reference: string;
  amount: number;
  currency: string;
  paymentMethod: string;
}

export interface CreateRefundRequest {
  /** FinCore refund id (`re_...`); also the idempotency key at the PSP. */
  reference: string;
  /** FinCore charge id the refund belongs to. */
  chargeReference: string;
  /** The PSP's id of the charge, when FinCore has recorded it. */
  chargePspReference: string | null;
  amount: number;
  currency: string;
}

/** A verified inbound PSP webhook, mapped to FinCore's terms. */
export interface PspWebhookEvent {
  /** The PSP's unique event id (deduplication key). */
  eventId: string;
  /** e.g. `charge.succeeded`, `refund.failed`. */
  type: string;
  objectType: 'charge' | 'refund';
  /** FinCore id of the object (`ch_...` / `re_...`). */
  reference: string;
  outcome: PspOutcome;
  /** The event exactly as received, kept in the inbox. */
  payload: unknown;
}

/** The PSP refused the request and retrying will not change that (4xx). The object fails. */
export class PspPermanentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PspPermanentError';
  }
}

/** The outcome is unknown or the PSP is unavailable (5xx, timeout, network). Retry later. */
export class PspTransientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PspTransientError';
  }
}

/**
 * A webhook that verified but carries nothing FinCore acts on (another event type, or an object
 * FinCore did not create). Acknowledged, so the PSP stops resending it, and otherwise ignored.
 */
export class IgnoredWebhookEvent extends Error {
  constructor(
    readonly eventId: string,
    readonly type: string,
  ) {
    super(`event ${eventId} (${type}) is not one FinCore acts on`);
    this.name = 'IgnoredWebhookEvent';
  }
}

/** What FinCore knows when it asks the PSP about an object (reconciliation). */
export interface PspLookup {
  /** FinCore id (`ch_...` / `re_...`). */
  reference: string;
  /** The PSP's id of the object, when recorded. */
  pspReference: string | null;
  /** For a refund: the PSP's id of its charge, when recorded. */
  chargePspReference?: string | null;
}

/** A webhook whose signature or timestamp did not verify. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

export interface PspGateway {
  readonly name: string;
  /** Where this PSP's webhooks arrive (`/v1/webhooks/...`) and the header carrying their signature. */
  readonly webhook: { path: string; signatureHeader: string };
  /** Whether FinCore should accept this payment_method at charge creation. */
  supportsPaymentMethod(paymentMethod: string): boolean;
  createCharge(request: CreateChargeRequest): Promise<PspOutcome>;
  createRefund(request: CreateRefundRequest): Promise<PspOutcome>;
  /** null when the PSP has never seen this reference. */
  getCharge(lookup: PspLookup): Promise<PspOutcome | null>;
  getRefund(lookup: PspLookup): Promise<PspOutcome | null>;
  /**
   * Verifies signature and timestamp on the raw body BEFORE anything is parsed, then maps the
   * event. Throws WebhookVerificationError when it does not verify, IgnoredWebhookEvent when
   * it verifies but is not for FinCore.
   */
  verifyWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>, nowMs: number): PspWebhookEvent;
}

import { createHash } from 'node:crypto';
import type { PspFailureKind } from '../domain/attempts.ts';

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
  /**
   * The amount (minor units) and currency the PSP says the object is for, when its report says:
   * compared with what FinCore asked for, and a difference is a review item, never applied.
   */
  amount?: number | null;
  currency?: string | null;
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

/** What a verified PSP event says about a charge or refund. */
export interface PspObjectReport {
  objectType: 'charge' | 'refund';
  /**
   * FinCore id of the object (`ch_...` / `re_...`) when the PSP object carries it (FinCore sends
   * its id as metadata and idempotency key); null for an object made at the PSP (a refund from
   * its dashboard), matched by `pspReference` or imported.
   */
  reference: string | null;
  /** For a refund: its charge, by FinCore id when the PSP object carries it, and by the PSP's id. */
  chargeReference?: string | null;
  chargePspReference?: string | null;
  /** Status, the PSP's id (outcome.pspReference), and the amount and currency the PSP reports. */
  outcome: PspOutcome;
}

/** What a verified PSP event says about a dispute (chargeback) of a charge. */
export interface PspDisputeReport {
  objectType: 'dispute';
  /** The PSP's id of the dispute. */
  pspReference: string;
  chargeReference: string | null;
  chargePspReference: string | null;
  amount: number;
  currency: string;
  /** FinCore's status (src/domain/dispute.ts) and the PSP's own, kept as it said it. */
  status: 'open' | 'won' | 'lost';
  pspStatus: string;
  reason: string | null;
}

/** A verified inbound PSP webhook, mapped to FinCore's terms. */
export type PspWebhookEvent = {
  /** The PSP's unique event id (deduplication key). */
  eventId: string;
  /** The PSP's event type as sent, e.g. `charge.refund.updated`, `refund.failed`. */
  type: string;
  /** The event exactly as received, kept in the inbox. */
  payload: unknown;
  /** Fingerprint of the secret whose signature matched (secretFingerprint), kept for audit. */
  secretFingerprint: string;
} & (PspObjectReport | PspDisputeReport);

/** What an adapter's pure mapping makes of a verified event, before the verifier adds its part. */
export type MappedWebhookEvent = PspWebhookEvent extends infer E ? (E extends unknown ? Omit<E, 'secretFingerprint'> : never) : never;

/**
 * A short, stable fingerprint of a webhook secret: the audit trail records which secret verified
 * each PSP event (after a rotation, or a leak, an operator can tell) without storing the secret.
 */
export function secretFingerprint(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 16)}`;
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

/**
 * The outcome is unknown or the PSP is unavailable (5xx, timeout, network). Retry later.
 * `kind` (src/domain/attempts.ts PSP_FAILURE_KINDS) classes the attempt in the history: `timeout`
 * (no answer in time, or the answer lost), `server_error` (5xx, 409/429, an unreadable answer),
 * `network` (the connection failed after it was open), `not_sent` (it could not be opened: the
 * request never left FinCore, the one kind after which the PSP is known to have nothing).
 * `pspCode`: what the PSP said, when it said something.
 */
export class PspTransientError extends Error {
  constructor(
    message: string,
    readonly kind: PspFailureKind = 'network',
    readonly pspCode: string | null = null,
  ) {
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

/**
 * A webhook whose signature verified but whose content FinCore cannot read (not JSON, not the
 * PSP's event shape, or text PostgreSQL cannot store such as NUL). The PSP did send it, so it is
 * kept and acknowledged: answering 4xx/5xx would have the PSP resend the same bytes for days.
 */
export class MalformedWebhookEvent extends Error {
  constructor(
    readonly reason: string,
    readonly secretFingerprint: string,
  ) {
    super(`signed webhook is unreadable: ${reason}`);
    this.name = 'MalformedWebhookEvent';
  }
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
   * it verifies but is not for FinCore, MalformedWebhookEvent when it verifies but is unreadable.
   */
  verifyWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>, nowMs: number): PspWebhookEvent;
}

/** A verified event about a charge or refund (not a dispute). */
export type PspObjectEvent = PspWebhookEvent & PspObjectReport;

export function isObjectEvent(event: PspWebhookEvent): event is PspObjectEvent {
  return event.objectType !== 'dispute';
}

/**
 * The charge `failure_code` values FinCore itself writes, declared once (docs/API.md "Failure
 * codes" lists the same; a test compares). Any other value is the PSP's own decline code, passed
 * through as it said it (card_declined, insufficient_funds, expired_card, ...).
 */
export const FINCORE_CHARGE_FAILURE_CODES = [
  // The PSP failed the charge without a code.
  'processing_error',
  // An operator failed the charge in review (POST /v1/admin/reviews/{id}/resolve).
  'resolved_in_review',
  // Stripe: the PaymentIntent was canceled.
  'payment_intent_canceled',
] as const;

export type FincoreChargeFailureCode = (typeof FINCORE_CHARGE_FAILURE_CODES)[number];

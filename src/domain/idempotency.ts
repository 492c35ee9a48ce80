/** Bounds of the Idempotency-Key contract (API.md "Idempotency"), declared once. */

/** 1 to 255 printable ASCII characters. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/** How long a stored answer counts: 24 hours by default, never less (the contract promises 24 h). */
export const IDEMPOTENCY_TTL_HOURS = { default: 24, min: 24, max: 24 * 365 } as const;

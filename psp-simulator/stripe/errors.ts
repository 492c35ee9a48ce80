/**
 * Stripe's error envelope: `{ "error": { "type", "code", "message", "param", ... } }` with the HTTP
 * status the official SDK maps to its error classes (400/404 StripeInvalidRequestError or, for
 * type idempotency_error, StripeIdempotencyError; 401 StripeAuthenticationError; 402
 * StripeCardError; anything else StripeAPIError).
 */

export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  charge?: string;
  /** On a card error: the PaymentIntent as it stands after the decline. */
  payment_intent?: object;
  payment_method?: object;
}

export class StripeApiError extends Error {
  /**
   * `replayable`: the endpoint had begun executing, so Stripe stores this answer under the
   * Idempotency-Key and replays it (a decline, amount_too_large). Parameter validation errors
   * are not stored: the same key may be retried with corrected parameters.
   */
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    readonly replayable = false,
  ) {
    super(body.message);
  }
}

function withDocUrl(body: StripeErrorBody): StripeErrorBody {
  return body.code === undefined ? body : { ...body, doc_url: `https://stripe.com/docs/error-codes/${body.code.replace(/_/g, '-')}` };
}

export function invalidRequest(
  message: string,
  details: { code?: string; param?: string; status?: number; replayable?: boolean } = {},
): StripeApiError {
  const body: StripeErrorBody = { type: 'invalid_request_error', message };
  if (details.code !== undefined) body.code = details.code;
  if (details.param !== undefined) body.param = details.param;
  return new StripeApiError(details.status ?? 400, withDocUrl(body), details.replayable ?? false);
}

/** `No such payment_intent: 'pi_x'`: 404 when the id is in the URL, 400 when it is a parameter. */
export function resourceMissing(resource: string, id: string, param: string, status: 400 | 404): StripeApiError {
  return invalidRequest(`No such ${resource}: '${id}'`, { code: 'resource_missing', param, status });
}

export function cardDeclined(body: Omit<StripeErrorBody, 'type'>): StripeApiError {
  return new StripeApiError(402, withDocUrl({ type: 'card_error', ...body }), true);
}

export function idempotencyError(status: 400 | 409, message: string, code?: string): StripeApiError {
  const body: StripeErrorBody = { type: 'idempotency_error', message };
  if (code !== undefined) body.code = code;
  return new StripeApiError(status, withDocUrl(body));
}

export function apiError(message: string): StripeApiError {
  return new StripeApiError(500, { type: 'api_error', message });
}

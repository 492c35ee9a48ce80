/**
 * PspGateway adapter for Stripe, on the official `stripe` SDK with a pinned API version.
 * - charge = PaymentIntent created and confirmed at once with the charge's payment_method;
 * - refund = Refund on that PaymentIntent;
 * - every create carries Idempotency-Key = the FinCore id, and metadata.fincore_id = the same,
 *   so a retried job can never move money twice and every Stripe object points back to FinCore;
 * - errors are sorted into decided (card declined), permanent and transient in mapping.ts;
 * - webhooks are verified by the SDK on the raw body (tolerance 300 s).
 * STRIPE_API_BASE points the SDK at a Stripe-compatible server (FinCore's simulator in tests).
 */
import Stripe from 'stripe';
import { unstorableText } from '../../domain/text.ts';
import {
  IgnoredWebhookEvent,
  MalformedWebhookEvent,
  PspTransientError,
  secretFingerprint,
  WebhookVerificationError,
  type CreateChargeRequest,
  type CreateRefundRequest,
  type PspGateway,
  type PspLookup,
  type PspOutcome,
  type MappedWebhookEvent,
  type PspWebhookEvent,
} from '../gateway.ts';
import { FINCORE_CHARGE_ID, FINCORE_ID, StripeShapeError, isStripeErrorLike, mapPaymentIntent, mapRefund, mapStripeEvent, outcomeOfCreateError, type StripeErrorLike } from './mapping.ts';

/** The Stripe API version FinCore is written and tested against (the SDK's own pin). */
export const STRIPE_API_VERSION = '2026-10-28.endive';
export const STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300;

export interface StripeGatewayOptions {
  secretKey: string;
  webhookSecret: string;
  /** e.g. `http://127.0.0.1:4010` for a Stripe-compatible server; empty: api.stripe.com. */
  apiBase?: string;
  timeoutMs: number;
}

function connection(apiBase: string | undefined): { host?: string; port?: number; protocol?: 'http' | 'https' } {
  if (!apiBase) return {};
  const url = new URL(apiBase);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port ? Number(url.port) : protocol === 'http' ? 80 : 443, protocol };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Connection errors stripe-node raises while opening the connection, before the request is
 * written. The SDK (NodeHttpClient) passes node's error through as StripeConnectionError.detail,
 * but does not say whether the request had been written when an error came, so only codes that
 * cannot come from an open connection count: refused, and the host name not resolved (the DNS
 * lookup precedes the connection). EHOSTUNREACH / ENETUNREACH can also end an open connection
 * (and a TLS handshake failure comes after connecting): those stay `network`, unknown.
 */
const NOT_CONNECTED_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * The connection to Stripe was never opened, so the request never left FinCore. stripe-node
 * retries a closed connection (ECONNRESET, EPIPE) once even with maxNetworkRetries 0: a refused
 * retry after a request that was written says nothing about the first one. Its message is the
 * only trace of a retry ("Request was retried 1 times."), hence the test on it.
 */
function neverConnected(error: StripeErrorLike & { detail?: unknown }): boolean {
  if (error.type !== 'StripeConnectionError' || /retried/i.test(error.message)) return false;
  const code = typeof error.detail === 'object' && error.detail !== null ? (error.detail as { code?: unknown }).code : undefined;
  return typeof code === 'string' && NOT_CONNECTED_CODES.has(code);
}

/**
 * outcomeOfCreateError (mapping.ts) decides decline or retry; this adds the attempt history's
 * class to a retry: a connection error is `not_sent` when the connection never opened
 * (neverConnected), `timeout` when the SDK gave up waiting (its message says "timeout"), else
 * `network`; any other Stripe error (5xx, 409, 429, ...) is `server_error`.
 */
function classifiedCreateError(error: unknown, what: string): PspOutcome {
  try {
    return outcomeOfCreateError(error, what);
  } catch (mapped) {
    if (!(mapped instanceof PspTransientError)) throw mapped;
    if (error instanceof PspTransientError) throw new PspTransientError(mapped.message, error.kind, error.pspCode);
    if (!isStripeErrorLike(error)) throw new PspTransientError(mapped.message, 'network');
    const kind = error.type !== 'StripeConnectionError' ? 'server_error' : neverConnected(error) ? 'not_sent' : /timeout|timed out/i.test(error.message) ? 'timeout' : 'network';
    const code = [error.statusCode ? `HTTP ${error.statusCode}` : null, error.code ?? error.type].filter(Boolean).join(' ');
    throw new PspTransientError(mapped.message, kind, code || null);
  }
}

export function createStripeGateway(options: StripeGatewayOptions): PspGateway {
  if (!options.secretKey) throw new Error('createStripeGateway: STRIPE_SECRET_KEY must be set');
  if (!options.webhookSecret) throw new Error('createStripeGateway: STRIPE_WEBHOOK_SECRET must be set');
  const stripe = new Stripe(options.secretKey, {
    apiVersion: STRIPE_API_VERSION,
    // The job queue retries with backoff and the same key; the SDK retrying too would hide timeouts.
    maxNetworkRetries: 0,
    timeout: options.timeoutMs,
    telemetry: false,
    ...connection(options.apiBase),
  });

  /** Reads an object; Stripe's 404 means it has never seen it. Anything else unexpected: transient. */
  async function retrieve<T>(what: string, read: () => Promise<T>): Promise<T | null> {
    try {
      return await read();
    } catch (error) {
      if (isStripeErrorLike(error) && error.statusCode === 404) return null;
      throw new PspTransientError(`Stripe ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  function outcome(what: string, map: (object: unknown) => PspOutcome, object: unknown): PspOutcome {
    try {
      return map(object);
    } catch (error) {
      // An answer we cannot read may still mean money moved: unknown, so retry later.
      if (error instanceof StripeShapeError) throw new PspTransientError(`Stripe ${what} returned an unexpected object: ${error.message}`, 'server_error');
      throw error;
    }
  }

  const fingerprint = secretFingerprint(options.webhookSecret);

  return {
    name: 'stripe',
    webhook: { path: '/v1/webhooks/stripe', signatureHeader: 'Stripe-Signature' },

    supportsPaymentMethod(paymentMethod: string): boolean {
      // PaymentMethod ids and Stripe's test payment methods (pm_card_visa, pm_card_chargeDeclined...).
      return /^pm_[A-Za-z0-9_]{1,200}$/.test(paymentMethod);
    },

    async createCharge(request: CreateChargeRequest): Promise<PspOutcome> {
      try {
        const intent = await stripe.paymentIntents.create(
          {
            amount: request.amount,
            currency: request.currency,
            payment_method: request.paymentMethod,
            confirm: true,
            // Server-side only: a method that needs a redirect is declined rather than left waiting.
            automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
            metadata: { [FINCORE_ID]: request.reference },
          },
          { idempotencyKey: request.reference },
        );
        return outcome('create PaymentIntent', mapPaymentIntent, intent);
      } catch (error) {
        return classifiedCreateError(error, 'create PaymentIntent');
      }
    },

    async createRefund(request: CreateRefundRequest): Promise<PspOutcome> {
      // A refund is only created for a succeeded charge, whose PaymentIntent id FinCore recorded.
      if (!request.chargePspReference) throw new PspTransientError(`charge ${request.chargeReference} has no Stripe PaymentIntent id recorded yet`);
      try {
        const refund = await stripe.refunds.create(
          // The charge's FinCore id too: a refund event then names both objects (FinCore checks they belong together).
          { payment_intent: request.chargePspReference, amount: request.amount, metadata: { [FINCORE_ID]: request.reference, [FINCORE_CHARGE_ID]: request.chargeReference } },
          { idempotencyKey: request.reference },
        );
        return outcome('create Refund', mapRefund, refund);
      } catch (error) {
        return classifiedCreateError(error, 'create Refund');
      }
    },

    async getCharge(lookup: PspLookup): Promise<PspOutcome | null> {
      if (lookup.pspReference) {
        const id = lookup.pspReference;
        const intent = await retrieve('retrieve PaymentIntent', () => stripe.paymentIntents.retrieve(id));
        return intent ? outcome('retrieve PaymentIntent', mapPaymentIntent, intent) : null;
      }
      // The create answer was lost, so FinCore has no PaymentIntent id: find it by its metadata.
      // (Stripe's search index lags writes by up to a minute; reconciliation runs later than that.)
      const found = await retrieve('search PaymentIntents', () => stripe.paymentIntents.search({ query: `metadata['${FINCORE_ID}']:'${lookup.reference}'`, limit: 1 }));
      const intent = found?.data[0];
      return intent ? outcome('search PaymentIntents', mapPaymentIntent, intent) : null;
    },

    async getRefund(lookup: PspLookup): Promise<PspOutcome | null> {
      if (lookup.pspReference) {
        const id = lookup.pspReference;
        const refund = await retrieve('retrieve Refund', () => stripe.refunds.retrieve(id));
        return refund ? outcome('retrieve Refund', mapRefund, refund) : null;
      }
      if (!lookup.chargePspReference) return null;
      const paymentIntent = lookup.chargePspReference;
      // Refunds have no search: list the PaymentIntent's refunds and match our id.
      let match: Stripe.Refund | undefined;
      try {
        for await (const refund of stripe.refunds.list({ payment_intent: paymentIntent, limit: 100 })) {
          if (refund.metadata?.[FINCORE_ID] === lookup.reference) {
            match = refund;
            break;
          }
        }
      } catch (error) {
        if (isStripeErrorLike(error) && error.statusCode === 404) return null;
        throw new PspTransientError(`Stripe list Refunds failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      return match ? outcome('list Refunds', mapRefund, match) : null;
    },

    verifyWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>, nowMs: number): PspWebhookEvent {
      const signature = header(headers, 'stripe-signature');
      if (!signature) throw new WebhookVerificationError('missing Stripe-Signature header');
      try {
        // The signature alone first: a body that verifies but does not parse is the content's
        // problem, not the signature's, and must not be reported as one.
        stripe.webhooks.signature?.verifyHeader(rawBody, signature, options.webhookSecret, STRIPE_WEBHOOK_TOLERANCE_SECONDS, undefined, nowMs);
        if (!stripe.webhooks.signature) throw new Error('the Stripe SDK has no signature helper');
      } catch (error) {
        // The SDK's message goes on with documentation links: the first sentence says it all.
        throw new WebhookVerificationError((error instanceof Error ? error.message : String(error)).split('\n')[0]?.trim() ?? 'invalid signature');
      }
      let event: unknown;
      try {
        event = JSON.parse(rawBody.toString('utf8'));
      } catch {
        throw new MalformedWebhookEvent('the body is not valid JSON', fingerprint);
      }
      const unstorable = unstorableText(event);
      if (unstorable) throw new MalformedWebhookEvent(unstorable, fingerprint);
      let mapped: MappedWebhookEvent | null;
      try {
        mapped = mapStripeEvent(event);
      } catch (error) {
        throw new MalformedWebhookEvent(error instanceof Error ? error.message : String(error), fingerprint);
      }
      if (!mapped) {
        const { id, type } = event as { id?: unknown; type?: unknown };
        throw new IgnoredWebhookEvent(String(id), String(type));
      }
      return { ...mapped, secretFingerprint: fingerprint };
    },
  };
}

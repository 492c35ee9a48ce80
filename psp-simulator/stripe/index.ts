/**
 * Stripe-compatible mode of the PSP simulator: the subset of Stripe's API that FinCore's Stripe
 * adapter uses, served on the simulator's own port so that the adapter can be tested end to end
 * with the official `stripe` SDK as its client. Like the rest of the simulator it imports nothing
 * from FinCore.
 *
 * Routing. Stripe's paths are Stripe's: /v1/payment_intents[/...], /v1/refunds/:id. The one path
 * both APIs use is /v1/refunds (and /v1/charges, which Stripe mode does not serve): there a
 * request is Stripe's when it carries an Authorization header or a form-encoded body, since the
 * native client sends neither (it sends JSON, unauthenticated).
 *
 * Shared with the native API: settleMs, the fault injector (latency, failure_rate as a 500
 * api_error, timeout, lost_response, webhook drop/duplicate/reorder, seed, and the
 * faults_injected counters), `/sim/state` (PaymentIntents among `charges` with the PaymentIntent
 * id as id, Refunds among `refunds` with that id as `charge`; the reference is
 * metadata.fincore_id, else the Idempotency-Key; create calls in `create_requests` as
 * `charges <Idempotency-Key>` / `refunds <Idempotency-Key>`), and the webhook counters (`webhooks`
 * there sums both destinations).
 *
 * How this differs from real Stripe:
 * - Settling. Real card PaymentIntents confirmed with confirm=true succeed (or decline) before the
 *   API answers. Here, with settleMs > 0, a PaymentIntent answers `processing` (amount_received 0,
 *   charge `pending`) and turns `succeeded` after settleMs with payment_intent.succeeded; with
 *   settleMs 0 it answers `succeeded`, as Stripe does. Declines are synchronous in both (402).
 * - Refunds. Real card refunds mostly answer `succeeded` at once, and a pm_card_refundFail refund
 *   answers `succeeded` and flips to `failed` later (refund.failed). Here a refund answers
 *   `pending` (pending_reason `processing`) and turns `succeeded` or `failed` after settleMs; only
 *   pm_card_refundFailsLater / pm_card_refundReversed refunds (and POST /sim/refunds/{id}/fail)
 *   report succeeded and then failed, late_failure_ms later (POST /sim/settings), with
 *   charge.refund.updated, refund.failed and refund.updated carrying previous_attributes status
 *   succeeded. With settleMs 0 it answers in its final status. A
 *   refund of a still-processing PaymentIntent is accepted as pending (`charge_pending`) and
 *   settles after the payment.
 * - Events. Only payment_intent.succeeded, payment_intent.payment_failed, refund.updated,
 *   charge.refund.updated, refund.failed, refund.created (for a refund made "in the Dashboard",
 *   POST /sim/charges/{id}/refunds, only) and charge.dispute.created / funds_withdrawn / closed /
 *   funds_reinstated (disputes opened and closed with the /sim routes) are sent; not
 *   payment_intent.created, charge.succeeded/failed/updated/refunded, refund.created for API
 *   refunds, charge.dispute.updated, etc. One endpoint gets every type (no
 *   enabled_events), api_version is always the simulator's default version, pending_webhooks is 1
 *   and never counts down, the signature header has one v1 signature (no v0, no secret rolling),
 *   and delivery is retried every 100 ms doubling to 5 s until acknowledged (Stripe: over 3 days).
 * - Idempotency. Keys never expire (Stripe: after 24 h), are scoped per API key (Stripe: per
 *   account) and a key stays locked while its answer is held by the timeout fault. An injected
 *   500 (failure_rate) stores nothing: it stands for a failure before the endpoint ran, whereas
 *   Stripe replays a 500 the endpoint itself returned.
 * - Auth and accounts. Any `sk_test_` key (Bearer or Basic) is accepted and all of them share one
 *   account; live keys, restricted keys, Stripe-Account / Connect and OAuth are not supported.
 *   Stripe-Version is accepted (format-checked) and echoed, but objects always have one shape.
 * - Payment methods. Only the test tokens the native simulator knows: pm_card_visa,
 *   pm_card_mastercard, pm_card_chargeDeclined (card_declined / generic_decline),
 *   pm_card_refundFail (refunds fail with expired_or_canceled_card), pm_card_refundFailsLater
 *   (refunds succeed, then fail with expired_or_canceled_card) and pm_card_refundReversed (the
 *   same with lost_or_stolen_card: Stripe has no reversal of its own). Each PaymentIntent mints a
 *   new `pm_` id, as Stripe does. No raw cards, customers, saved methods, 3-D Secure /
 *   requires_action, other decline codes, or balance transactions (balance_transaction is null).
 * - Disputes exist only through the /sim routes: opened as needs_response (never an inquiry),
 *   with no evidence, no dispute API (retrieve, update, close) and no withdrawal from a balance.
 * - POST /sim/next-charge and /sim/next-refund make the next create report another amount or
 *   currency (the simulated account's books follow it), or settle at once and hold the answer
 *   until the event is out (an early webhook); Stripe itself never does the former knowingly.
 * - PaymentIntents must be created with confirm=true and a payment_method; there is no update,
 *   confirm, capture or cancel endpoint, capture_method=manual is refused, and return_url is never
 *   required (Stripe demands it when automatic payment methods may redirect, depending on the
 *   account's Dashboard settings). Objects carry the fields payment code reads, not every field.
 * - Parameters: only those listed in routes.ts are accepted; any other one, even one real Stripe
 *   accepts (customer, receipt_email, statement_descriptor, ...), is a 400 parameter_unknown, so
 *   that a client never relies on something the simulator silently ignores.
 * - Search is consistent at once (Stripe's index lags up to about a minute, so a read-after-write
 *   search can miss a fresh object there). Fields: metadata, status, currency, amount, created;
 *   no `~` substring, no null checks; page tokens are the simulator's own.
 * - Lists: only refunds, filtered by payment_intent or charge (no created filter).
 * - Validation: one static currency list for every account (Stripe restricts by country), minimum
 *   amounts for common currencies only, no zero-/three-decimal amount rules, error messages
 *   paraphrase Stripe's. Expansion covers latest_charge, payment_method, charge, payment_intent
 *   (and data.* in lists, total_count in search), nothing nested.
 * - No rate limiting (429, lock_timeout), no Stripe-Should-Retry header, no request_log_url.
 */
import type { IncomingMessage } from 'node:http';
import { readBody } from '../body.ts';
import type { FaultInjector } from '../faults.ts';
import type { SimCharge, SimDispute, SimRefund } from '../objects.ts';
import type { Scenarios } from '../scenarios.ts';
import type { SimLogger, WebhookStats } from '../webhook-sender.ts';
import { StripeApiError, apiError, invalidRequest, type StripeErrorBody } from './errors.ts';
import { StripeEvents, type EventRequest, type StripeWebhookTarget } from './events.ts';
import { FormError, fingerprint, parseForm, type FormHash } from './form.ts';
import { IdempotencyKeys, type KeyClaim } from './idempotency.ts';
import { StripeLedger } from './ledger.ts';
import { DEFAULT_API_VERSION, stripeId } from './objects.ts';
import { Params } from './params.ts';
import { createRoutes } from './routes.ts';

export type { StripeWebhookTarget } from './events.ts';

export interface StripeApiOptions {
  settleMs: number;
  /** Runs fn after settleMs on the simulator's timers (cleared when it closes). */
  later(fn: () => void): void;
  faults: FaultInjector;
  logger: SimLogger;
  /** Where Stripe events go; undefined: they are not sent (logged once). */
  webhook: StripeWebhookTarget | undefined;
  /** Counts a create call in /sim/state create_requests, as the native routes do. */
  countCreateRequest(route: 'charges' | 'refunds', idempotencyKey: string): void;
  /** The next-report settings and late-failure delay shared with the native API (/sim control routes). */
  scenarios: Scenarios;
}

/** A finished answer. The server writes it (or holds or drops it, per the faults), then calls release. */
export interface StripeReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Frees the Idempotency-Key lock; call once the answer is written or the connection is gone. */
  release(): void;
}

export interface StripeApi {
  handle(req: IncomingMessage, url: URL): Promise<StripeReply>;
  /** The failure_rate fault's answer: a Stripe 500 api_error, nothing done. */
  injectedFailure(): StripeReply;
  simCharges(): SimCharge[];
  simRefunds(): SimRefund[];
  simDisputes(): SimDispute[];
  /** The account, for the /sim control routes (refunds made in the Dashboard, late failures, disputes). */
  ledger: StripeLedger;
  webhookStats(): WebhookStats | null;
  close(): void;
}

const MAX_IDEMPOTENCY_KEY = 255;
const NATIVE_PATHS = new Set(['/v1/charges', '/v1/refunds']);
const noop = (): void => undefined;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isFormBody(req: IncomingMessage): boolean {
  return (header(req, 'content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/** Whether a /v1 request is for Stripe mode (see "Routing" above). */
export function isStripeRequest(req: IncomingMessage, path: string): boolean {
  const normalized = path.replace(/\/+$/, '');
  if (!normalized.startsWith('/v1/')) return false;
  if (NATIVE_PATHS.has(normalized)) return header(req, 'authorization') !== undefined || isFormBody(req);
  return true;
}


function redactKey(key: string): string {
  return key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}` : '*'.repeat(key.length);
}

/** The secret key of the request: `Authorization: Bearer sk_test_...` (or Basic with the key as user). */
function authenticate(req: IncomingMessage): string {
  const authorization = header(req, 'authorization');
  if (authorization === undefined || authorization.trim() === '') {
    throw invalidRequest(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      { status: 401 },
    );
  }
  let key = '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  const basic = /^Basic\s+(\S+)\s*$/i.exec(authorization);
  if (bearer !== null) key = bearer[1] ?? '';
  else if (basic !== null) key = Buffer.from(basic[1] ?? '', 'base64').toString('utf8').split(':')[0] ?? '';
  if (!/^sk_test_[A-Za-z0-9_]+$/.test(key)) {
    throw invalidRequest(`Invalid API Key provided: ${redactKey(key)}`, { status: 401 });
  }
  return key;
}

function apiVersionOf(req: IncomingMessage): string {
  const version = header(req, 'stripe-version');
  if (version === undefined || version === '') return DEFAULT_API_VERSION;
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}(\.[a-z_]+)?$/.test(version)) {
    throw invalidRequest(`Invalid Stripe API version: ${version}`);
  }
  return version;
}

function render(body: object): string {
  // Stripe pretty-prints its JSON answers.
  return JSON.stringify(body, null, 2);
}

export function createStripeApi(options: StripeApiOptions): StripeApi {
  const events = new StripeEvents(options.webhook, DEFAULT_API_VERSION, options.faults, options.logger);
  const ledger = new StripeLedger({ settleMs: options.settleMs, later: options.later, events, scenarios: options.scenarios, logger: options.logger });
  const route = createRoutes(ledger);
  const keys = new IdempotencyKeys();

  function reply(status: number, body: string, headers: Record<string, string>, release: () => void = noop): StripeReply {
    return { status, body, headers: { 'Content-Type': 'application/json', ...headers }, release };
  }

  function errorBody(error: StripeErrorBody): string {
    return render({ error });
  }

  async function handle(req: IncomingMessage, url: URL): Promise<StripeReply> {
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '');
    const requestId = stripeId('req');
    const headers: Record<string, string> = { 'Request-Id': requestId, 'Stripe-Version': DEFAULT_API_VERSION };
    const idempotencyKey = method === 'POST' ? (header(req, 'idempotency-key') ?? null) : null;
    if (idempotencyKey !== null) headers['Idempotency-Key'] = idempotencyKey;
    let claim: KeyClaim | null = null;
    try {
      const raw = await readBody(req, (limit) => invalidRequest(`Request body exceeds ${limit} bytes.`, { status: 413 }));
      const apiKey = authenticate(req);
      headers['Stripe-Version'] = apiVersionOf(req);
      const endpoint = route(method, path);
      if (endpoint === null) {
        throw invalidRequest(`Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`, {
          status: 404,
        });
      }
      if (idempotencyKey !== null && idempotencyKey.length > MAX_IDEMPOTENCY_KEY) {
        throw invalidRequest(`Idempotency keys can be at most ${MAX_IDEMPOTENCY_KEY} characters long.`, { param: 'Idempotency-Key' });
      }
      if (endpoint.creates !== null && idempotencyKey !== null) options.countCreateRequest(endpoint.creates, idempotencyKey);
      let form: FormHash;
      try {
        form = parseForm(method === 'POST' ? raw.toString('utf8') : url.search.replace(/^\?/, ''));
      } catch (err) {
        if (err instanceof FormError) throw invalidRequest(err.message);
        throw err;
      }
      if (idempotencyKey !== null) {
        const claimed = keys.claim(apiKey, idempotencyKey, endpoint.endpoint, fingerprint(form));
        if (claimed.outcome === 'refuse') throw claimed.error;
        if (claimed.outcome === 'replay') {
          const { answer } = claimed;
          return reply(answer.status, answer.body, { ...headers, 'Idempotent-Replayed': 'true', 'Original-Request': answer.requestId });
        }
        claim = claimed.claim;
      }
      const request: EventRequest = { id: requestId, idempotency_key: idempotencyKey };
      let status = 200;
      let body: string;
      let replayable = true;
      // POST /sim/next-charge or /sim/next-refund: used by this create call if it creates anything.
      const kind = endpoint.creates === 'charges' ? 'charge' : endpoint.creates === 'refunds' ? 'refund' : null;
      const next = kind === null ? null : options.scenarios.takeNext(kind);
      try {
        body = render(endpoint.run({ params: new Params(form), request, next }));
      } catch (err) {
        if (kind !== null && options.scenarios.peekNext(kind) === null) options.scenarios.setNext(kind, next);
        if (!(err instanceof StripeApiError)) throw err;
        status = err.status;
        body = errorBody(err.body);
        replayable = err.replayable;
      }
      if (claim !== null && replayable) claim.store({ status, body, requestId });
      // An early webhook went out when the object settled; the answer waits for it to arrive.
      if (status === 200 && next?.early_webhook === true) await options.scenarios.hold();
      return reply(status, body, headers, claim?.release);
    } catch (err) {
      const release = claim?.release ?? noop;
      if (err instanceof StripeApiError) {
        const extra: Record<string, string> = err.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="Stripe"' } : {};
        return reply(err.status, errorBody(err.body), { ...headers, ...extra }, release);
      }
      options.logger.warn({ error: err instanceof Error ? err.message : String(err), path }, 'psp simulator stripe request failed');
      return reply(500, errorBody(apiError('An unexpected error occurred in the simulator.').body), headers, release);
    }
  }

  return {
    handle,
    injectedFailure: () =>
      reply(500, errorBody(apiError('Injected failure (PSP simulator fault injection).').body), { 'Request-Id': stripeId('req') }),
    simCharges: () => ledger.simCharges(),
    simRefunds: () => ledger.simRefunds(),
    simDisputes: () => ledger.simDisputes(),
    ledger,
    webhookStats: () => events.stats(),
    close: () => events.stop(),
  };
}

/**
 * The simulator's own control routes: GET /sim/state, GET/POST/DELETE /sim/faults, POST
 * /sim/outage (the PSP unreachable for a while: connections refused), and the PSP's
 * truth cases (issue 16), each for a native object or a Stripe-mode one (found by the PSP's id or
 * by the merchant's reference):
 * - GET/POST /sim/settings: `late_failure_ms`, `early_webhook_hold_ms`;
 * - GET/POST/DELETE /sim/next-charge, /sim/next-refund: what the next create call reports
 *   (`amount`, `currency`) and whether its webhook goes out before the answer (`early_webhook`);
 * - POST /sim/charges/{id}/refunds: a refund made at the PSP (no merchant reference), with its webhooks;
 * - POST /sim/refunds/{id}/fail: a succeeded refund fails now (`reversed: true`: a reversal);
 * - POST /sim/charges/{id}/disputes, POST /sim/disputes/{id}/close: a dispute opened, closed won or lost.
 */
import type { IncomingMessage } from 'node:http';
import { readBody } from './body.ts';
import { FaultValidationError, type FaultCounts, type FaultInjector } from './faults.ts';
import type { ChargeDeps } from './native/charges.ts';
import { HttpError, parseJsonObject, tooLarge, type JsonObject, type StoredResponse } from './native/http.ts';
import { createPspRefund, failRefundLate, findCharge, findRefund } from './native/refunds.ts';
import type { NativeStore } from './native/store.ts';
import { LATE_FAILURE_REASON, REVERSAL_REASON, newId, type SimCharge, type SimDispute, type SimRefund } from './objects.ts';
import { ScenarioError, parseNextReport, type ScenarioObject } from './scenarios.ts';
import { StripeApiError } from './stripe/errors.ts';
import type { StripeApi } from './stripe/index.ts';
import { renderDispute, renderRefund } from './stripe/objects.ts';
import type { SimLogger, WebhookSender, WebhookStats } from './webhook-sender.ts';

export interface PspSimulatorState {
  /** Native charges, then Stripe-mode PaymentIntents (id `pi_...`) in the same shape. */
  charges: SimCharge[];
  /** Native refunds, then Stripe-mode refunds (`charge` = the PaymentIntent id). */
  refunds: SimRefund[];
  /** Native disputes, then Stripe-mode disputes (`charge` = the PaymentIntent id). */
  disputes: SimDispute[];
  /** Both webhook destinations (native and Stripe) added together. */
  webhooks: WebhookStats;
  /** Create calls received per `${route} ${idempotency key}`, e.g. `charges ch_...`; replays count. */
  create_requests: Record<string, number>;
  /** Faults injected so far, per kind. */
  faults_injected: FaultCounts;
}

export interface ControlDeps {
  store: NativeStore;
  /** The native API's parts (emit, settle timers, scenarios), for objects made by the control routes. */
  native: ChargeDeps;
  stripe: StripeApi;
  webhooks: WebhookSender;
  faults: FaultInjector;
  logger: SimLogger;
  /** Takes the simulator off the network for durationMs once this request's answer is sent (server.ts). */
  outage(req: IncomingMessage, durationMs: number): void;
}

/** The longest outage POST /sim/outage accepts: a test's outage, not a way to stop the simulator. */
export const MAX_OUTAGE_MS = 600_000;

function addStats(a: WebhookStats, b: WebhookStats | null): WebhookStats {
  if (b === null) return a;
  return {
    sent: a.sent + b.sent,
    acknowledged: a.acknowledged + b.acknowledged,
    pending: a.pending + b.pending,
    attempts: a.attempts + b.attempts,
    dropped: a.dropped + b.dropped,
    duplicated: a.duplicated + b.duplicated,
  };
}

/** The answer for /sim/state and /sim/faults; null for any other path. */
export async function controlRoute(deps: ControlDeps, req: IncomingMessage, method: string, path: string): Promise<StoredResponse | null> {
  const { store, stripe, webhooks, faults, logger } = deps;
  if (path === '/sim/state' && method === 'GET') {
    const state: PspSimulatorState = {
      charges: [...store.charges.values(), ...stripe.simCharges()],
      refunds: [...store.refunds.values(), ...stripe.simRefunds()],
      disputes: [...store.disputes.values(), ...stripe.simDisputes()],
      webhooks: addStats(webhooks.getStats(), stripe.webhookStats()),
      create_requests: Object.fromEntries(store.createRequests),
      faults_injected: faults.getCounts(),
    };
    return { status: 200, body: state };
  }
  if (path === '/sim/faults') {
    if (method === 'GET') return { status: 200, body: faults.settings };
    if (method === 'POST') {
      const body = parseJsonObject(await readBody(req, tooLarge));
      try {
        const settings = faults.update(body);
        logger.info({ faults: settings }, 'psp simulator faults changed');
        return { status: 200, body: settings };
      } catch (err) {
        if (err instanceof FaultValidationError) throw new HttpError(400, 'parameter_invalid', err.message);
        throw err;
      }
    }
    if (method === 'DELETE') {
      const settings = faults.reset();
      logger.info({ faults: settings }, 'psp simulator faults reset: all off');
      return { status: 200, body: settings };
    }
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
  }
  if (path === '/sim/outage') {
    if (method !== 'POST') throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
    const durationMs = (await jsonBody(req))['duration_ms'];
    if (typeof durationMs !== 'number' || !Number.isSafeInteger(durationMs) || durationMs < 1 || durationMs > MAX_OUTAGE_MS) {
      throw new HttpError(400, 'parameter_invalid', `duration_ms must be an integer from 1 to ${MAX_OUTAGE_MS}.`);
    }
    deps.outage(req, durationMs);
    logger.info({ duration_ms: durationMs }, 'psp simulator outage: connections refused after this answer');
    return { status: 200, body: { outage: { duration_ms: durationMs, until: new Date(Date.now() + durationMs).toISOString() } } };
  }
  return scenarioRoute(deps, req, method, path);
}

function optionalAmount(body: JsonObject): number | undefined {
  const value = body['amount'];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new HttpError(400, 'parameter_invalid', 'amount must be a positive integer (minor units).');
  return value;
}

function optionalText(body: JsonObject, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) throw new HttpError(400, 'parameter_invalid', `${field} must be a non-empty string of at most 255 characters.`);
  return value;
}

async function jsonBody(req: IncomingMessage): Promise<JsonObject> {
  const raw = await readBody(req, tooLarge);
  return raw.length === 0 ? {} : parseJsonObject(raw);
}

/** A Stripe-mode refusal as the control routes answer it. */
function stripeRefusal(error: unknown): never {
  if (error instanceof StripeApiError) throw new HttpError(error.status, error.body.code ?? 'invalid_request', error.body.message);
  throw error;
}

function notFound(what: string, id: string): HttpError {
  return new HttpError(404, 'resource_missing', `No ${what} ${id} (native id, Stripe-mode id, or merchant reference).`);
}

const DISPUTE_CLOSINGS = ['won', 'lost', 'warning_closed', 'prevented'] as const;

/** The PSP's truth cases; null for any other path. */
async function scenarioRoute(deps: ControlDeps, req: IncomingMessage, method: string, path: string): Promise<StoredResponse | null> {
  const { store, stripe, native, logger } = deps;
  const scenarios = native.scenarios;
  if (path === '/sim/settings') {
    if (method === 'GET') return { status: 200, body: scenarios.settings };
    if (method !== 'POST') throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
    try {
      const settings = scenarios.updateSettings(await jsonBody(req));
      logger.info({ settings }, 'psp simulator settings changed');
      return { status: 200, body: settings };
    } catch (error) {
      if (error instanceof ScenarioError) throw new HttpError(400, 'parameter_invalid', error.message);
      throw error;
    }
  }
  if (path === '/sim/next-charge' || path === '/sim/next-refund') {
    const kind: ScenarioObject = path === '/sim/next-charge' ? 'charge' : 'refund';
    if (method === 'GET') return { status: 200, body: { next: scenarios.peekNext(kind) } };
    if (method === 'DELETE') {
      scenarios.setNext(kind, null);
      return { status: 200, body: { next: null } };
    }
    if (method !== 'POST') throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
    try {
      const next = parseNextReport(await jsonBody(req));
      scenarios.setNext(kind, next);
      logger.info({ kind, next }, 'psp simulator: the next create call reports this');
      return { status: 200, body: { next } };
    } catch (error) {
      if (error instanceof ScenarioError) throw new HttpError(400, 'parameter_invalid', error.message);
      throw error;
    }
  }
  const segments = path.split('/').filter((s) => s !== '');
  if (segments[0] !== 'sim' || segments.length !== 4) return null;
  const [, resource, rawId, action] = segments;
  let id: string;
  try {
    id = decodeURIComponent(rawId ?? '');
  } catch {
    id = rawId ?? '';
  }
  const known =
    (resource === 'charges' && (action === 'refunds' || action === 'disputes')) || (resource === 'refunds' && action === 'fail') || (resource === 'disputes' && action === 'close');
  if (!known) return null;
  if (method !== 'POST') throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
  const body = await jsonBody(req);

  if (resource === 'charges') {
    const amount = optionalAmount(body);
    const nativeCharge: SimCharge | undefined = findCharge(store, id);
    const pi = nativeCharge === undefined ? stripe.ledger.findPaymentIntent(id) : undefined;
    if (nativeCharge === undefined && pi === undefined) throw notFound('charge', id);
    if (action === 'refunds') {
      if (nativeCharge !== undefined) return { status: 200, body: { ...createPspRefund(native, nativeCharge, amount) } };
      try {
        return { status: 200, body: renderRefund(stripe.ledger.createDashboardRefund(pi!, amount), stripe.ledger) };
      } catch (error) {
        stripeRefusal(error);
      }
    }
    const reason = optionalText(body, 'reason');
    if (nativeCharge !== undefined) {
      if (nativeCharge.status !== 'succeeded') throw new HttpError(400, 'charge_not_disputable', `Charge ${nativeCharge.id} is ${nativeCharge.status}, not succeeded.`);
      const dispute: SimDispute = {
        id: newId('simdp'),
        object: 'dispute',
        charge: nativeCharge.id,
        charge_reference: nativeCharge.reference,
        amount: amount ?? nativeCharge.amount,
        currency: nativeCharge.currency,
        status: 'open',
        reason: reason ?? 'fraudulent',
      };
      store.disputes.set(dispute.id, dispute);
      native.emit('dispute.created', dispute);
      return { status: 200, body: { ...dispute } };
    }
    try {
      return { status: 200, body: renderDispute(stripe.ledger.openDispute(pi!, amount, reason)) };
    } catch (error) {
      stripeRefusal(error);
    }
  }

  if (resource === 'refunds') {
    const reversed = body['reversed'];
    if (reversed !== undefined && typeof reversed !== 'boolean') throw new HttpError(400, 'parameter_invalid', 'reversed must be a boolean.');
    const reason = optionalText(body, 'reason');
    const nativeRefund = findRefund(store, id);
    if (nativeRefund !== undefined) {
      return { status: 200, body: { ...failRefundLate(native, nativeRefund, reason ?? (reversed === true ? REVERSAL_REASON : LATE_FAILURE_REASON)) } };
    }
    const refund = stripe.ledger.findRefund(id);
    if (refund === undefined) throw notFound('refund', id);
    const stripeReasons = ['expired_or_canceled_card', 'lost_or_stolen_card', 'declined', 'unknown'] as const;
    const stripeReason = reason ?? (reversed === true ? 'lost_or_stolen_card' : 'expired_or_canceled_card');
    if (!(stripeReasons as readonly string[]).includes(stripeReason)) {
      throw new HttpError(400, 'parameter_invalid', `In Stripe mode reason is one of ${stripeReasons.join(', ')}.`);
    }
    try {
      return { status: 200, body: renderRefund(stripe.ledger.failRefundLate(refund, stripeReason as (typeof stripeReasons)[number]), stripe.ledger) };
    } catch (error) {
      stripeRefusal(error);
    }
  }

  // POST /sim/disputes/{id}/close
  const status = body['status'];
  const nativeDispute = store.disputes.get(id);
  if (nativeDispute !== undefined) {
    if (status !== 'won' && status !== 'lost') throw new HttpError(400, 'parameter_invalid', 'status must be won or lost.');
    if (nativeDispute.status !== 'open') throw new HttpError(400, 'dispute_already_closed', `Dispute ${id} is already ${nativeDispute.status}.`);
    nativeDispute.status = status;
    native.emit('dispute.closed', nativeDispute);
    return { status: 200, body: { ...nativeDispute } };
  }
  const dispute = stripe.ledger.dispute(id);
  if (dispute === undefined) throw notFound('dispute', id);
  if (typeof status !== 'string' || !(DISPUTE_CLOSINGS as readonly string[]).includes(status)) {
    throw new HttpError(400, 'parameter_invalid', `status must be one of ${DISPUTE_CLOSINGS.join(', ')}.`);
  }
  try {
    return { status: 200, body: renderDispute(stripe.ledger.closeDispute(dispute, status as (typeof DISPUTE_CLOSINGS)[number])) };
  } catch (error) {
    stripeRefusal(error);
  }
}

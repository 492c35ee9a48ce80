/** The simulator's own control routes: GET /sim/state, and GET/POST/DELETE /sim/faults. */
import type { IncomingMessage } from 'node:http';
import { readBody } from './body.ts';
import { FaultValidationError, type FaultCounts, type FaultInjector } from './faults.ts';
import { HttpError, parseJsonObject, tooLarge, type StoredResponse } from './native/http.ts';
import type { NativeStore } from './native/store.ts';
import type { SimCharge, SimRefund } from './objects.ts';
import type { StripeApi } from './stripe/index.ts';
import type { SimLogger, WebhookSender, WebhookStats } from './webhook-sender.ts';

export interface PspSimulatorState {
  /** Native charges, then Stripe-mode PaymentIntents (id `pi_...`) in the same shape. */
  charges: SimCharge[];
  /** Native refunds, then Stripe-mode refunds (`charge` = the PaymentIntent id). */
  refunds: SimRefund[];
  /** Both webhook destinations (native and Stripe) added together. */
  webhooks: WebhookStats;
  /** Create calls received per `${route} ${idempotency key}`, e.g. `charges ch_...`; replays count. */
  create_requests: Record<string, number>;
  /** Faults injected so far, per kind. */
  faults_injected: FaultCounts;
}

export interface ControlDeps {
  store: NativeStore;
  stripe: StripeApi;
  webhooks: WebhookSender;
  faults: FaultInjector;
  logger: SimLogger;
}

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
  return null;
}

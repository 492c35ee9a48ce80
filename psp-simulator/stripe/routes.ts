/**
 * Stripe's endpoints as the simulator serves them: parameters in, Stripe objects out.
 *   POST /v1/payment_intents            GET /v1/payment_intents/:id    GET /v1/payment_intents/search
 *   POST /v1/refunds                    GET /v1/refunds/:id            GET /v1/refunds
 */
import { invalidRequest, resourceMissing } from './errors.ts';
import type { StripeLedger } from './ledger.ts';
import { renderPaymentIntent, renderRefund, testCard, type PaymentIntentRecord, type RefundRecord } from './objects.ts';
import type { Params } from './params.ts';
import { matchesSearch, parseSearchQuery } from './search.ts';
import type { EventRequest } from './events.ts';
import type { NextReport } from '../scenarios.ts';

export interface RouteContext {
  params: Params;
  /** The request as events record it (`request.id`, `request.idempotency_key`). */
  request: EventRequest;
  /** What POST /sim/next-charge or /sim/next-refund asked the next create call to report. */
  next?: NextReport | null;
}

export interface StripeRoute {
  /** Stripe scopes an Idempotency-Key to one endpoint, e.g. `POST /v1/refunds`. */
  endpoint: string;
  /** The native create route this counts under in /sim/state create_requests. */
  creates: 'charges' | 'refunds' | null;
  run(context: RouteContext): object;
}

const MAX_PAGE = 100;
const DEFAULT_PAGE = 10;
const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;

/** `expand[]` values this object can inline; in lists and search results they read `data.<field>`. */
function expansions(params: Params, allowed: readonly string[], inList: boolean): Set<string> {
  const wanted = new Set<string>();
  for (const path of params.stringList('expand')) {
    const field = inList ? (path.startsWith('data.') ? path.slice('data.'.length) : null) : path;
    if (field === null || !allowed.includes(field)) {
      throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
    }
    wanted.add(field);
  }
  return wanted;
}

function pageSize(params: Params): number {
  const limit = params.optionalPositiveInteger('limit') ?? DEFAULT_PAGE;
  if (limit > MAX_PAGE) {
    throw invalidRequest(`This value must be less than or equal to ${MAX_PAGE}.`, { code: 'parameter_invalid_integer', param: 'limit' });
  }
  return limit;
}

/** The FinCore id of a created object: its metadata.fincore_id, else the Idempotency-Key. */
function fincoreReference(metadata: Record<string, string>, request: EventRequest): string | null {
  return metadata['fincore_id'] ?? request.idempotency_key;
}

export function createRoutes(ledger: StripeLedger): (method: string, path: string) => StripeRoute | null {
  const createPaymentIntent: StripeRoute = {
    endpoint: 'POST /v1/payment_intents',
    creates: 'charges',
    run({ params, request, next }) {
      params.allowOnly([
        'amount',
        'currency',
        'payment_method',
        'confirm',
        'metadata',
        'automatic_payment_methods',
        'payment_method_types',
        'description',
        'capture_method',
        'return_url',
        'expand',
      ]);
      const amount = params.requiredPositiveInteger('amount');
      const currency = params.requiredString('currency').toLowerCase();
      const token = params.requiredString('payment_method');
      if (params.optionalBoolean('confirm') !== true) {
        throw invalidRequest('This simulator only creates PaymentIntents confirmed in the same call: send confirm=true.', { param: 'confirm' });
      }
      if (params.optionalEnum('capture_method', ['automatic', 'automatic_async', 'manual']) === 'manual') {
        throw invalidRequest('This simulator does not support capture_method=manual.', { param: 'capture_method' });
      }
      const methodTypes = params.stringList('payment_method_types');
      const automatic = params.optionalHash('automatic_payment_methods');
      let automaticPaymentMethods: PaymentIntentRecord['automaticPaymentMethods'] = null;
      if (automatic !== undefined) {
        automatic.allowOnly(['enabled', 'allow_redirects']);
        const enabled = automatic.optionalBoolean('enabled');
        if (enabled === undefined) {
          throw invalidRequest('Missing required param: automatic_payment_methods[enabled].', {
            code: 'parameter_missing',
            param: 'automatic_payment_methods[enabled]',
          });
        }
        const allowRedirects = automatic.optionalEnum('allow_redirects', ['always', 'never']);
        automaticPaymentMethods = allowRedirects === undefined ? { enabled } : { enabled, allow_redirects: allowRedirects };
      }
      if (methodTypes.length > 0 && automaticPaymentMethods?.enabled === true) {
        throw invalidRequest('You may only specify one of these parameters: automatic_payment_methods, payment_method_types.', {
          param: 'payment_method_types',
        });
      }
      if (methodTypes.length > 0 && !methodTypes.includes('card')) {
        throw invalidRequest(
          `The PaymentMethod provided (card) is not allowed for this PaymentIntent. Allowed payment_method_types: ${methodTypes.join(', ')}.`,
          { code: 'payment_intent_incompatible_payment_method', param: 'payment_method' },
        );
      }
      // Stripe's default since 2023-08-16: automatic payment methods, card among them.
      if (methodTypes.length === 0 && automaticPaymentMethods === null) automaticPaymentMethods = { enabled: true };
      const card = testCard(token);
      if (card === undefined) throw resourceMissing('PaymentMethod', token, 'payment_method', 400);
      const metadata = params.metadata();
      const expand = expansions(params, ['latest_charge', 'payment_method'], false);
      const pi = ledger.createPaymentIntent(
        {
          amount,
          currency,
          card,
          description: params.optionalString('description') ?? null,
          metadata,
          paymentMethodTypes: methodTypes.length > 0 ? methodTypes : ['card'],
          automaticPaymentMethods,
          reference: fincoreReference(metadata, request),
          next: next ?? null,
        },
        request,
      );
      return renderPaymentIntent(pi, ledger, expand);
    },
  };

  const searchPaymentIntents: StripeRoute = {
    endpoint: 'GET /v1/payment_intents/search',
    creates: null,
    run({ params }) {
      params.allowOnly(['query', 'limit', 'page', 'expand']);
      const query = parseSearchQuery(params.requiredString('query'));
      const limit = pageSize(params);
      const page = params.optionalString('page');
      let offset = 0;
      if (page !== undefined) {
        const match = /^sim_page_([0-9]+)$/.exec(page);
        if (match === null) throw invalidRequest(`Invalid page: ${page}`, { param: 'page' });
        offset = Number(match[1]);
      }
      const expand = expansions(params, ['latest_charge', 'payment_method', 'total_count'], true);
      // Newest first, as Stripe orders search results.
      const hits = ledger.allPaymentIntents().reverse().filter((pi) => matchesSearch(pi, query));
      const data = hits.slice(offset, offset + limit).map((pi) => renderPaymentIntent(pi, ledger, expand));
      const hasMore = offset + limit < hits.length;
      return {
        object: 'search_result',
        data,
        has_more: hasMore,
        next_page: hasMore ? `sim_page_${offset + limit}` : null,
        url: '/v1/payment_intents/search',
        ...(expand.has('total_count') ? { total_count: hits.length } : {}),
      };
    },
  };

  function retrievePaymentIntent(id: string): StripeRoute {
    return {
      endpoint: 'GET /v1/payment_intents/:id',
      creates: null,
      run({ params }) {
        params.allowOnly(['expand', 'client_secret']);
        const pi = ledger.paymentIntent(id);
        if (pi === undefined) throw resourceMissing('payment_intent', id, 'intent', 404);
        return renderPaymentIntent(pi, ledger, expansions(params, ['latest_charge', 'payment_method'], false));
      },
    };
  }

  const createRefund: StripeRoute = {
    endpoint: 'POST /v1/refunds',
    creates: 'refunds',
    run({ params, request, next }) {
      params.allowOnly(['amount', 'payment_intent', 'charge', 'metadata', 'reason', 'expand']);
      const paymentIntentId = params.optionalString('payment_intent');
      const chargeId = params.optionalString('charge');
      if (paymentIntentId === undefined && chargeId === undefined) {
        throw invalidRequest('One of the following params should be provided for this request: payment_intent or charge.', {
          code: 'parameter_missing',
          param: 'payment_intent',
        });
      }
      let pi: PaymentIntentRecord | undefined;
      if (paymentIntentId !== undefined) {
        pi = ledger.paymentIntent(paymentIntentId);
        if (pi === undefined) throw resourceMissing('payment_intent', paymentIntentId, 'payment_intent', 400);
      }
      if (chargeId !== undefined) {
        const ofCharge = ledger.paymentIntentOfCharge(chargeId);
        if (ofCharge === undefined) throw resourceMissing('charge', chargeId, 'charge', 400);
        if (pi !== undefined && pi !== ofCharge) {
          throw invalidRequest(`Charge ${chargeId} does not belong to PaymentIntent ${pi.id}.`, { param: 'charge' });
        }
        pi = ofCharge;
      }
      if (pi === undefined) throw new Error('unreachable: a PaymentIntent or charge was required above');
      const amount = params.optionalPositiveInteger('amount');
      const reason = params.optionalEnum('reason', REFUND_REASONS) ?? null;
      const metadata = params.metadata();
      const expand = expansions(params, ['charge', 'payment_intent'], false);
      const refund = ledger.createRefund(
        { paymentIntent: pi, amount, metadata, reason, reference: fincoreReference(metadata, request), next: next ?? null },
        request,
      );
      return renderRefund(refund, ledger, expand);
    },
  };

  function retrieveRefund(id: string): StripeRoute {
    return {
      endpoint: 'GET /v1/refunds/:id',
      creates: null,
      run({ params }) {
        params.allowOnly(['expand']);
        const refund = ledger.refund(id);
        if (refund === undefined) throw resourceMissing('refund', id, 'id', 404);
        return renderRefund(refund, ledger, expansions(params, ['charge', 'payment_intent'], false));
      },
    };
  }

  const listRefunds: StripeRoute = {
    endpoint: 'GET /v1/refunds',
    creates: null,
    run({ params }) {
      params.allowOnly(['payment_intent', 'charge', 'limit', 'starting_after', 'ending_before', 'expand']);
      const limit = pageSize(params);
      const expand = expansions(params, ['charge', 'payment_intent'], true);
      const paymentIntentId = params.optionalString('payment_intent');
      const chargeId = params.optionalString('charge');
      if (paymentIntentId !== undefined && ledger.paymentIntent(paymentIntentId) === undefined) {
        throw resourceMissing('payment_intent', paymentIntentId, 'payment_intent', 400);
      }
      if (chargeId !== undefined && ledger.paymentIntentOfCharge(chargeId) === undefined) {
        throw resourceMissing('charge', chargeId, 'charge', 400);
      }
      // Newest first, as Stripe lists.
      const all = ledger
        .allRefunds()
        .reverse()
        .filter((r) => (paymentIntentId === undefined || r.paymentIntentId === paymentIntentId) && (chargeId === undefined || r.chargeId === chargeId));
      const cursorIndex = (param: 'starting_after' | 'ending_before'): number | undefined => {
        const id = params.optionalString(param);
        if (id === undefined) return undefined;
        const index = all.findIndex((r) => r.id === id);
        if (index === -1) throw resourceMissing('refund', id, param, 400);
        return index;
      };
      const after = cursorIndex('starting_after');
      const before = cursorIndex('ending_before');
      let page: RefundRecord[];
      let hasMore: boolean;
      if (before !== undefined) {
        // The page just before the cursor, still newest first.
        const start = Math.max(0, before - limit);
        page = all.slice(start, before);
        hasMore = start > 0;
      } else {
        const start = after === undefined ? 0 : after + 1;
        page = all.slice(start, start + limit);
        hasMore = start + limit < all.length;
      }
      return { object: 'list', data: page.map((r) => renderRefund(r, ledger, expand)), has_more: hasMore, url: '/v1/refunds' };
    },
  };

  /** A malformed %-escape is kept as typed: it then matches no object (404). */
  const pathId = (raw: string): string => {
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  };

  return (method, path) => {
    const segments = path.split('/').filter((s) => s !== '');
    if (segments[0] !== 'v1') return null;
    const [, resource, id, extra] = segments;
    if (extra !== undefined) return null;
    if (resource === 'payment_intents') {
      if (id === undefined) return method === 'POST' ? createPaymentIntent : null;
      if (method !== 'GET') return null;
      return id === 'search' ? searchPaymentIntents : retrievePaymentIntent(pathId(id));
    }
    if (resource === 'refunds') {
      if (id === undefined) return method === 'POST' ? createRefund : method === 'GET' ? listRefunds : null;
      return method === 'GET' ? retrieveRefund(pathId(id)) : null;
    }
    return null;
  };
}

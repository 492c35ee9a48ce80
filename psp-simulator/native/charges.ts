/** POST /v1/charges: a pending charge that settles as its payment method says, then a webhook. */
import { PAYMENT_METHODS, newId, type SimCharge } from '../objects.ts';
import type { NextReport, Scenarios } from '../scenarios.ts';
import type { SimLogger } from '../webhook-sender.ts';
import type { Emit } from './events.ts';
import { HttpError, requireAmount, requireString, type JsonObject, type StoredResponse } from './http.ts';
import type { NativeStore } from './store.ts';

export interface ChargeDeps {
  store: NativeStore;
  later(fn: () => void): void;
  emit: Emit;
  logger: SimLogger;
  scenarios: Scenarios;
}

/**
 * `next` (POST /sim/next-charge): the amount / currency the PSP reports instead of the asked ones,
 * and `early_webhook`: settle now, so the webhook goes out before the answer.
 */
export function createCharge({ store, later, emit, logger }: ChargeDeps, body: JsonObject, next: NextReport | null = null): StoredResponse {
  const amount = requireAmount(body);
  const currencyRaw = requireString(body, 'currency');
  if (!/^[a-zA-Z]{3}$/.test(currencyRaw)) {
    throw new HttpError(400, 'parameter_invalid', 'currency must be a three-letter ISO 4217 code.');
  }
  const paymentMethod = requireString(body, 'payment_method');
  const reference = requireString(body, 'reference');
  const behaviour = PAYMENT_METHODS.get(paymentMethod);
  if (behaviour === undefined) {
    throw new HttpError(400, 'invalid_payment_method', `Unknown payment_method: ${paymentMethod}.`);
  }
  const charge: SimCharge = {
    id: newId('simch'),
    object: 'charge',
    reference,
    amount: next?.amount ?? amount,
    currency: next?.currency ?? currencyRaw.toLowerCase(),
    payment_method: paymentMethod,
    status: 'pending',
    failure_code: null,
    failure_message: null,
    amount_refunded: 0,
  };
  store.charges.set(charge.id, charge);
  if (!store.chargesByReference.has(reference)) store.chargesByReference.set(reference, charge.id);
  logger.info({ chargeId: charge.id, reference, amount, paymentMethod, reported: next }, 'psp simulator charge created');
  const settle = (): void => {
    if (behaviour.charge.status === 'succeeded') {
      charge.status = 'succeeded';
    } else {
      charge.status = 'failed';
      charge.failure_code = behaviour.charge.failureCode;
      charge.failure_message = behaviour.charge.failureMessage;
    }
    emit(charge.status === 'succeeded' ? 'charge.succeeded' : 'charge.failed', charge);
  };
  if (next?.early_webhook === true) settle();
  else later(settle);
  return { status: 200, body: { ...charge } };
}

/**
 * Stripe event objects and their delivery. Each event goes through the simulator's webhook
 * faults (drop, duplicate, reorder; counted in faults_injected) and is POSTed to
 * `stripe.webhookUrl`, signed `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>`
 * so that the official SDK's `stripe.webhooks.constructEvent` accepts it.
 */
import type { FaultInjector } from '../faults.ts';
import { WebhookSender, type SimLogger, type WebhookStats } from '../webhook-sender.ts';
import { stripeId, unixNow, type StripeDispute, type StripePaymentIntent, type StripeRefund } from './objects.ts';

export type StripeEventType =
  | 'payment_intent.succeeded'
  | 'payment_intent.payment_failed'
  | 'refund.created'
  | 'refund.updated'
  | 'refund.failed'
  | 'charge.refund.updated'
  | 'charge.dispute.created'
  | 'charge.dispute.updated'
  | 'charge.dispute.closed'
  | 'charge.dispute.funds_withdrawn'
  | 'charge.dispute.funds_reinstated';

export type StripeEventObject = StripePaymentIntent | StripeRefund | StripeDispute;

/** The API request that caused an event; both null for changes Stripe makes on its own (settling). */
export interface EventRequest {
  id: string | null;
  idempotency_key: string | null;
}

export const ASYNC_CHANGE: EventRequest = { id: null, idempotency_key: null };

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: StripeEventObject; previous_attributes?: Record<string, string | null> };
  livemode: false;
  pending_webhooks: number;
  request: EventRequest;
  type: StripeEventType;
}

export interface StripeWebhookTarget {
  webhookUrl: string | (() => string);
  webhookSecret: string;
}

export const STRIPE_SIGNATURE_HEADER = 'Stripe-Signature';

export class StripeEvents {
  private readonly sender: WebhookSender<StripeEvent> | null;
  private warnedUnsent = false;

  constructor(
    target: StripeWebhookTarget | undefined,
    private readonly apiVersion: string,
    private readonly faults: FaultInjector,
    private readonly logger: SimLogger,
  ) {
    if (target !== undefined && target.webhookSecret.length === 0) {
      throw new Error('PSP simulator: stripe.webhookSecret must not be empty');
    }
    this.sender =
      target === undefined
        ? null
        : new WebhookSender<StripeEvent>(target.webhookUrl, target.webhookSecret, logger, {
            signatureHeader: STRIPE_SIGNATURE_HEADER,
            label: 'psp simulator (stripe)',
          });
  }

  emit(
    type: StripeEventType,
    object: StripeEventObject,
    request: EventRequest,
    previousAttributes?: Record<string, string | null>,
  ): void {
    const event: StripeEvent = {
      id: stripeId('evt'),
      object: 'event',
      api_version: this.apiVersion,
      created: unixNow(),
      data: previousAttributes === undefined ? { object } : { object, previous_attributes: previousAttributes },
      livemode: false,
      pending_webhooks: this.sender === null ? 0 : 1,
      request,
      type,
    };
    if (this.sender === null) {
      if (!this.warnedUnsent) {
        this.warnedUnsent = true;
        this.logger.warn({ type, objectId: object.id }, 'psp simulator: no stripe webhook target configured; Stripe events are not sent');
      }
      return;
    }
    const decision = this.faults.decideWebhook();
    if (decision.drop) this.faults.count('webhook_drop');
    if (decision.duplicate) this.faults.count('webhook_duplicate');
    this.sender.send(event, decision);
  }

  stats(): WebhookStats | null {
    return this.sender?.getStats() ?? null;
  }

  stop(): void {
    this.sender?.stop();
  }
}

/** The native API's webhook events: each one may be dropped or duplicated by the webhook faults. */
import { newId, type SimCharge, type SimEvent, type SimRefund } from '../objects.ts';
import type { FaultInjector } from '../faults.ts';
import type { WebhookSender } from '../webhook-sender.ts';

export type Emit = (type: SimEvent['type'], object: SimCharge | SimRefund) => void;

export function createEmitter(faults: FaultInjector, webhooks: WebhookSender): Emit {
  return (type, object) => {
    const event: SimEvent = {
      id: newId('simevt'),
      type,
      created: Math.floor(Date.now() / 1000),
      data: { object: { ...object } },
    };
    const decision = faults.decideWebhook();
    if (decision.drop) faults.count('webhook_drop');
    if (decision.duplicate) faults.count('webhook_duplicate');
    webhooks.send(event, decision);
  };
}

/** The native API's webhook events: each one may be dropped or duplicated by the webhook faults. */
import { newId, type SimCharge, type SimDispute, type SimEvent, type SimRefund, type SimStatus } from '../objects.ts';
import type { FaultInjector } from '../faults.ts';
import type { WebhookSender } from '../webhook-sender.ts';

/** `previousStatus`: the settled status a refund leaves (a late failure), sent as data.previous_status. */
export type Emit = (type: SimEvent['type'], object: SimCharge | SimRefund | SimDispute, previousStatus?: SimStatus) => void;

export function createEmitter(faults: FaultInjector, webhooks: WebhookSender): Emit {
  return (type, object, previousStatus) => {
    const event: SimEvent = {
      id: newId('simevt'),
      type,
      created: Math.floor(Date.now() / 1000),
      data: previousStatus === undefined ? { object: { ...object } } : { object: { ...object }, previous_status: previousStatus },
    };
    const decision = faults.decideWebhook();
    if (decision.drop) faults.count('webhook_drop');
    if (decision.duplicate) faults.count('webhook_duplicate');
    webhooks.send(event, decision);
  };
}

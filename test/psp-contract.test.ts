/**
 * The PSP adapter contract: what every PspGateway must do, run against each adapter. Adding a
 * provider = implementing src/psp/gateway.ts and adding one entry to ADAPTERS (with a server
 * that speaks its API: here the simulator plays both its own PSP and Stripe).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { IgnoredWebhookEvent, PspPermanentError, PspTransientError, WebhookVerificationError, type PspGateway, type PspOutcome, type PspObjectEvent } from '../src/psp/gateway.ts';
import { createSimulatorGateway } from '../src/psp/simulator/adapter.ts';
import { createStripeGateway } from '../src/psp/stripe/adapter.ts';
import { startPspSimulator, type PspSimulator } from '../psp-simulator/index.ts';
import { eventually } from './helpers.ts';

const SIM_SECRET = 'whsec_contract_sim';
const STRIPE_SECRET = 'whsec_contract_stripe';

interface Adapter {
  name: string;
  make(baseUrl: string, timeoutMs?: number): PspGateway;
}

const ADAPTERS: Adapter[] = [
  { name: 'simulator', make: (baseUrl, timeoutMs = 3000) => createSimulatorGateway({ baseUrl, webhookSecret: SIM_SECRET, timeoutMs }) },
  { name: 'stripe', make: (baseUrl, timeoutMs = 3000) => createStripeGateway({ secretKey: 'sk_test_contract', webhookSecret: STRIPE_SECRET, apiBase: baseUrl, timeoutMs }) },
];

interface Delivery {
  raw: Buffer;
  headers: IncomingHttpHeaders;
}

let serial = 0;
const ref = (prefix: 'ch' | 're') => `${prefix}_contract${process.pid}x${++serial}`;

for (const adapter of ADAPTERS) {
  describe(`PSP adapter contract: ${adapter.name}`, () => {
    let simulator: PspSimulator;
    let gateway: PspGateway;
    const deliveries: Delivery[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        deliveries.push({ raw: Buffer.concat(chunks), headers: req.headers });
        res.writeHead(200).end('{}');
      });
    });

    before(async () => {
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      simulator = await startPspSimulator({ port: 0, webhookUrl: hook, webhookSecret: SIM_SECRET, stripe: { webhookUrl: hook, webhookSecret: STRIPE_SECRET }, settleMs: 20 });
      gateway = adapter.make(simulator.url);
    });
    after(async () => {
      await simulator.close();
      await new Promise((resolve) => receiver.close(resolve));
    });

    /** The events of one object that verify with this adapter, mapped. */
    function eventsFor(reference: string): PspObjectEvent[] {
      const events: PspObjectEvent[] = [];
      for (const d of deliveries) {
        try {
          const event = gateway.verifyWebhook(d.raw, { ...d.headers }, Date.now()) as PspObjectEvent;
          if (event.reference === reference) events.push(event);
        } catch (error) {
          if (!(error instanceof WebhookVerificationError || error instanceof IgnoredWebhookEvent)) throw error;
        }
      }
      return events;
    }

    /** The decided outcome: from the create answer, else from the object's webhook. */
    async function decided(reference: string, first: PspOutcome): Promise<PspOutcome> {
      if (first.status !== 'pending') return first;
      return eventually(async () => eventsFor(reference).find((e) => e.outcome.status !== 'pending')?.outcome, 5000, `a deciding webhook for ${reference}`);
    }

    async function succeededCharge(amount = 5000, paymentMethod = 'pm_card_visa'): Promise<{ reference: string; outcome: PspOutcome }> {
      const reference = ref('ch');
      const outcome = await decided(reference, await gateway.createCharge({ reference, amount, currency: 'usd', paymentMethod }));
      assert.equal(outcome.status, 'succeeded');
      return { reference, outcome };
    }

    it('accepts its test payment methods and refuses nonsense', () => {
      for (const pm of ['pm_card_visa', 'pm_card_chargeDeclined', 'pm_card_refundFail']) assert.ok(gateway.supportsPaymentMethod(pm), pm);
      assert.equal(gateway.supportsPaymentMethod('not a payment method'), false);
    });

    it('a charge succeeds, is announced by a verified webhook, and can be looked up with or without its PSP id', async () => {
      const { reference, outcome } = await succeededCharge();
      assert.ok(outcome.pspReference.length > 0);
      await eventually(async () => (eventsFor(reference).some((e) => e.objectType === 'charge' && e.outcome.status === 'succeeded') ? true : undefined), 5000, 'charge webhook');
      assert.equal((await gateway.getCharge({ reference, pspReference: outcome.pspReference }))?.status, 'succeeded');
      assert.equal((await gateway.getCharge({ reference, pspReference: null }))?.pspReference, outcome.pspReference);
    });

    it('a declined card fails the charge with card_declined', async () => {
      const reference = ref('ch');
      const outcome = await decided(reference, await gateway.createCharge({ reference, amount: 5000, currency: 'usd', paymentMethod: 'pm_card_chargeDeclined' }));
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.failureCode, 'card_declined');
      assert.ok(outcome.failureMessage);
    });

    it('the same reference twice is one charge at the PSP', async () => {
      const reference = ref('ch');
      const request = { reference, amount: 1234, currency: 'usd', paymentMethod: 'pm_card_visa' };
      const first = await gateway.createCharge(request);
      const second = await gateway.createCharge(request);
      assert.equal(second.pspReference, first.pspReference);
      const state = (await (await fetch(`${simulator.url}/sim/state`)).json()) as { charges: Array<{ reference: string }> };
      assert.equal(state.charges.filter((c) => c.reference === reference).length, 1);
    });

    it('partial refunds succeed and are found again; one beyond the charge is refused for good', async () => {
      const charge = await succeededCharge(5000);
      const refundRequest = (amount: number) => ({ reference: ref('re'), chargeReference: charge.reference, chargePspReference: charge.outcome.pspReference, amount, currency: 'usd' });
      const first = refundRequest(2000);
      const outcome = await decided(first.reference, await gateway.createRefund(first));
      assert.equal(outcome.status, 'succeeded');
      assert.equal((await gateway.getRefund({ reference: first.reference, pspReference: outcome.pspReference }))?.status, 'succeeded');
      assert.equal((await gateway.getRefund({ reference: first.reference, pspReference: null, chargePspReference: charge.outcome.pspReference }))?.pspReference, outcome.pspReference);
      // The same refund again is the same refund.
      assert.equal((await gateway.createRefund(first)).pspReference, outcome.pspReference);
      await assert.rejects(gateway.createRefund(refundRequest(3001)), PspPermanentError);
      const rest = refundRequest(3000);
      assert.equal((await decided(rest.reference, await gateway.createRefund(rest))).status, 'succeeded');
    });

    it('a refund the card network rejects ends failed', async () => {
      const charge = await succeededCharge(4000, 'pm_card_refundFail');
      const request = { reference: ref('re'), chargeReference: charge.reference, chargePspReference: charge.outcome.pspReference, amount: 4000, currency: 'usd' };
      const outcome = await decided(request.reference, await gateway.createRefund(request));
      assert.equal(outcome.status, 'failed');
      assert.ok(outcome.failureMessage);
    });

    it('never-seen objects are null, not failed', async () => {
      assert.equal(await gateway.getCharge({ reference: ref('ch'), pspReference: null }), null);
      const charge = await succeededCharge(1000);
      assert.equal(await gateway.getRefund({ reference: ref('re'), pspReference: null, chargePspReference: charge.outcome.pspReference }), null);
    });

    it('an unreachable PSP is a transient error, never a decision', async () => {
      const down = adapter.make('http://127.0.0.1:9', 500);
      await assert.rejects(down.createCharge({ reference: ref('ch'), amount: 100, currency: 'usd', paymentMethod: 'pm_card_visa' }), PspTransientError);
      await assert.rejects(down.getCharge({ reference: ref('ch'), pspReference: null }), PspTransientError);
    });

    it('a PSP 5xx is transient and moves nothing', async () => {
      await fetch(`${simulator.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failure_rate: 1 }) });
      const reference = ref('ch');
      try {
        await assert.rejects(gateway.createCharge({ reference, amount: 100, currency: 'usd', paymentMethod: 'pm_card_visa' }), PspTransientError);
      } finally {
        await fetch(`${simulator.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failure_rate: 0 }) });
      }
      assert.equal(await gateway.getCharge({ reference, pspReference: null }), null);
    });

    it('webhooks with a tampered body, a wrong secret or no signature are rejected', async () => {
      const { reference } = await succeededCharge(777);
      const delivery = await eventually(async () => deliveries.find((d) => d.raw.toString().includes(reference)), 5000, 'a delivery');
      const tampered = Buffer.from(delivery.raw.toString().replace('777', '778'));
      assert.throws(() => gateway.verifyWebhook(tampered, { ...delivery.headers }, Date.now()), WebhookVerificationError);
      assert.throws(() => gateway.verifyWebhook(delivery.raw, {}, Date.now()), WebhookVerificationError);
      const otherSecret = adapter.name === 'stripe' ? createStripeGateway({ secretKey: 'sk_test_x', webhookSecret: 'whsec_other', apiBase: simulator.url, timeoutMs: 1000 }) : createSimulatorGateway({ baseUrl: simulator.url, webhookSecret: 'whsec_other' });
      assert.throws(() => otherSecret.verifyWebhook(delivery.raw, { ...delivery.headers }, Date.now()), WebhookVerificationError);
      // Replayed much later: outside the 300 s tolerance.
      assert.throws(() => gateway.verifyWebhook(delivery.raw, { ...delivery.headers }, Date.now() + 600_000), WebhookVerificationError);
    });
  });
}

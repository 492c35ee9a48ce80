/**
 * The PSP adapter contract: what every PspGateway must do, run against each adapter. Adding a
 * provider = implementing src/psp/gateway.ts and adding one entry to ADAPTERS (with a server
 * that speaks its API: here the simulator plays both its own PSP and Stripe).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { IgnoredWebhookEvent, PspPermanentError, PspTransientError, WebhookVerificationError, type PspGateway, type PspOutcome, type PspObjectEvent, type PspWebhookEvent } from '../src/psp/gateway.ts';
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
      for (const pm of ['pm_card_visa', 'pm_card_chargeDeclined', 'pm_card_refundFail', 'pm_card_refundFailsLater', 'pm_card_refundReversed']) assert.ok(gateway.supportsPaymentMethod(pm), pm);
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

    it('a connection that could not be opened is not_sent (the request never left); one cut after the request was written is network (unknown)', async () => {
      const kindOf = async (call: Promise<unknown>): Promise<string> => {
        const error = await call.then(() => assert.fail('the call succeeded'), (e: unknown) => e);
        assert.ok(error instanceof PspTransientError, String(error));
        return error.kind;
      };
      const charge = (gateway: PspGateway) => gateway.createCharge({ reference: ref('ch'), amount: 100, currency: 'usd', paymentMethod: 'pm_card_visa' });
      const refund = (gateway: PspGateway) => gateway.createRefund({ reference: ref('re'), chargeReference: ref('ch'), chargePspReference: 'pi_contract', amount: 100, currency: 'usd' });
      // Refused: nothing listens on the port.
      assert.equal(await kindOf(charge(adapter.make('http://127.0.0.1:9', 1000))), 'not_sent');
      assert.equal(await kindOf(refund(adapter.make('http://127.0.0.1:9', 1000))), 'not_sent');
      // The host name does not resolve (.invalid never does).
      assert.equal(await kindOf(charge(adapter.make('http://fincore-psp.invalid:4010', 3000))), 'not_sent');
      // The PSP read the request, then the connection was reset, and nothing listens any more: a
      // client retry (stripe-node retries a reset once) is refused, but the first request was
      // written, so the outcome is unknown.
      const sockets = new Set<import('node:net').Socket>();
      const resetter = createTcpServer((socket) => {
        sockets.add(socket);
        socket.once('data', () => {
          resetter.close();
          socket.resetAndDestroy();
        });
      });
      await new Promise<void>((resolve) => resetter.listen(0, '127.0.0.1', resolve));
      try {
        assert.equal(await kindOf(charge(adapter.make(`http://127.0.0.1:${(resetter.address() as AddressInfo).port}`, 3000))), 'network');
      } finally {
        for (const socket of sockets) socket.destroy();
        resetter.close();
      }
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

    /** Every event that verifies with this adapter, mapped (disputes and refunds made at the PSP included). */
    function allEvents(): PspWebhookEvent[] {
      const events: PspWebhookEvent[] = [];
      for (const d of deliveries) {
        try {
          events.push(gateway.verifyWebhook(d.raw, { ...d.headers }, Date.now()));
        } catch (error) {
          if (!(error instanceof WebhookVerificationError || error instanceof IgnoredWebhookEvent)) throw error;
        }
      }
      return events;
    }

    async function control(path: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
      const res = await fetch(`${simulator.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const answer = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 200, JSON.stringify(answer));
      return answer;
    }

    it('issue 16: every charge and refund report (answers, lookups, webhooks) carries the amount, currency and PSP ids the PSP reports', async () => {
      const { reference, outcome } = await succeededCharge(3300);
      assert.deepEqual([outcome.amount, outcome.currency], [3300, 'usd']);
      const looked = await gateway.getCharge({ reference, pspReference: outcome.pspReference });
      assert.deepEqual([looked?.amount, looked?.currency], [3300, 'usd']);
      const request = { reference: ref('re'), chargeReference: reference, chargePspReference: outcome.pspReference, amount: 1100, currency: 'usd' };
      const created = await gateway.createRefund(request);
      assert.deepEqual([created.amount, created.currency], [1100, 'usd']);
      const event = await eventually(async () => eventsFor(request.reference).find((e) => e.outcome.status === 'succeeded'), 5000, 'refund webhook');
      assert.ok(event.objectType === 'refund');
      assert.deepEqual([event.outcome.amount, event.outcome.currency, event.outcome.pspReference], [1100, 'usd', created.pspReference]);
      assert.equal(event.chargePspReference, outcome.pspReference, "the charge by the PSP's id FinCore recorded");
      assert.equal(event.chargeReference, reference, "and by FinCore's id");
      const refundLooked = await gateway.getRefund({ reference: request.reference, pspReference: created.pspReference });
      assert.deepEqual([refundLooked?.amount, refundLooked?.currency], [1100, 'usd']);
    });

    it('issue 16: a PSP that reports another amount or currency is reported as such, not corrected', async () => {
      const { reference, outcome } = await succeededCharge(5000);
      await control('/sim/next-refund', { amount: 4999, currency: 'eur' });
      const request = { reference: ref('re'), chargeReference: reference, chargePspReference: outcome.pspReference, amount: 200, currency: 'usd' };
      const created = await gateway.createRefund(request);
      assert.deepEqual([created.amount, created.currency], [4999, 'eur']);
      const event = await eventually(async () => eventsFor(request.reference).find((e) => e.outcome.status !== 'pending'), 5000, 'refund webhook');
      assert.deepEqual([event.outcome.amount, event.outcome.currency], [4999, 'eur']);
    });

    it('issue 16: a refund that succeeds and fails later is reported failed after succeeded, for the same refund', async () => {
      await control('/sim/settings', { late_failure_ms: 50 });
      const charge = await succeededCharge(2000, 'pm_card_refundFailsLater');
      const request = { reference: ref('re'), chargeReference: charge.reference, chargePspReference: charge.outcome.pspReference, amount: 2000, currency: 'usd' };
      const created = await gateway.createRefund(request);
      const statuses = await eventually(
        async () => {
          const seen = eventsFor(request.reference).map((e) => e.outcome.status).filter((status) => status !== 'pending');
          return seen.includes('failed') ? seen : undefined;
        },
        5000,
        'the late failure',
      );
      assert.equal(statuses[0], 'succeeded');
      assert.equal(statuses.at(-1), 'failed');
      assert.equal((await gateway.getRefund({ reference: request.reference, pspReference: created.pspReference }))?.status, 'failed');
    });

    it('issue 16: a refund made at the PSP is reported with reference null, its amount and its charge', async () => {
      const charge = await succeededCharge(3000);
      const made = await control(`/sim/charges/${charge.reference}/refunds`, { amount: 700 });
      const id = String(made['id']);
      const events = await eventually(
        async () => {
          const mine = allEvents().flatMap((e) => (e.objectType === 'refund' && e.outcome.pspReference === id ? [e] : []));
          return mine.some((e) => e.outcome.status === 'succeeded') ? mine : undefined;
        },
        5000,
        'the PSP refund webhooks',
      );
      for (const event of events) {
        assert.ok(event.objectType === 'refund');
        assert.equal(event.reference, null);
        assert.equal(event.chargePspReference, charge.outcome.pspReference);
        assert.deepEqual([event.outcome.amount, event.outcome.currency], [700, 'usd']);
      }
      assert.equal((await gateway.getRefund({ reference: 're_fincore_imported', pspReference: id }))?.status, 'succeeded');
    });

    it('issue 16: a dispute opened then closed lost is reported open then lost, on the charge FinCore knows', async () => {
      const charge = await succeededCharge(2500);
      const opened = await control(`/sim/charges/${charge.reference}/disputes`, { reason: 'fraudulent' });
      const id = String(opened['id']);
      await control(`/sim/disputes/${id}/close`, { status: 'lost' });
      const reports = await eventually(
        async () => {
          const mine = allEvents().flatMap((e) => (e.objectType === 'dispute' && e.pspReference === id ? [e] : []));
          return mine.some((e) => e.status === 'lost') ? mine : undefined;
        },
        5000,
        'dispute webhooks',
      );
      assert.equal(reports[0]?.status, 'open');
      for (const report of reports) {
        assert.equal(report.chargePspReference, charge.outcome.pspReference);
        assert.deepEqual([report.amount, report.currency, report.reason], [2500, 'usd', 'fraudulent']);
      }
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

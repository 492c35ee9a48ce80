/**
 * What can still be refunded, on the public API (issue 17 item 2): the charge's
 * amount_refunded / amount_refund_pending / amount_refundable, and GET /v1/charges/{id}/refundability,
 * which answers what POST /v1/refunds would get now (the amount, or the exact same error) without
 * writing anything. Every answer is checked against a real POST /v1/refunds right after. Charges,
 * refunds in review and disputes are made through the flows the PSP paths use (settle.ts,
 * disputes.ts), worker off, over real HTTP on embedded (or a server with DATABASE_URL).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newId } from '../src/domain/ids.ts';
import { inTransaction } from '../src/db/pool.ts';
import { applyDisputeReport } from '../src/flows/disputes.ts';
import { settleCharge, settleRefund } from '../src/flows/settle.ts';
import type { PspDisputeReport, PspOutcome } from '../src/psp/gateway.ts';
import { call, createMerchant, type ChargeBody, type ErrorBody, type RefundBody, type TestFinCore, startTestFinCore } from './helpers.ts';

interface Refundability {
  object: 'refundability';
  charge_id: string;
  refundable: boolean;
  amount_refundable: number;
  amount_requested: number | null;
  error: { code: string; message: string } | null;
  rules: { currency: string; exponent: number; smallest_unit: string; charge_status: string; open_dispute: boolean; lost_to_disputes: number; reserved: number };
}

type Charge = ChargeBody & { amount_refund_pending: number; amount_refundable?: number };

const outcome = (status: PspOutcome['status'], extra: Partial<PspOutcome> = {}): PspOutcome => ({
  pspReference: 'psp_ref_test',
  status,
  failureCode: status === 'failed' ? 'card_declined' : null,
  failureMessage: status === 'failed' ? 'The PSP says it failed.' : null,
  ...extra,
});

describe('refundability', () => {
  let fincore: TestFinCore;
  let shop: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };

  before(async () => {
    fincore = await startTestFinCore({}, { api: true, worker: false, simulator: false });
    shop = await createMerchant(fincore.url, 'Refundability Shop');
    other = await createMerchant(fincore.url, 'Other Shop');
  });
  after(async () => {
    await fincore?.stop();
  });

  const pspCause = (id: string) => ({ type: 'psp_event' as const, id });
  const settleC = (id: string, report: PspOutcome) => inTransaction(fincore.db.pool, (tx) => settleCharge(tx, id, { ...report, pspReference: `psp_${id}` }, pspCause(newId('evt'))));
  const settleR = (id: string, report: PspOutcome) => inTransaction(fincore.db.pool, (tx) => settleRefund(tx, id, { ...report, pspReference: `psp_${id}` }, pspCause(newId('evt'))));
  const dispute = (chargeId: string, pspReference: string, status: PspDisputeReport['status'], amount: number) => {
    const eventId = newId('evt').replace('evt_', 'evt_psp_');
    const report: PspDisputeReport & { eventId: string } = {
      eventId, objectType: 'dispute', pspReference, chargeReference: chargeId, chargePspReference: null, amount, currency: 'usd', status,
      pspStatus: status === 'open' ? 'needs_response' : status, reason: 'fraudulent',
    };
    return inTransaction(fincore.db.pool, (tx) => applyDisputeReport({}, tx, report, { cause: { type: 'psp_event', id: eventId }, pspEventId: eventId }));
  };

  async function charge(amount: number, currency = 'usd', key = shop.apiKey): Promise<string> {
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key, body: { amount, currency, payment_method: 'pm_card_visa' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id;
  }
  async function paidCharge(amount: number, currency = 'usd'): Promise<string> {
    const id = await charge(amount, currency);
    assert.equal(await settleC(id, outcome('succeeded', { amount, currency })), 'settled');
    return id;
  }
  const refund = (chargeId: string, amount?: number) =>
    call<RefundBody & ErrorBody>(fincore.url, 'POST', '/v1/refunds', { key: shop.apiKey, body: { charge_id: chargeId, ...(amount === undefined ? {} : { amount }) } });
  const refundability = async (chargeId: string, amount?: number, key = shop.apiKey) =>
    call<Refundability & ErrorBody>(fincore.url, 'GET', `/v1/charges/${chargeId}/refundability${amount === undefined ? '' : `?amount=${amount}`}`, { key });
  const getCharge = async (id: string) => (await call<Charge>(fincore.url, 'GET', `/v1/charges/${id}`, { key: shop.apiKey })).body;
  const rowCount = async () => Number((await fincore.db.pool.query<{ n: number }>('SELECT (SELECT count(*) FROM refunds) + (SELECT count(*) FROM events) + (SELECT count(*) FROM jobs) AS n')).rows[0]?.n);

  /** The preview says what POST /v1/refunds then does: the same amount, or the same error. */
  async function previewAgreesWithRefund(chargeId: string, amount?: number): Promise<Refundability> {
    const before = await rowCount();
    const preview = await refundability(chargeId, amount);
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(await rowCount(), before, 'the preview writes nothing');
    const real = await refund(chargeId, amount);
    if (preview.body.refundable) {
      assert.equal(real.status, 201, JSON.stringify(real.body));
      assert.equal(real.body.amount, amount ?? preview.body.amount_refundable);
    } else {
      assert.equal(real.status, 400);
      assert.deepEqual(preview.body.error, { code: real.body.error.code, message: real.body.error.message });
    }
    return preview.body;
  }

  it('a fresh succeeded charge: everything, with the currency rules', async () => {
    const id = await paidCharge(5000);
    const answer = (await refundability(id)).body;
    assert.deepEqual(answer, {
      object: 'refundability', charge_id: id, refundable: true, amount_refundable: 5000, amount_requested: null, error: null,
      rules: { currency: 'usd', exponent: 2, smallest_unit: '0.01', charge_status: 'succeeded', open_dispute: false, lost_to_disputes: 0, reserved: 0 },
    });
    const shown = await getCharge(id);
    assert.equal(shown.amount_refundable, 5000);
    assert.equal(shown.amount_refund_pending, 0);
    assert.equal(shown.amount_refunded, 0);
    const kwd = await paidCharge(1500, 'kwd');
    assert.deepEqual({ ...(await refundability(kwd)).body.rules }, { currency: 'kwd', exponent: 3, smallest_unit: '0.001', charge_status: 'succeeded', open_dispute: false, lost_to_disputes: 0, reserved: 0 });
    const jpy = await paidCharge(1500, 'jpy');
    assert.equal((await refundability(jpy)).body.rules.smallest_unit, '1');
  });

  it('pending, succeeded, failed and in-review refunds: amount_refund_pending and amount_refundable follow them', async () => {
    const id = await paidCharge(10_000);
    const r1 = await refund(id, 1000);
    const r2 = await refund(id, 2000);
    const r3 = await refund(id, 3000);
    const r4 = await refund(id, 500);
    assert.equal(await settleR(r1.body.id, outcome('succeeded')), 'settled');
    assert.equal(await settleR(r2.body.id, outcome('failed')), 'settled');
    // r3: the PSP reports another amount: in review, its amount held.
    assert.equal(await settleR(r3.body.id, outcome('succeeded', { amount: 2999, currency: 'usd' })), 'review_opened');
    const shown = await getCharge(id);
    assert.equal(shown.amount_refunded, 1000);
    assert.equal(shown.amount_refund_pending, 3500, 'r3 in review + r4 pending');
    assert.equal(shown.amount_refundable, 10_000 - 1000 - 3000 - 500);
    const preview = (await refundability(id)).body;
    assert.equal(preview.amount_refundable, 5500);
    assert.equal(preview.rules.reserved, 4500);
    // The list shows the pending amount too (amount_refundable only where disputes are read).
    const listed = await call<{ data: Charge[] }>(fincore.url, 'GET', '/v1/charges?limit=100', { key: shop.apiKey });
    const inList = listed.body.data.find((c) => c.id === id);
    assert.equal(inList?.amount_refund_pending, 3500);
    assert.equal(inList?.amount_refundable, undefined);

    // Too much: amount_too_large, exactly as the refund gets it; then a fitting amount; then the rest.
    const tooMuch = await previewAgreesWithRefund(id, 6000);
    assert.equal(tooMuch.error?.code, 'amount_too_large');
    assert.equal(tooMuch.amount_refundable, 5500, 'amount_refundable still says what no amount would get');
    assert.equal(tooMuch.amount_requested, 6000);
    assert.equal((await previewAgreesWithRefund(id, 2500)).refundable, true);
    assert.equal((await previewAgreesWithRefund(id)).amount_refundable, 3000);
    // Nothing left: charge_already_refunded, and 0 on the charge.
    const none = await previewAgreesWithRefund(id);
    assert.equal(none.error?.code, 'charge_already_refunded');
    assert.equal(none.amount_refundable, 0);
    assert.equal((await getCharge(id)).amount_refundable, 0);
  });

  it('a charge not succeeded: charge_not_refundable; an invalid amount: parameter_invalid', async () => {
    const pending = await charge(4000);
    const answer = await previewAgreesWithRefund(pending);
    assert.equal(answer.error?.code, 'charge_not_refundable');
    assert.equal(answer.rules.charge_status, 'pending');
    assert.equal(answer.amount_refundable, 0);
    assert.equal((await getCharge(pending)).amount_refundable, 0);
    const paid = await paidCharge(4000);
    const zero = await refundability(paid, 0);
    assert.equal(zero.status, 200);
    assert.equal(zero.body.error?.code, 'parameter_invalid');
    assert.equal((await refundability(paid, 'x' as unknown as number)).status, 400, 'a non-integer amount is a bad question');
  });

  it('disputes: open refuses (charge_disputed); lost takes its amount out; won allows again', async () => {
    const id = await paidCharge(5000);
    assert.equal((await refund(id, 1000)).status, 201);
    assert.equal(await dispute(id, `du_${id}`, 'open', 5000), 'dispute_recorded');
    const open = await previewAgreesWithRefund(id);
    assert.equal(open.error?.code, 'charge_disputed');
    assert.equal(open.rules.open_dispute, true);
    assert.equal((await getCharge(id)).amount_refundable, 0);
    await dispute(id, `du_${id}`, 'won', 5000);
    assert.equal((await refundability(id)).body.amount_refundable, 4000);

    const partly = await paidCharge(5000);
    await dispute(partly, `du_${partly}`, 'open', 3000);
    await dispute(partly, `du_${partly}`, 'lost', 3000);
    const lost = (await refundability(partly)).body;
    assert.deepEqual({ refundable: lost.refundable, amount: lost.amount_refundable, lost: lost.rules.lost_to_disputes, open: lost.rules.open_dispute }, { refundable: true, amount: 2000, lost: 3000, open: false });
    assert.equal((await getCharge(partly)).amount_refundable, 2000);
    const over = await previewAgreesWithRefund(partly, 2500);
    assert.equal(over.error?.code, 'amount_too_large');
    assert.match(over.error?.message ?? '', /lost to disputes/);
    await previewAgreesWithRefund(partly);
    const gone = await paidCharge(5000);
    await dispute(gone, `du_${gone}`, 'lost', 5000);
    assert.equal((await previewAgreesWithRefund(gone)).error?.code, 'charge_disputed');
  });

  it("another merchant's charge or none: 404, as the refund would get", async () => {
    const theirs = await charge(1000, 'usd', other.apiKey);
    assert.equal((await refundability(theirs)).status, 404);
    assert.equal((await refundability('ch_nope')).body.error.code, 'resource_missing');
  });
});

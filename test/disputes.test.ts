/**
 * Disputes (chargebacks, issue 16 item 5), end to end from the flow that applies a PSP dispute
 * report (flows/disputes.ts, as the webhook intake calls it) to what a merchant sees over HTTP:
 * the charge shows its disputes, an open one refuses refunds (charge_disputed), a won one allows
 * them again, a lost one takes its amount out of what is refundable and posts `dispute_lost`.
 * The PSP adapters' mapping of dispute webhooks is tested with the adapters; here the report is
 * handed to the flow directly. The audit trail (events, ledger) is verified when FinCore stops.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newId } from '../src/domain/ids.ts';
import { inTransaction } from '../src/db/pool.ts';
import { applyDisputeReport } from '../src/flows/disputes.ts';
import { disputeReports } from '../src/metrics.ts';
import type { PspDisputeReport } from '../src/psp/gateway.ts';
import { call, createMerchant, settledCharge, startTestFinCore, type ChargeBody, type ErrorBody, type RefundBody, type TestFinCore } from './helpers.ts';

interface DisputeBody {
  id: string;
  object: string;
  charge_id: string;
  amount: number;
  currency: string;
  status: string;
  psp_status: string;
  reason: string | null;
  created_at: string;
  updated_at: string;
}

describe('disputes', () => {
  let fincore: TestFinCore;
  let merchant: { id: string; apiKey: string };
  before(async () => {
    fincore = await startTestFinCore();
    merchant = await createMerchant(fincore.url);
  });
  after(() => fincore.stop());

  function report(charge: { id: string } | { pspReference: string }, pspReference: string, status: PspDisputeReport['status'], amount: number, pspStatus: string = status === 'open' ? 'needs_response' : status): PspDisputeReport & { eventId: string } {
    return {
      eventId: newId('evt').replace('evt_', 'evt_psp_'),
      objectType: 'dispute',
      pspReference,
      chargeReference: 'id' in charge ? charge.id : null,
      chargePspReference: 'pspReference' in charge ? charge.pspReference : null,
      amount,
      currency: 'usd',
      status,
      pspStatus,
      reason: 'fraudulent',
    };
  }

  const apply = (event: PspDisputeReport & { eventId: string }) =>
    inTransaction(fincore.db.pool, (tx) => applyDisputeReport({}, tx, event, { cause: { type: 'psp_event', id: event.eventId }, pspEventId: event.eventId }));

  const getCharge = async (id: string) => (await call<ChargeBody & { disputes: DisputeBody[] }>(fincore.url, 'GET', `/v1/charges/${id}`, { key: merchant.apiKey })).body;
  const refund = (chargeId: string, amount?: number) => call<RefundBody & ErrorBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: chargeId, ...(amount === undefined ? {} : { amount }) } });
  const eventsOf = async (objectId: string) =>
    (await fincore.db.pool.query<{ type: string; sequence: number; data: { dispute: DisputeBody; previous_attributes?: Record<string, unknown> } }>('SELECT type, sequence, data FROM events WHERE object_id = $1 ORDER BY sequence', [objectId])).rows;
  const lossEntries = async (chargeId: string) =>
    (await fincore.db.pool.query<{ account: string; amount: number; currency: string }>(`SELECT account, amount, currency FROM ledger_entries WHERE charge_id = $1 AND movement = 'dispute_lost' ORDER BY account`, [chargeId])).rows;
  const counted = async (status: string, result: string) => (await disputeReports.get()).values.find((v) => v.labels.status === status && v.labels.result === result)?.value ?? 0;

  it('an open dispute shows on the charge and refuses refunds; won, refunds are allowed again', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
    assert.deepEqual((await getCharge(charge.id)).disputes, [], 'no disputes: an empty array');
    // A refund before the dispute: it keeps its reservation.
    assert.equal((await refund(charge.id, 1000)).status, 201);

    assert.equal(await apply(report(charge, 'du_open_1', 'open', 5000)), 'dispute_recorded');
    const shown = (await getCharge(charge.id)).disputes;
    assert.equal(shown.length, 1);
    const dispute = shown[0];
    assert.ok(dispute);
    assert.match(dispute.id, /^dp_/);
    assert.deepEqual(
      { object: dispute.object, charge_id: dispute.charge_id, amount: dispute.amount, currency: dispute.currency, status: dispute.status, psp_status: dispute.psp_status, reason: dispute.reason },
      { object: 'dispute', charge_id: charge.id, amount: 5000, currency: 'usd', status: 'open', psp_status: 'needs_response', reason: 'fraudulent' },
    );

    const refused = await refund(charge.id, 100);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'charge_disputed');
    assert.match(refused.body.error.message, /open dispute/);
    assert.equal(refused.body.error.param, 'charge_id');

    // The PSP resends the same event: nothing changes, no event.
    assert.equal(await apply(report(charge, 'du_open_1', 'open', 5000)), 'dispute_recorded');
    // Evidence submitted: still open, the PSP's status moves.
    assert.equal(await apply(report(charge, 'du_open_1', 'open', 5000, 'under_review')), 'dispute_recorded');
    assert.equal((await refund(charge.id)).body.error.code, 'charge_disputed');
    // Won: the money stays, refunds are allowed again, up to what refunds do not hold.
    const closedBefore = await counted('won', 'closed');
    assert.equal(await apply(report(charge, 'du_open_1', 'won', 5000)), 'dispute_recorded');
    assert.equal(await counted('won', 'closed'), closedBefore + 1);
    const rest = await refund(charge.id);
    assert.equal(rest.status, 201, JSON.stringify(rest.body));
    assert.equal(rest.body.amount, 4000);

    const events = await eventsOf(dispute.id);
    assert.deepEqual(events.map((e) => [e.sequence, e.type, e.data.dispute.status, e.data.dispute.psp_status]), [
      [1, 'charge.dispute.created', 'open', 'needs_response'],
      [2, 'charge.dispute.updated', 'open', 'under_review'],
      [3, 'charge.dispute.closed', 'won', 'won'],
    ]);
    assert.deepEqual(events[2]?.data.previous_attributes, { status: 'open', psp_status: 'under_review' });
    assert.deepEqual(await lossEntries(charge.id), [], 'a won dispute moves no money');
    const listed = await call<{ data: { type: string; data: { object_type: string; object: DisputeBody } }[] }>(fincore.url, 'GET', `/v1/events?type=charge.dispute.closed`, { key: merchant.apiKey });
    assert.ok(listed.body.data.some((e) => e.data.object_type === 'dispute' && e.data.object.id === dispute.id), 'the merchant hears it through GET /v1/events');
  });

  it('a lost dispute takes its amount out of what is refundable and posts dispute_lost; lost is final', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
    // Found by the PSP's id of the charge, as a PSP dispute made without FinCore's metadata is.
    const { rows } = await fincore.db.pool.query<{ psp_reference: string }>('SELECT psp_reference FROM payments WHERE id = $1', [charge.id]);
    const pspReference = rows[0]?.psp_reference;
    assert.ok(pspReference, 'the simulator recorded a PSP reference');
    assert.equal(await apply(report({ pspReference }, 'du_lost_1', 'open', 1500)), 'dispute_recorded');
    assert.equal((await refund(charge.id, 1)).body.error.code, 'charge_disputed');
    assert.equal(await apply(report({ pspReference }, 'du_lost_1', 'lost', 1500)), 'dispute_recorded');

    const dispute = (await getCharge(charge.id)).disputes[0];
    assert.equal(dispute?.status, 'lost');
    assert.deepEqual(await lossEntries(charge.id), [
      { account: 'merchant_balance', amount: 1500, currency: 'usd' },
      { account: 'psp_clearing', amount: -1500, currency: 'usd' },
    ]);
    const tooMuch = await refund(charge.id, 3501);
    assert.equal(tooMuch.status, 400);
    assert.equal(tooMuch.body.error.code, 'amount_too_large');
    assert.match(tooMuch.body.error.message, /refundable amount \(3500\).*lost to disputes/);
    const rest = await refund(charge.id);
    assert.equal(rest.status, 201, JSON.stringify(rest.body));
    assert.equal(rest.body.amount, 3500);
    // Refunds hold 3500, the dispute took 1500: not "fully refunded", charged back.
    const none = await refund(charge.id, 1);
    assert.equal(none.body.error.code, 'charge_disputed');
    assert.match(none.body.error.message, /lost disputes took 1500 of its 5000, and refunds hold 3500/);

    // A later report saying won (or open again) is refused: the loss is posted, it stays.
    const refusedBefore = await counted('won', 'refused_lost_is_final');
    assert.equal(await apply(report({ pspReference }, 'du_lost_1', 'won', 1500)), 'dispute_recorded');
    assert.equal(await counted('won', 'refused_lost_is_final'), refusedBefore + 1);
    assert.equal((await getCharge(charge.id)).disputes[0]?.status, 'lost');
    assert.equal((await lossEntries(charge.id)).length, 2, 'posted once');
    assert.deepEqual((await eventsOf(dispute?.id ?? '')).map((e) => e.type), ['charge.dispute.created', 'charge.dispute.closed']);
  });

  it('a dispute first heard as lost is created and closed at once; a whole-charge loss leaves nothing: charge_disputed', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 2000);
    assert.equal(await apply(report(charge, 'du_lost_at_once', 'lost', 2000)), 'dispute_recorded');
    const dispute = (await getCharge(charge.id)).disputes[0];
    assert.equal(dispute?.status, 'lost');
    assert.deepEqual((await eventsOf(dispute?.id ?? '')).map((e) => e.type), ['charge.dispute.created', 'charge.dispute.closed']);
    assert.equal((await lossEntries(charge.id)).length, 2);
    const refused = await refund(charge.id);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'charge_disputed');
    assert.match(refused.body.error.message, /lost disputes took 2000/);
  });

  it('a dispute of a charge FinCore does not hold is parked; once recorded, another charge cannot take it', async () => {
    assert.equal(await apply(report({ pspReference: 'ch_psp_unknown' }, 'du_unknown', 'open', 100)), 'parked');
    assert.equal(await apply(report({ id: 'ch_missing' }, 'du_unknown', 'open', 100)), 'parked');
    const { rows } = await fincore.db.pool.query('SELECT 1 FROM disputes WHERE psp_reference = $1', ['du_unknown']);
    assert.equal(rows.length, 0);

    const first = await settledCharge(fincore.url, merchant.apiKey, 1000);
    const second = await settledCharge(fincore.url, merchant.apiKey, 1000);
    assert.equal(await apply(report(first, 'du_shared', 'open', 1000)), 'dispute_recorded');
    assert.equal(await apply(report(second, 'du_shared', 'lost', 1000)), 'dispute_recorded');
    assert.equal((await getCharge(first.id)).disputes[0]?.status, 'open');
    assert.deepEqual((await getCharge(second.id)).disputes, []);
    // The first charge's dispute is won after all: the audit trail stays whole either way.
    assert.equal(await apply(report(first, 'du_shared', 'won', 1000)), 'dispute_recorded');
  });

  it('another merchant never sees the dispute', async () => {
    const other = await createMerchant(fincore.url, 'Other');
    const charge = await settledCharge(fincore.url, merchant.apiKey, 1000);
    assert.equal(await apply(report(charge, 'du_private', 'open', 1000)), 'dispute_recorded');
    const theirs = await call<ErrorBody>(fincore.url, 'GET', `/v1/charges/${charge.id}`, { key: other.apiKey });
    assert.equal(theirs.status, 404);
    assert.equal(await apply(report(charge, 'du_private', 'won', 1000)), 'dispute_recorded');
  });
});

/**
 * Updating the merchant's own fields (issue 17 item 6) over real HTTP: POST /v1/charges/{id}
 * (metadata, description) and POST /v1/refunds/{id} (metadata), Stripe's semantics (keys merged,
 * "" removes a key, metadata "" removes every key, description null clears), each change with its charge.updated / refund.updated
 * event (previous_attributes: the fields before), nothing about the money changed, and
 * Idempotency-Key as on the other POSTs. Worker off: nothing moves behind the test's back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inTransaction } from '../src/db/pool.ts';
import { settleCharge } from '../src/flows/settle.ts';
import { call, createMerchant, type ChargeBody, type ErrorBody, type ListBody, type RefundBody, type TestFinCore, startTestFinCore } from './helpers.ts';

interface EventBody {
  id: string;
  type: string;
  sequence: number;
  data: { object_type: string; object_id: string; object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  cause: { type: string; id: string; idempotency_key: string | null };
}

describe('charge and refund updates', () => {
  let fincore: TestFinCore;
  let shop: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };

  before(async () => {
    fincore = await startTestFinCore({}, { api: true, worker: false, simulator: false });
    shop = await createMerchant(fincore.url, 'Update Shop');
    other = await createMerchant(fincore.url, 'Other Shop');
  });
  after(async () => {
    await fincore?.stop();
  });

  const post = <T>(path: string, body: unknown, options: { key?: string; idempotencyKey?: string } = {}) =>
    call<T & ErrorBody>(fincore.url, 'POST', path, { key: options.key ?? shop.apiKey, body, ...(options.idempotencyKey ? { headers: { 'idempotency-key': options.idempotencyKey } } : {}) });
  const eventsOf = async (objectId: string) =>
    (await call<ListBody<EventBody>>(fincore.url, 'GET', `/v1/events?object_id=${objectId}&limit=100`, { key: shop.apiKey })).body.data;

  async function newCharge(metadata: Record<string, string> = { order_id: '6735', gift: 'yes' }): Promise<ChargeBody> {
    const created = await post<ChargeBody>('/v1/charges', { amount: 5000, currency: 'usd', payment_method: 'pm_card_visa', description: 'Order 6735', metadata });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body;
  }

  it('charge: metadata merged, "" removes a key, description replaced then cleared, each with charge.updated', async () => {
    const charge = await newCharge();
    const first = await post<ChargeBody & { amount_refundable: number }>(`/v1/charges/${charge.id}`, { metadata: { gift: '', note: 'call first' }, description: 'Order 6735 (2 items)' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body.metadata, { order_id: '6735', note: 'call first' });
    assert.equal(first.body.description, 'Order 6735 (2 items)');
    assert.equal(first.body.amount, 5000, 'the money is untouched');
    assert.equal(first.body.status, 'pending');
    assert.equal(first.body.amount_refundable, 0, 'as GET shows it: pending, nothing refundable');
    const got = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${charge.id}`, { key: shop.apiKey });
    // GET adds what FinCore knows of its PSP call (psp_status, next_check_at: retrieve and list only).
    assert.deepEqual(withoutPspProgress(got.body), first.body, 'GET shows what the update answered');

    const cleared = await post<ChargeBody>(`/v1/charges/${charge.id}`, { description: null });
    assert.equal(cleared.body.description, null);
    assert.deepEqual(cleared.body.metadata, { order_id: '6735', note: 'call first' }, 'metadata not given: unchanged');

    const events = await eventsOf(charge.id);
    assert.deepEqual(events.map((e) => e.type), ['charge.updated', 'charge.updated', 'charge.created']);
    const [second, firstUpdate] = events;
    assert.deepEqual(firstUpdate?.data.previous_attributes, { metadata: { order_id: '6735', gift: 'yes' }, description: 'Order 6735' });
    assert.deepEqual(firstUpdate?.data.object.metadata, { order_id: '6735', note: 'call first' });
    assert.equal(firstUpdate?.cause.type, 'api_request');
    assert.deepEqual(second?.data.previous_attributes, { description: 'Order 6735 (2 items)' });
    assert.equal(second?.sequence, 3);
  });

  it('an update that changes nothing writes no event; too many keys and unknown fields are refused', async () => {
    const charge = await newCharge({ a: '1' });
    assert.equal((await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata: { a: '1' }, description: 'Order 6735' })).status, 200);
    assert.equal((await post<ChargeBody>(`/v1/charges/${charge.id}`, {})).status, 200);
    assert.equal((await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata: { missing: '' } })).status, 200, 'removing an absent key changes nothing');
    assert.deepEqual((await eventsOf(charge.id)).map((e) => e.type), ['charge.created']);

    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v']));
    const tooMany = await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata: many });
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.error.code, 'parameter_invalid');
    assert.equal(tooMany.body.error.param, 'metadata');
    const unknown = await post<ChargeBody>(`/v1/charges/${charge.id}`, { amount: 1 });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.code, 'parameter_unknown');
    assert.deepEqual((await eventsOf(charge.id)).map((e) => e.type), ['charge.created']);
  });

  it("another merchant's charge or refund, or none: 404", async () => {
    const charge = await newCharge();
    const theirs = await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata: { x: 'y' } }, { key: other.apiKey });
    assert.equal(theirs.status, 404);
    assert.equal(theirs.body.error.code, 'resource_missing');
    assert.equal((await post<RefundBody>('/v1/refunds/re_nope', { metadata: { x: 'y' } })).status, 404);
  });

  it('Idempotency-Key: the same update replays (one event); another body with the key is refused', async () => {
    const charge = await newCharge();
    const key = `upd-${charge.id}`;
    const first = await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata: { step: '1' } }, { idempotencyKey: key });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    // Changed meanwhile without the key: the replay still answers the stored response.
    await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata: { step: '2' } });
    const again = await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata: { step: '1' } }, { idempotencyKey: key });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(again.body, first.body);
    const reused = await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata: { step: '3' } }, { idempotencyKey: key });
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error.code, 'idempotency_key_reused');
    const updates = (await eventsOf(charge.id)).filter((e) => e.type === 'charge.updated');
    assert.equal(updates.length, 2);
    assert.equal(updates[1]?.cause.idempotency_key, key);
  });

  it('refund: metadata merged with refund.updated; amount, status and reason unchanged', async () => {
    const charge = await newCharge();
    await inTransaction(fincore.db.pool, (tx) =>
      settleCharge(tx, charge.id, { pspReference: `psp_${charge.id}`, status: 'succeeded', failureCode: null, failureMessage: null }, { type: 'psp_event', id: `evt_${charge.id}` }),
    );
    const refund = await post<RefundBody>('/v1/refunds', { charge_id: charge.id, amount: 1500, reason: 'requested_by_customer', metadata: { ticket: 'T-1', escalated: 'no' } });
    assert.equal(refund.status, 201, JSON.stringify(refund.body));
    const key = `upd-${refund.body.id}`;
    const updated = await post<RefundBody>(`/v1/refunds/${refund.body.id}`, { metadata: { escalated: '', agent: 'ana' } }, { idempotencyKey: key });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.deepEqual(updated.body.metadata, { ticket: 'T-1', agent: 'ana' });
    assert.deepEqual(
      { amount: updated.body.amount, status: updated.body.status, reason: updated.body.reason, charge_id: updated.body.charge_id },
      { amount: 1500, status: 'pending', reason: 'requested_by_customer', charge_id: charge.id },
    );
    const replay = await post<RefundBody>(`/v1/refunds/${refund.body.id}`, { metadata: { escalated: '', agent: 'ana' } }, { idempotencyKey: key });
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    const events = await eventsOf(refund.body.id);
    assert.deepEqual(events.map((e) => e.type), ['refund.updated', 'refund.created']);
    assert.deepEqual(events[0]?.data.previous_attributes, { metadata: { ticket: 'T-1', escalated: 'no' } });
    assert.deepEqual(events[0]?.data.object.metadata, { ticket: 'T-1', agent: 'ana' });
    const got = await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${refund.body.id}`, { key: shop.apiKey });
    assert.deepEqual(withoutPspProgress(got.body), updated.body);
    // The database still refuses every other change of a refund (migration 018).
    await assert.rejects(fincore.db.pool.query('UPDATE refunds SET amount = 1 WHERE id = $1', [refund.body.id]), /never change/);
    await assert.rejects(fincore.db.pool.query(`UPDATE refunds SET reason = 'duplicate' WHERE id = $1`, [refund.body.id]), /never change/);
    const unknown = await post<RefundBody>(`/v1/refunds/${refund.body.id}`, { amount: 1 });
    assert.equal(unknown.body.error.code, 'parameter_unknown');
  });

  it('metadata "" clears every key (Stripe\'s convention), with charge.updated / refund.updated carrying the keys before; clearing empty metadata writes nothing', async () => {
    const charge = await newCharge({ order_id: '6735', gift: 'yes' });
    const cleared = await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata: '' });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.deepEqual(cleared.body.metadata, {});
    assert.equal(cleared.body.description, 'Order 6735', 'only metadata changes');
    const chargeEvents = await eventsOf(charge.id);
    assert.deepEqual(chargeEvents.map((e) => e.type), ['charge.updated', 'charge.created']);
    assert.deepEqual(chargeEvents[0]?.data.previous_attributes, { metadata: { order_id: '6735', gift: 'yes' } });
    assert.deepEqual(chargeEvents[0]?.data.object.metadata, {});
    assert.equal((await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata: '' })).status, 200);
    assert.equal((await eventsOf(charge.id)).length, 2, 'already empty: no event');
    // Keys can be set again after a clear.
    assert.deepEqual((await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata: { order_id: '6736' } })).body.metadata, { order_id: '6736' });

    const paid = await newCharge();
    await inTransaction(fincore.db.pool, (tx) =>
      settleCharge(tx, paid.id, { pspReference: `psp_${paid.id}`, status: 'succeeded', failureCode: null, failureMessage: null }, { type: 'psp_event', id: `evt_${paid.id}` }),
    );
    const refund = await post<RefundBody>('/v1/refunds', { charge_id: paid.id, amount: 700, metadata: { ticket: 'T-2', agent: 'ana' } });
    assert.equal(refund.status, 201, JSON.stringify(refund.body));
    const refundCleared = await post<RefundBody>(`/v1/refunds/${refund.body.id}`, { metadata: '' }, { idempotencyKey: `clear-${refund.body.id}` });
    assert.equal(refundCleared.status, 200, JSON.stringify(refundCleared.body));
    assert.deepEqual(refundCleared.body.metadata, {});
    assert.equal(refundCleared.body.amount, 700);
    const refundEvents = await eventsOf(refund.body.id);
    assert.deepEqual(refundEvents.map((e) => e.type), ['refund.updated', 'refund.created']);
    assert.deepEqual(refundEvents[0]?.data.previous_attributes, { metadata: { ticket: 'T-2', agent: 'ana' } });
    const got = await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${refund.body.id}`, { key: shop.apiKey });
    assert.deepEqual(got.body.metadata, {});
  });

  it('metadata that is neither an object nor "" is a 400 parameter_invalid naming metadata and what it may be; nothing changes', async () => {
    const charge = await newCharge({ order_id: '6735' });
    for (const metadata of ['x', ' ', 5, true, null, ['a'], { k: 5 }]) {
      const refused = await post<ChargeBody>(`/v1/charges/${charge.id}`, { metadata });
      assert.equal(refused.status, 400, `${JSON.stringify(metadata)}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error.code, 'parameter_invalid', JSON.stringify(metadata));
      assert.equal(refused.body.error.type, 'invalid_request_error');
      assert.equal(refused.body.error.param, 'metadata');
      if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
        assert.match(refused.body.error.message, /^Invalid metadata: metadata must be an object of string keys .* or "" to remove every key\.$/, JSON.stringify(metadata));
      }
    }
    const refund = await post<RefundBody & ErrorBody>('/v1/refunds/re_whatever', { metadata: 'x' });
    assert.equal(refund.status, 400, 'validated before the refund is looked up');
    assert.equal(refund.body.error.param, 'metadata');
    assert.deepEqual((await eventsOf(charge.id)).map((e) => e.type), ['charge.created']);
  });
});

/** An object without psp_status / next_check_at, which retrieve and list add and update answers leave out. */
function withoutPspProgress<T extends object>(object: T): T {
  const { psp_status: _status, next_check_at: _next, ...rest } = object as T & { psp_status?: unknown; next_check_at?: unknown };
  return rest as T;
}

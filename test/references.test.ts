/**
 * A merchant's `reference` on charges and refunds (issue 17 item 3, API.md "References"): unique
 * for ever (per merchant for charges, per charge for refunds), beyond the Idempotency-Key's
 * retention; a second create with it is 400 reference_already_used naming the object that has it,
 * under any concurrency, writing nothing. Shown on the objects and filterable in lists. Through
 * real HTTP, on embedded PGlite and (DATABASE_URL) on a server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, createMerchant, settledCharge, startTestFinCore, type ErrorBody, type ListBody, type TestFinCore } from './helpers.ts';

interface Created {
  id: string;
  reference: string | null;
}

describe('references dedupe charges and refunds for ever', () => {
  let fincore: TestFinCore;
  let merchant: { id: string; apiKey: string };
  before(async () => {
    fincore = await startTestFinCore();
    merchant = await createMerchant(fincore.url);
  });
  after(() => fincore.stop());

  const refund = (body: Record<string, unknown>, idempotencyKey?: string, apiKey = merchant.apiKey) =>
    call<Created & ErrorBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body, headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} });
  const charge = (body: Record<string, unknown>, idempotencyKey?: string, apiKey = merchant.apiKey) =>
    call<Created & ErrorBody>(fincore.url, 'POST', '/v1/charges', {
      key: apiKey,
      body: { amount: 5000, currency: 'usd', payment_method: 'pm_card_visa', ...body },
      headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {},
    });

  function assertReferenceUsed(answer: { status: number; body: ErrorBody }, existingId: string): void {
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error.code, 'reference_already_used');
    assert.equal(answer.body.error.type, 'invalid_request_error');
    assert.equal(answer.body.error.param, 'reference');
    assert.match(answer.body.error.message, new RegExp(existingId));
    assert.equal((answer.body.error as { existing_id?: string }).existing_id, existingId);
  }

  async function count(sql: string, params: unknown[]): Promise<number> {
    const { rows } = await fincore.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params);
    return rows[0]?.n ?? 0;
  }

  it('a refund reference: the same key replays, a new key or none is refused naming the refund, also after the key record expired', async () => {
    const ch = await settledCharge(fincore.url, merchant.apiKey, 5000);
    const first = await refund({ charge_id: ch.id, amount: 1000, reference: 'rma-1' }, 'ref-k1');
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.reference, 'rma-1');
    const retrieved = await call<Created>(fincore.url, 'GET', `/v1/refunds/${first.body.id}`, { key: merchant.apiKey });
    assert.equal(retrieved.body.reference, 'rma-1');

    const replay = await refund({ charge_id: ch.id, amount: 1000, reference: 'rma-1' }, 'ref-k1');
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.body.id, first.body.id);

    const newKey = await refund({ charge_id: ch.id, amount: 1000, reference: 'rma-1' }, 'ref-k2');
    assertReferenceUsed(newKey, first.body.id);
    // The refusal is that key's stored answer.
    const newKeyAgain = await refund({ charge_id: ch.id, amount: 1000, reference: 'rma-1' }, 'ref-k2');
    assertReferenceUsed(newKeyAgain, first.body.id);
    assert.equal(newKeyAgain.headers.get('idempotent-replayed'), 'true');
    assertReferenceUsed(await refund({ charge_id: ch.id, amount: 700, reference: 'rma-1' }), first.body.id);

    // The key's record is gone (purged after its retention): the reference still holds.
    await fincore.db.pool.query('DELETE FROM idempotency_keys WHERE scope = $1', [merchant.id]);
    assertReferenceUsed(await refund({ charge_id: ch.id, amount: 1000, reference: 'rma-1' }, 'ref-k1'), first.body.id);
    assert.equal(await count('refunds WHERE payment_id = $1', [ch.id]), 1, 'one refund, nothing half-written');
    assert.equal(await count("jobs WHERE job_type = 'REFUND' AND ref IN (SELECT id FROM refunds WHERE payment_id = $1)", [ch.id]), 1);
    assert.equal(await count("ledger_entries WHERE charge_id = $1 AND movement = 'refund_reserved'", [ch.id]), 2);

    // Another reference on the charge is another refund.
    assert.equal((await refund({ charge_id: ch.id, amount: 1000, reference: 'rma-2' })).status, 201);
  });

  it('a refund refused on the facts whose reference is used answers reference_already_used: that refund was made', async () => {
    const ch = await settledCharge(fincore.url, merchant.apiKey, 3000);
    const whole = await refund({ charge_id: ch.id, reference: 'full-1' }, 'full-k1');
    assert.equal(whole.status, 201);
    await fincore.db.pool.query('DELETE FROM idempotency_keys WHERE scope = $1', [merchant.id]);
    assertReferenceUsed(await refund({ charge_id: ch.id, reference: 'full-1' }, 'full-k1'), whole.body.id);
    // Without the reference, the facts answer.
    const noRef = await refund({ charge_id: ch.id });
    assert.equal(noRef.body.error.code, 'charge_already_refunded');
  });

  it('the same refund reference on another charge, or another merchant, is fine', async () => {
    const a = await settledCharge(fincore.url, merchant.apiKey, 5000);
    const b = await settledCharge(fincore.url, merchant.apiKey, 5000);
    const other = await createMerchant(fincore.url, 'Other Shop');
    const c = await settledCharge(fincore.url, other.apiKey, 5000);
    assert.equal((await refund({ charge_id: a.id, amount: 100, reference: 'shared' })).status, 201);
    assert.equal((await refund({ charge_id: b.id, amount: 100, reference: 'shared' })).status, 201);
    assert.equal((await refund({ charge_id: c.id, amount: 100, reference: 'shared' }, undefined, other.apiKey)).status, 201);
    const mine = await call<ListBody<Created & { charge_id: string }>>(fincore.url, 'GET', '/v1/refunds?reference=shared', { key: merchant.apiKey });
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body.data.map((r) => r.charge_id).sort(), [a.id, b.id].sort());
    const ofA = await call<ListBody<Created>>(fincore.url, 'GET', `/v1/refunds?reference=shared&charge_id=${a.id}`, { key: merchant.apiKey });
    assert.equal(ofA.body.data.length, 1);
    const none = await call<ListBody<Created>>(fincore.url, 'GET', '/v1/refunds?reference=nope', { key: merchant.apiKey });
    assert.deepEqual(none.body.data, []);
  });

  it('a charge reference is unique per merchant for ever; another merchant may use it; lists filter by it', async () => {
    const first = await charge({ reference: 'order-1' }, 'ch-k1');
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.reference, 'order-1');
    const replay = await charge({ reference: 'order-1' }, 'ch-k1');
    assert.equal(replay.status, 201);
    assert.equal(replay.body.id, first.body.id);
    assertReferenceUsed(await charge({ reference: 'order-1' }, 'ch-k2'), first.body.id);
    assertReferenceUsed(await charge({ reference: 'order-1', amount: 1 }), first.body.id);
    await fincore.db.pool.query('DELETE FROM idempotency_keys WHERE scope = $1', [merchant.id]);
    assertReferenceUsed(await charge({ reference: 'order-1' }, 'ch-k1'), first.body.id);
    assert.equal(await count('payments WHERE merchant_id = $1 AND reference = $2', [merchant.id, 'order-1']), 1);

    const other = await createMerchant(fincore.url, 'Third Shop');
    assert.equal((await charge({ reference: 'order-1' }, undefined, other.apiKey)).status, 201);
    const noRef = await charge({});
    assert.equal(noRef.status, 201);
    assert.equal(noRef.body.reference, null);

    const listed = await call<ListBody<Created>>(fincore.url, 'GET', '/v1/charges?reference=order-1', { key: merchant.apiKey });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.data.map((c) => c.id), [first.body.id]);
    const retrieved = await call<Created>(fincore.url, 'GET', `/v1/charges/${first.body.id}`, { key: merchant.apiKey });
    assert.equal(retrieved.body.reference, 'order-1');
  });

  it('a reference is storable text of 1..255 characters', async () => {
    const ch = await settledCharge(fincore.url, merchant.apiKey, 5000);
    for (const reference of ['', 'x'.repeat(256), 'nul\u0000here', 42]) {
      for (const answer of [await refund({ charge_id: ch.id, amount: 1, reference }), await charge({ reference })]) {
        assert.equal(answer.status, 400, JSON.stringify(reference));
        assert.equal(answer.body.error.code, 'parameter_invalid');
        assert.equal(answer.body.error.param, 'reference');
      }
    }
    assert.equal((await refund({ charge_id: ch.id, amount: 1, reference: 'x'.repeat(255) })).status, 201);
    for (const query of ['/v1/charges?reference=', `/v1/refunds?reference=${'y'.repeat(256)}`]) {
      const listed = await call<ErrorBody>(fincore.url, 'GET', query, { key: merchant.apiKey });
      assert.equal(listed.status, 400);
      assert.equal(listed.body.error.param, 'reference');
    }
  });

  it('50 concurrent refunds with one reference: exactly one 201, 49 x 400 naming it, one refund written', async () => {
    const ch = await settledCharge(fincore.url, merchant.apiKey, 100_000);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => refund({ charge_id: ch.id, amount: 100 + (i % 3), reference: 'race-1' }, i % 2 === 0 ? `race-key-${i}` : undefined)),
    );
    const created = answers.filter((a) => a.status === 201);
    assert.equal(created.length, 1, JSON.stringify(answers.filter((a) => a.status !== 400 && a.status !== 201).map((a) => a.body)));
    const winner = created[0]!.body.id;
    for (const answer of answers.filter((a) => a.status !== 201)) assertReferenceUsed(answer, winner);
    assert.equal(await count('refunds WHERE payment_id = $1', [ch.id]), 1);
    assert.equal(await count("ledger_entries WHERE charge_id = $1 AND movement = 'refund_reserved'", [ch.id]), 2);
  });

  it('50 concurrent charges with one reference: exactly one 201, 49 x 400 naming it, one charge written', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => charge({ reference: 'race-order', amount: 1000 + i }, i % 2 === 0 ? `race-ch-${i}` : undefined)));
    const created = answers.filter((a) => a.status === 201);
    assert.equal(created.length, 1, JSON.stringify(answers.filter((a) => a.status !== 400 && a.status !== 201).map((a) => a.body)));
    const winner = created[0]!.body.id;
    for (const answer of answers.filter((a) => a.status !== 201)) assertReferenceUsed(answer, winner);
    assert.equal(await count('payments WHERE merchant_id = $1 AND reference = $2', [merchant.id, 'race-order']), 1);
    assert.equal(await count("jobs WHERE job_type = 'CHARGE' AND ref IN (SELECT id FROM payments WHERE merchant_id = $1 AND reference = $2)", [merchant.id, 'race-order']), 1);
  });
});

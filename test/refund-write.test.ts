/**
 * create_refund_if_unchanged (src/db/functions/), the only statement that writes a refund: it
 * writes only when the facts the refund was decided on still hold, and otherwise writes nothing
 * and returns the fresh facts. It holds no refund rule of its own. Then the flow around it
 * (src/flows/create-refund.ts): retries on moved facts, the locked form after repeated races, and
 * no livelock on a hot charge.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { StoredResponseFound } from '../src/flows/idempotency.ts';
import { createRefund } from '../src/flows/create-refund.ts';
import { AmountTooLarge } from '../src/domain/errors.ts';
import { newId } from '../src/domain/ids.ts';
import { reservedByRefunds } from '../src/domain/refund.ts';
import { disputeFactsOf, DISPUTE_STATUSES, NO_DISPUTES, type DisputeStatus } from '../src/domain/dispute.ts';
import { REFUND_STATUSES, type RefundStatus } from '../src/domain/status.ts';
import { refundWriteRaces } from '../src/metrics.ts';
import { postingsFor } from '../src/domain/ledger.ts';
import type { RefundRecord } from '../src/domain/objects.ts';
import { openDatabase } from '../src/db/pool.ts';
import { writeRefundIfUnchanged, readRefundFacts, type RefundWrite } from '../src/db/refunds.ts';
import { call, createMerchant, onServer, settledCharge, startTestFinCore, waitForRefund, type ErrorBody, type RefundBody, type TestFinCore } from './helpers.ts';

describe('the refund write re-checks its facts', () => {
  let fincore: TestFinCore;
  let merchant: { id: string; apiKey: string };
  before(async () => {
    fincore = await startTestFinCore();
    merchant = await createMerchant(fincore.url);
  });
  after(() => fincore.stop());

  /** Expected dispute facts default to "none": what every charge here has unless a test adds one. */
  function write(chargeId: string, amount: number, facts: Omit<RefundWrite['expected'], 'disputes'> & Partial<Pick<RefundWrite['expected'], 'disputes'>>, key?: string, reference?: string): RefundWrite {
    const expected: RefundWrite['expected'] = { disputes: NO_DISPUTES, ...facts };
    const now = new Date();
    const refund: RefundRecord = { id: newId('re'), payment_id: chargeId, merchant_id: merchant.id, amount, currency: 'usd', status: 'pending', reason: null, metadata: {}, failure_reason: null, psp_reference: null, review_reason: null, origin: 'api', reference: reference ?? null, created_at: now, updated_at: now };
    return {
      refund,
      expected,
      job: { id: newId('job'), maxAttempts: 3 },
      event: { id: newId('evt'), data: { refund: { id: refund.id } }, cause: { type: 'api_request', id: 'req_test' } },
      postings: postingsFor('refund_reserved', amount),
      idempotency: key ? { scope: merchant.id, key, method: 'POST', path: '/v1/refunds', hash: 'h', code: 201, body: { id: refund.id }, ttlHours: 24 } : undefined,
    };
  }

  async function rowsFor(refundId: string, db: Pick<typeof fincore.db.pool, 'query'> = fincore.db.pool): Promise<number[]> {
    const counts = await Promise.all([
      db.query('SELECT 1 FROM refunds WHERE id = $1', [refundId]),
      db.query('SELECT 1 FROM jobs WHERE ref = $1', [refundId]),
      db.query('SELECT 1 FROM events WHERE object_id = $1', [refundId]),
      db.query('SELECT 1 FROM ledger_entries WHERE refund_id = $1', [refundId]),
    ]);
    return counts.map((c) => c.rowCount ?? 0);
  }

  it('writes refund, job, event and idempotency record when the facts hold', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
    const w = write(charge.id, 1000, { status: 'succeeded', reserved: 0 }, 'key-holds');
    assert.deepEqual(await writeRefundIfUnchanged(fincore.db.pool, w), { outcome: 'created' });
    assert.deepEqual(await rowsFor(w.refund.id), [1, 1, 1, 2]);
    const facts = await readRefundFacts(fincore.db.pool, merchant.id, charge.id, { scope: merchant.id, key: 'key-holds' });
    assert.equal(facts.reserved, 1000);
    assert.equal(facts.stored?.response_code, 201);
  });

  it('is a named prepared statement on a server, and never on embedded PGlite or with FINCORE_DB_NAMED_STATEMENTS=false', async () => {
    const preparedAfterAWrite = async (pool: typeof fincore.db.pool): Promise<string[]> => {
      const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
      const client = await pool.connect();
      try {
        assert.equal((await writeRefundIfUnchanged(client, write(charge.id, 100, { status: 'succeeded', reserved: 0 }))).outcome, 'created');
        const { rows } = await client.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name');
        return rows.map((r) => r.name);
      } finally {
        client.release();
      }
    };
    // The pool's connection may also have served a charge (create_charge, the other named write)
    // or a PSP webhook (the settle path's named statements, src/db/settlements.ts and
    // psp-events.ts) before this one: what matters is that the refund write is named, and
    // nothing outside that list is.
    const namedByFinCore = ['create_refund_if_unchanged', 'create_charge', 'settle_charge_row', 'settle_refund_row', 'store_psp_event', 'record_psp_event_result'];
    const prepared = await preparedAfterAWrite(fincore.db.pool);
    if (onServer) {
      assert.ok(prepared.includes('create_refund_if_unchanged'), JSON.stringify(prepared));
      assert.deepEqual(prepared.filter((name) => !namedByFinCore.includes(name)), []);
    } else {
      assert.deepEqual(prepared, []);
    }
    if (!onServer) return;
    const unnamed = await openDatabase({ databaseUrl: fincore.database.env.DATABASE_URL ?? '', dataDir: '', poolSize: 1, namedStatements: false });
    try {
      assert.deepEqual(await preparedAfterAWrite(unnamed.pool), []);
    } finally {
      await unnamed.close();
    }
  });

  it('writes nothing and returns the fresh facts when the reserved amount or the status moved', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
    assert.equal((await writeRefundIfUnchanged(fincore.db.pool, write(charge.id, 2000, { status: 'succeeded', reserved: 0 }))).outcome, 'created');
    // Decided on a stale read (reserved 0): refused, with what is true now.
    const stale = write(charge.id, 3500, { status: 'succeeded', reserved: 0 }, 'key-stale');
    assert.deepEqual(await writeRefundIfUnchanged(fincore.db.pool, stale), { outcome: 'changed', facts: { charge: { status: 'succeeded', amount: 5000, currency: 'usd' }, reserved: 2000, disputes: { open: false, lost: 0 } } });
    assert.deepEqual(await rowsFor(stale.refund.id), [0, 0, 0, 0]);
    assert.equal((await readRefundFacts(fincore.db.pool, merchant.id, charge.id, { scope: merchant.id, key: 'key-stale' })).stored, undefined, 'no idempotency record either');
    const wrongStatus = write(charge.id, 10, { status: 'pending', reserved: 2000 });
    assert.equal((await writeRefundIfUnchanged(fincore.db.pool, wrongStatus)).outcome, 'changed');
  });

  it('writes nothing when the dispute facts moved (a dispute opened, or one was lost), and returns them', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
    const insertDispute = (client: { query: (sql: string, values: unknown[]) => Promise<unknown> }, amount: number, status: DisputeStatus) =>
      client.query(`INSERT INTO disputes (id, charge_id, merchant_id, psp_reference, amount, currency, status, psp_status) VALUES ($1, $2, $3, $4, $5, 'usd', $6, $6)`, [newId('dp'), charge.id, merchant.id, newId('dp'), amount, status]);
    const client = await fincore.db.pool.connect();
    try {
      // Rolled back after each case: disputes are written by flows/disputes.ts, with their events.
      await client.query('BEGIN');
      await insertDispute(client, 700, 'open');
      const opened = write(charge.id, 100, { status: 'succeeded', reserved: 0 });
      assert.deepEqual(await writeRefundIfUnchanged(client, opened), { outcome: 'changed', facts: { charge: { status: 'succeeded', amount: 5000, currency: 'usd' }, reserved: 0, disputes: { open: true, lost: 0 } } });
      assert.deepEqual((await readRefundFacts(client, merchant.id, charge.id, undefined)).disputes, { open: true, lost: 0 });
      await client.query('ROLLBACK');

      await client.query('BEGIN');
      await insertDispute(client, 700, 'lost');
      await insertDispute(client, 300, 'won');
      const lost = write(charge.id, 100, { status: 'succeeded', reserved: 0 });
      assert.deepEqual(await writeRefundIfUnchanged(client, lost), { outcome: 'changed', facts: { charge: { status: 'succeeded', amount: 5000, currency: 'usd' }, reserved: 0, disputes: { open: false, lost: 700 } } });
      assert.deepEqual(await rowsFor(lost.refund.id, client), [0, 0, 0, 0]);
      // The same facts as the database's: it writes (it holds no rule; src/domain/refund.ts decided).
      const current = write(charge.id, 100, { status: 'succeeded', reserved: 0, disputes: { open: false, lost: 700 } });
      assert.equal((await writeRefundIfUnchanged(client, current)).outcome, 'created');
    } finally {
      // Also when an assertion failed mid-transaction: nothing of this test stays.
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('what the database counts as dispute facts equals the domain rule (disputeFactsOf) on random dispute histories', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 1000);
    const client = await fincore.db.pool.connect();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.record({ amount: fc.integer({ min: 1, max: 1_000_000 }), status: fc.constantFrom(...DISPUTE_STATUSES) }), { maxLength: 6 }), async (history) => {
          await client.query('BEGIN');
          try {
            for (const dispute of history) {
              await client.query(`INSERT INTO disputes (id, charge_id, merchant_id, psp_reference, amount, currency, status, psp_status) VALUES ($1, $2, $3, $4, $5, 'usd', $6, $6)`, [newId('dp'), charge.id, merchant.id, newId('dp'), dispute.amount, dispute.status]);
            }
            assert.deepEqual((await readRefundFacts(client, merchant.id, charge.id, undefined)).disputes, disputeFactsOf(history));
          } finally {
            await client.query('ROLLBACK');
          }
        }),
        { numRuns: 30 },
      );
    } finally {
      client.release();
    }
  });

  it('replays a stored key and refuses an unknown or foreign charge', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
    assert.equal((await writeRefundIfUnchanged(fincore.db.pool, write(charge.id, 100, { status: 'succeeded', reserved: 0 }, 'key-replay'))).outcome, 'created');
    const again = await writeRefundIfUnchanged(fincore.db.pool, write(charge.id, 100, { status: 'succeeded', reserved: 100 }, 'key-replay'));
    assert.equal(again.outcome, 'replay');
    assert.equal((await writeRefundIfUnchanged(fincore.db.pool, write('ch_missing', 100, { status: 'succeeded', reserved: 0 }))).outcome, 'no_such_charge');
    const other = await createMerchant(fincore.url, 'Other');
    const theirs = await settledCharge(fincore.url, other.apiKey, 5000);
    assert.equal((await writeRefundIfUnchanged(fincore.db.pool, write(theirs.id, 100, { status: 'succeeded', reserved: 0 }))).outcome, 'no_such_charge');
  });

  it('a used reference is answered reference_already_used with the refund that has it, writing nothing, whatever the facts', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
    const first = write(charge.id, 100, { status: 'succeeded', reserved: 0 }, undefined, 'ref-write-1');
    assert.deepEqual(await writeRefundIfUnchanged(fincore.db.pool, first), { outcome: 'created' });
    // Stale facts too: the reference is checked first, under the charge's lock.
    for (const reserved of [0, 100]) {
      const second = write(charge.id, 100, { status: 'succeeded', reserved }, undefined, 'ref-write-1');
      assert.deepEqual(await writeRefundIfUnchanged(fincore.db.pool, second), { outcome: 'reference_already_used', existingId: first.refund.id });
      assert.deepEqual(await rowsFor(second.refund.id), [0, 0, 0, 0]);
    }
    // Another reference, or none, on the same charge is written.
    assert.equal((await writeRefundIfUnchanged(fincore.db.pool, write(charge.id, 100, { status: 'succeeded', reserved: 100 }, undefined, 'ref-write-2'))).outcome, 'created');
    assert.equal((await writeRefundIfUnchanged(fincore.db.pool, write(charge.id, 100, { status: 'succeeded', reserved: 200 }))).outcome, 'created');
  });

  it('answers key_in_use while another transaction holds the key', { skip: onServer ? false : 'embedded PGlite shares one session, where advisory locks never conflict' }, async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
    const holder = await fincore.db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [merchant.id, 'key-busy']);
      const busy = write(charge.id, 100, { status: 'succeeded', reserved: 0 }, 'key-busy');
      assert.deepEqual(await writeRefundIfUnchanged(fincore.db.pool, busy), { outcome: 'key_in_use' });
      assert.deepEqual(await rowsFor(busy.refund.id), [0, 0, 0, 0]);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });

  it('remembered facts never decide wrongly: a freed amount is refundable, a moved one is refused on fresh facts', async () => {
    // The charge's refunds fail at the PSP: the refunded amount comes back.
    const failing = await settledCharge(fincore.url, merchant.apiKey, 5000, 'pm_card_refundFail');
    const all = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: failing.id } });
    assert.equal(all.status, 201);
    assert.equal((await waitForRefund(fincore.url, merchant.apiKey, all.body.id)).status, 'failed');
    // This process last saw 5000 reserved; the truth is 0. The refund must go through.
    const again = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: failing.id, amount: 3000 } });
    assert.equal(again.status, 201, JSON.stringify(again.body));

    // Another process refunds behind this one's back: remembered facts say 4000 is refundable,
    // the truth is 500. The refund is refused, on the facts read under the lock.
    const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
    assert.equal((await call(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: charge.id, amount: 1000 } })).status, 201);
    assert.equal((await writeRefundIfUnchanged(fincore.db.pool, write(charge.id, 3500, { status: 'succeeded', reserved: 1000 }))).outcome, 'created');
    const refused = await call<ErrorBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: charge.id, amount: 1000 } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'amount_too_large');
    assert.equal((await readRefundFacts(fincore.db.pool, merchant.id, charge.id, undefined)).reserved, 4500);
  });
  it('the locked form (no fast attempts): decided under the charge lock, written by the same statement, refusals and replays as usual', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
    const cause = { type: 'api_request' as const, id: 'req_locked' };
    const request = { merchantId: merchant.id, chargeId: charge.id, amount: 1200, reason: null, metadata: {} };
    const idempotency = { scope: merchant.id, key: 'locked-form', method: 'POST', path: '/v1/refunds', requestHash: 'h-locked', ttlHours: 24, started: false };
    const locksBefore = (await refundWriteRaces.get()).values.find((v) => v.labels.resolved_by === 'charge_lock')?.value ?? 0;
    const created = await createRefund(fincore.ctx, request, cause, idempotency, 0);
    assert.equal(created.status, 201);
    const body = created.body as { id: string; amount: number };
    assert.equal(body.amount, 1200);
    assert.deepEqual(await rowsFor(body.id), [1, 1, 1, 2]);
    const locksAfter = (await refundWriteRaces.get()).values.find((v) => v.labels.resolved_by === 'charge_lock')?.value ?? 0;
    assert.equal(locksAfter, locksBefore + 1, 'counted as resolved by the charge lock');
    // The same key and request again: the stored answer, nothing written.
    await assert.rejects(createRefund(fincore.ctx, request, cause, { ...idempotency, started: false }, 0), (error: unknown) => {
      assert.ok(error instanceof StoredResponseFound);
      return true;
    });
    // What no longer fits is refused on the facts read under the lock.
    await assert.rejects(createRefund(fincore.ctx, { ...request, amount: 3801 }, cause, undefined, 0), AmountTooLarge);
    const whole = await createRefund(fincore.ctx, { ...request, amount: undefined }, cause, undefined, 0);
    assert.equal((whole.body as { amount: number }).amount, 3800);
    assert.equal((await readRefundFacts(fincore.db.pool, merchant.id, charge.id, undefined)).reserved, 5000);
  });

  it('50 concurrent refunds of one charge all get through: bounded retries, then the lock; no livelock, no over-refund', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 5000);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: charge.id, amount: 100 } })),
    );
    assert.deepEqual(answers.map((a) => a.status), answers.map(() => 201), JSON.stringify(answers.find((a) => a.status !== 201)?.body));
    assert.equal(new Set(answers.map((a) => a.body.id)).size, 50);
    assert.equal((await readRefundFacts(fincore.db.pool, merchant.id, charge.id, undefined)).reserved, 5000);
    const refused = await call<ErrorBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: charge.id, amount: 1 } });
    assert.equal(refused.body.error.code, 'charge_already_refunded');
  });

  it('what the database counts as reserved equals the domain rule (reservedByRefunds) on random refund histories', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 1000);
    const client = await fincore.db.pool.connect();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.record({ amount: fc.integer({ min: 1, max: 1_000_000 }), status: fc.constantFrom(...REFUND_STATUSES) }), { maxLength: 8 }), async (history) => {
          // Histories the API would never write (they may exceed the charge), rolled back after: the rule is a sum either way.
          await client.query('BEGIN');
          try {
            for (const refund of history) {
              await client.query(`INSERT INTO refunds (id, payment_id, merchant_id, amount, currency, status) VALUES ($1, $2, $3, $4, 'usd', $5)`, [newId('re'), charge.id, merchant.id, refund.amount, refund.status]);
            }
            const facts = await readRefundFacts(client, merchant.id, charge.id, undefined);
            assert.equal(facts.reserved, reservedByRefunds(history as Array<{ amount: number; status: RefundStatus }>));
          } finally {
            await client.query('ROLLBACK');
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      client.release();
    }
  });
});

/**
 * A pending PSP answer's reference is a state change like any other: recorded in a transaction
 * with its `charge.updated` / `refund.updated` event (cause: the job), once, fanned out to the
 * merchant's endpoints like every event, and the audit trail verifies afterwards (on stop).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { EventRow } from '../src/db/events.ts';
import { inTransaction } from '../src/db/pool.ts';
import type { FlowContext } from '../src/flows/context.ts';
import { recordPendingPspReferences } from '../src/flows/record-psp-references.ts';
import { settleCharge } from '../src/flows/settle.ts';
import { groupedPspReferences } from '../src/jobs/grouped-psp-references.ts';
import { startWorker } from '../src/jobs/worker.ts';
import { fanOutEvents } from '../src/webhooks/fan-out.ts';
import { call, createMerchant, eventually, startTestFinCore, type ChargeBody, type RefundBody, type TestFinCore } from './helpers.ts';

const workerOptions = { pollIntervalMs: 20, leaseMs: 30_000, batchSize: 8, concurrency: 16, backoffBaseMs: 5, backoffMaxMs: 20 };

describe('PSP references of pending answers', () => {
  let fincore: TestFinCore;
  let apiKey: string;
  /** A PSP that answers every create call `pending` with a reference, and never settles. */
  let pendingPsp: FlowContext;

  before(async () => {
    fincore = await startTestFinCore({}, { api: true, worker: false, simulator: true });
    apiKey = (await createMerchant(fincore.url)).apiKey;
    pendingPsp = {
      ...fincore.ctx,
      psp: {
        ...fincore.ctx.psp,
        createCharge: async (request) => ({ pspReference: `psp_${request.reference}`, status: 'pending', failureCode: null, failureMessage: null }),
        createRefund: async (request) => ({ pspReference: `psp_${request.reference}`, status: 'pending', failureCode: null, failureMessage: null }),
      },
    };
  });
  after(() => fincore.stop());

  const eventsOf = async (id: string) =>
    (await fincore.db.pool.query<EventRow>('SELECT * FROM events WHERE object_id = $1 ORDER BY sequence', [id])).rows;
  const jobOf = async (ref: string) => (await fincore.db.pool.query<{ id: string; status: string }>('SELECT id, status FROM jobs WHERE ref = $1', [ref])).rows[0];
  const pspReferenceOf = async (table: 'payments' | 'refunds', id: string) =>
    (await fincore.db.pool.query<{ psp_reference: string | null }>(`SELECT psp_reference FROM ${table} WHERE id = $1`, [id])).rows[0]?.psp_reference;

  async function drain(refs: string[]): Promise<void> {
    const worker = await startWorker(pendingPsp, workerOptions, pino({ level: 'silent' }));
    try {
      for (const ref of refs) await eventually(async () => ((await jobOf(ref))?.status === 'done' ? true : undefined), 10_000, `job of ${ref} done`);
    } finally {
      await worker.stop();
    }
  }

  it('the worker records each charge\'s reference with one charge.updated event (cause: its job), and the fan-out treats it as any event', async () => {
    const endpoint = await call<{ id: string }>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url: 'https://shop.example/hooks', enabled_events: ['charge.updated', 'refund.updated'] } });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 1000 + i, currency: 'usd', payment_method: 'pm_card_visa' } });
      assert.equal(created.status, 201);
      ids.push(created.body.id);
    }
    await drain(ids);

    const updated: EventRow[] = [];
    for (const id of ids) {
      assert.equal(await pspReferenceOf('payments', id), `psp_${id}`);
      const events = await eventsOf(id);
      assert.deepEqual(events.map((e) => [e.type, e.sequence]), [['charge.created', 1], ['charge.updated', 2]]);
      const event = events[1] as EventRow;
      assert.equal(event.cause_type, 'job');
      assert.equal(event.cause_id, (await jobOf(id))?.id);
      const data = event.data as { charge: { id: string; status: string }; previous_attributes: unknown };
      assert.equal(data.charge.id, id);
      assert.equal(data.charge.status, 'pending');
      assert.deepEqual(data.previous_attributes, { psp_reference: null });
      updated.push(event);
    }
    // The endpoint subscribed to charge.updated gets one delivery per event.
    assert.equal(await inTransaction(fincore.db.pool, (tx) => fanOutEvents(tx, updated, { maxAttempts: 3 })), ids.length);

    // The webhook settles the charge later: the settlement's event, no second charge.updated.
    const first = ids[0] as string;
    await inTransaction(fincore.db.pool, (tx) => settleCharge(tx, first, { pspReference: `psp_${first}`, status: 'succeeded', failureCode: null, failureMessage: null }, { type: 'psp_event', id: 'evt_psp_test' }));
    assert.deepEqual((await eventsOf(first)).map((e) => e.type), ['charge.created', 'charge.updated', 'charge.succeeded']);
  });

  it('a refund\'s reference gets refund.updated; recording again (a replayed job) writes nothing and keeps the first reference', async () => {
    const [charge] = (await fincore.db.pool.query<{ id: string }>(`SELECT id FROM payments WHERE status = 'succeeded' LIMIT 1`)).rows;
    assert.ok(charge);
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: 100 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const refundId = created.body.id;
    await drain([refundId]);

    assert.equal(await pspReferenceOf('refunds', refundId), `psp_${refundId}`);
    const events = await eventsOf(refundId);
    assert.deepEqual(events.map((e) => [e.type, e.sequence, e.cause_type]), [['refund.created', 1, 'api_request'], ['refund.updated', 2, 'job']]);
    assert.deepEqual((events[1]?.data as { previous_attributes: unknown }).previous_attributes, { psp_reference: null });
    assert.equal((events[1]?.data as { refund: { id: string } }).refund.id, refundId);

    const again = await recordPendingPspReferences(fincore.db.pool, 'refunds', [{ id: refundId, pspReference: 'psp_other', cause: { type: 'job', id: 'job_replayed' } }]);
    assert.deepEqual(again, []);
    assert.equal(await pspReferenceOf('refunds', refundId), `psp_${refundId}`);
    assert.equal((await eventsOf(refundId)).length, 2);
  });

  it('a group of references: one transaction, an event per object recorded, none for an object that had one', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 2000 + i, currency: 'usd', payment_method: 'pm_card_visa' } });
      ids.push(created.body.id);
    }
    const cause = { type: 'job' as const, id: 'job_group_test' };
    const [a, b, c] = ids as [string, string, string];
    assert.deepEqual(await recordPendingPspReferences(fincore.db.pool, 'payments', [{ id: a, pspReference: 'psp_a', cause }]), [a]);
    const recorded = await recordPendingPspReferences(fincore.db.pool, 'payments', ids.map((id) => ({ id, pspReference: `psp_group_${id}`, cause })));
    assert.deepEqual(recorded.sort(), [b, c].sort());
    assert.equal(await pspReferenceOf('payments', a), 'psp_a');
    for (const id of ids) assert.deepEqual((await eventsOf(id)).map((e) => e.type), ['charge.created', 'charge.updated']);
  });

  it("the worker's grouped writer: references arriving together are one transaction, with an event each", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 3000 + i, currency: 'usd', payment_method: 'pm_card_visa' } });
      ids.push(created.body.id);
    }
    const references = groupedPspReferences(fincore.db.pool);
    await Promise.all(ids.map((id, i) => references.charges.record({ id, pspReference: `psp_grouped_${id}`, cause: { type: 'job', id: `job_grouped_${i}` } })));
    const { rows } = await fincore.db.pool.query<{ object_id: string; cause_id: string; created_at: Date }>(
      `SELECT object_id, cause_id, created_at FROM events WHERE type = 'charge.updated' AND object_id = ANY($1::text[]) ORDER BY object_id`,
      [ids],
    );
    assert.deepEqual(rows.map((e) => e.object_id), [...ids].sort());
    assert.deepEqual(rows.map((e) => e.cause_id).sort(), ids.map((_, i) => `job_grouped_${i}`).sort(), 'each event names its own job');
    // An event's created_at is its transaction's now(): one value, one transaction.
    assert.equal(new Set(rows.map((e) => e.created_at.getTime())).size, 1);
    for (const id of ids) assert.equal(await pspReferenceOf('payments', id), `psp_grouped_${id}`);
  });
});

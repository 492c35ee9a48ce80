/** The fault suite's invariant checker must catch each kind of broken promise. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertCharge } from '../src/db/charges.ts';
import { enqueueJob } from '../src/db/jobs.ts';
import { newId } from '../src/domain/ids.ts';
import { checkInvariants, type SimState } from './faults/invariants.ts';
import { createMerchant, startTestFinCore, type TestFinCore } from './helpers.ts';

describe('fault-suite invariant checker', () => {
  let fincore: TestFinCore;
  let merchantId: string;

  before(async () => {
    // Writes broken histories on purpose: no intact-trail check when it stops.
    fincore = await startTestFinCore({}, { api: true, worker: false, simulator: false }, undefined, { auditCheckOnStop: false });
    merchantId = (await createMerchant(fincore.url)).id;
  });
  after(() => fincore.stop());

  it('is silent on a consistent history and names each violation otherwise', async () => {
    const pool = fincore.db.pool;
    const chargeId = newId('ch');
    await insertCharge(pool, { id: chargeId, merchantId, amount: 1000, currency: 'usd', paymentMethod: 'pm_card_visa', description: null, metadata: {} });
    await enqueueJob(pool, { type: 'CHARGE', ref: chargeId, maxAttempts: 3 });
    await pool.query(`INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id) VALUES ($1, $2, 'charge.created', 'charge', $3, '{}', 'api_request', 'req_x')`, [newId('evt'), merchantId, chargeId]);
    const sim: SimState = { charges: [{ id: 'simch_1', reference: chargeId, status: 'pending', amount: 1000 }], refunds: [] };
    assert.deepEqual(await checkInvariants(pool, sim), []);

    // Refunds written without jobs or events, reserving more than the charge (bypassing the API).
    await pool.query(`UPDATE payments SET status = 'succeeded' WHERE id = $1`, [chargeId]);
    for (const amount of [600, 600]) {
      await pool.query(`INSERT INTO refunds (id, payment_id, merchant_id, amount, currency, status) VALUES ($1, $2, $3, $4, 'usd', 'pending')`, [newId('re'), chargeId, merchantId, amount]);
    }
    const twice: SimState = {
      charges: [
        { id: 'simch_1', reference: chargeId, status: 'failed', amount: 1000 },
        { id: 'simch_2', reference: chargeId, status: 'failed', amount: 1000 },
      ],
      refunds: [],
    };
    const violations = await checkInvariants(pool, twice);
    for (const promise of ['P1 over-refund', 'P2 2 PSP charges', 'P3 ' + chargeId, 'P4 ' + chargeId, 'P5 re_']) {
      assert.ok(violations.some((v) => v.startsWith(promise)), `expected a violation starting with "${promise}" in ${JSON.stringify(violations)}`);
    }
  });
});

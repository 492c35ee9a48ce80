/**
 * The ledger's rules: every movement balances, and replaying the movements of any life of a
 * charge (succeeded, refunds created, each settled or not) gives exactly the balances the charge
 * and its refunds imply, which is what `fincore audit verify` relies on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { expectedChargeBalances, expectedRefundBalances, MOVEMENT_NAMES, refundMovement, postingsFor, refundSettlementMovement, type Balances, type Movement } from '../../../src/domain/ledger.ts';
import type { RefundStatus } from '../../../src/domain/status.ts';

const movements: readonly Movement[] = MOVEMENT_NAMES;

describe('ledger postings', () => {
  it('each movement is one debit and one credit of the same amount', () => {
    fc.assert(
      fc.property(fc.constantFrom(...movements), fc.integer({ min: 1, max: 99_999_999 }), (movement, amount) => {
        const postings = postingsFor(movement, amount);
        assert.equal(postings.length, 2);
        assert.equal(postings.reduce((sum, p) => sum + p.amount, 0), 0);
        assert.notEqual(postings[0]?.account, postings[1]?.account);
      }),
    );
  });

  it('refuses amounts that are not positive integers', () => {
    for (const amount of [0, -1, 1.5, Number.NaN, 2 ** 60]) assert.throws(() => postingsFor('charge_succeeded', amount), RangeError);
  });

  it('a charge: succeeded charge of 5000, refunds 1000 paid, 500 pending, 700 failed', () => {
    assert.deepEqual(
      expectedChargeBalances({ status: 'succeeded', amount: 5000 }, [
        { status: 'succeeded', amount: 1000 },
        { status: 'pending', amount: 500 },
        { status: 'failed', amount: 700 },
      ]),
      { psp_clearing: 4000, merchant_balance: -3500, refunds_reserved: -500 },
    );
    assert.deepEqual(expectedChargeBalances({ status: 'failed', amount: 5000 }, []), { psp_clearing: 0, merchant_balance: 0, refunds_reserved: 0 });
  });

  it('replaying any life of a charge through postingsFor gives expectedChargeBalances', () => {
    const life = fc.record({
      amount: fc.integer({ min: 1, max: 99_999_999 }),
      refunds: fc.array(fc.record({ share: fc.integer({ min: 1, max: 1000 }), outcome: fc.constantFrom('pending', 'succeeded', 'failed') as fc.Arbitrary<'pending' | 'succeeded' | 'failed'> }), { maxLength: 12 }),
    });
    fc.assert(
      fc.property(life, ({ amount, refunds }) => {
        const balances: Balances = { psp_clearing: 0, merchant_balance: 0, refunds_reserved: 0 };
        const post = (movement: Movement, value: number) => {
          for (const p of postingsFor(movement, value)) balances[p.account] += p.amount;
        };
        post('charge_succeeded', amount);
        const states: { status: RefundStatus; amount: number }[] = [];
        let reserved = 0;
        for (const refund of refunds) {
          const value = Math.max(1, Math.floor((amount * refund.share) / 10_000));
          if (reserved + value > amount) continue; // the refund rules would refuse it
          post('refund_reserved', value);
          reserved += value;
          if (refund.outcome !== 'pending') post(refundSettlementMovement(refund.outcome), value);
          if (refund.outcome === 'failed') reserved -= value;
          states.push({ status: refund.outcome, amount: value });
        }
        assert.deepEqual(balances, expectedChargeBalances({ status: 'succeeded', amount }, states));
        // Money is conserved: the three accounts always sum to zero.
        assert.equal(balances.psp_clearing + balances.merchant_balance + balances.refunds_reserved, 0);
      }),
    );
  });

  it('a canceled refund releases its reservation: refund_released, and its balances are free', () => {
    assert.equal(refundMovement('pending', 'canceled'), 'refund_released');
    assert.deepEqual(expectedRefundBalances('canceled', 700), { psp_clearing: 0, merchant_balance: 0, refunds_reserved: 0 });
    assert.deepEqual(
      expectedChargeBalances({ status: 'succeeded', amount: 5000 }, [{ status: 'canceled', amount: 700 }]),
      expectedChargeBalances({ status: 'succeeded', amount: 5000 }, []),
    );
  });
});

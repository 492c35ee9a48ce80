import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AmountTooLarge, ChargeAlreadyRefunded, ChargeDisputed, ChargeNotRefundable, ContractError } from '../../../src/domain/errors.ts';
import { DISPUTE_STATUSES, type DisputeAmounts } from '../../../src/domain/dispute.ts';
import { MAX_AMOUNT, MIN_AMOUNT } from '../../../src/domain/money.ts';
import {
  amountRefunded,
  decideRefundAmount,
  decideRefundAmountGivenReserved,
  refundableAmount,
  refundHoldsAmount,
  reservedByRefunds,
  type ChargeAmounts,
  type RefundAmounts,
} from '../../../src/domain/refund.ts';
import type { MoneyMovementStatus } from '../../../src/domain/status.ts';

// Statuses both a charge and a refund can be in (a refund's `canceled` has its own test below).
const STATUSES = ['pending', 'succeeded', 'failed'] as const satisfies readonly MoneyMovementStatus[];
const statusArb = fc.constantFrom<(typeof STATUSES)[number]>(...STATUSES);
const amountArb = fc.integer({ min: MIN_AMOUNT, max: MAX_AMOUNT });
// Charge amounts biased to small values so that refunds often exhaust the charge.
const chargeAmountArb = fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 10_000 }), amountArb);
const refundArb = fc.record({ amount: amountArb, status: statusArb });

const succeeded = (amount: number): ChargeAmounts => ({ amount, status: 'succeeded' });

function sumActive(refunds: readonly RefundAmounts[]): number {
  let s = 0;
  for (const r of refunds) if (r.status !== 'failed') s += r.amount;
  return s;
}

/** Asserts `fn` throws an instance of `Cls` with the given code and param. */
function assertContractError(
  fn: () => unknown,
  Cls: typeof AmountTooLarge | typeof ChargeAlreadyRefunded | typeof ChargeNotRefundable | typeof ChargeDisputed,
  code: string,
  param: string,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ContractError, `not a ContractError: ${String(e)}`);
    assert.ok(e instanceof Cls, `expected ${Cls.name}, got ${e.constructor.name} (${e.code})`);
    assert.equal(e.code, code);
    assert.equal(e.param, param);
    assert.equal(e.httpStatus, 400);
    assert.equal(e.type, 'invalid_request_error');
    return true;
  });
}

describe('refund: reservedByRefunds / refundableAmount / amountRefunded', () => {
  it('examples', () => {
    const refunds: RefundAmounts[] = [
      { amount: 100, status: 'pending' },
      { amount: 200, status: 'succeeded' },
      { amount: 400, status: 'failed' },
    ];
    assert.equal(reservedByRefunds(refunds), 300);
    assert.equal(amountRefunded(refunds), 200);
    assert.equal(refundableAmount(succeeded(1000), refunds), 700);
    assert.equal(refundableAmount(succeeded(1000), []), 1000);
    assert.equal(refundableAmount(succeeded(300), refunds), 0);
  });

  it('a failed refund frees its amount', () => {
    const charge = succeeded(1000);
    const pending: RefundAmounts[] = [{ amount: 1000, status: 'pending' }];
    assert.equal(refundableAmount(charge, pending), 0);
    const failed: RefundAmounts[] = [{ amount: 1000, status: 'failed' }];
    assert.equal(refundableAmount(charge, failed), 1000);
    assert.equal(decideRefundAmount(charge, failed, undefined), 1000);
    assert.equal(decideRefundAmount(charge, failed, 1000), 1000);
  });

  it('property: refundable = max(0, amount - (pending + succeeded)), never negative, failed ignored', () => {
    fc.assert(
      fc.property(chargeAmountArb, statusArb, fc.array(refundArb, { maxLength: 15 }), (amount, status, refunds) => {
        const charge: ChargeAmounts = { amount, status };
        const reserved = sumActive(refunds);
        assert.equal(reservedByRefunds(refunds), reserved);
        const refundable = refundableAmount(charge, refunds);
        assert.ok(refundable >= 0);
        assert.equal(refundable, Math.max(0, amount - reserved));
        // adding failed refunds never changes anything
        const withFailed = [...refunds, { amount: amount, status: 'failed' as const }];
        assert.equal(refundableAmount(charge, withFailed), refundable);
        // turning a failed refund into pending reserves it again (up to the charge amount)
        const failedIdx = refunds.findIndex((r) => r.status === 'failed');
        const failedOne = refunds[failedIdx];
        if (failedOne !== undefined) {
          const revived = refunds.map((r, i): RefundAmounts => (i === failedIdx ? { ...r, status: 'pending' } : r));
          assert.equal(refundableAmount(charge, revived), Math.max(0, refundable - failedOne.amount));
        }
      }),
    );
  });

  it('property: amountRefunded counts succeeded refunds only', () => {
    fc.assert(
      fc.property(fc.array(refundArb, { maxLength: 15 }), (refunds) => {
        const expected = refunds.filter((r) => r.status === 'succeeded').reduce((s, r) => s + r.amount, 0);
        assert.equal(amountRefunded(refunds), expected);
        assert.ok(amountRefunded(refunds) <= reservedByRefunds(refunds));
      }),
    );
  });
});

describe('refund: decideRefundAmount errors', () => {
  it('ChargeNotRefundable for pending and failed charges (param charge_id), before any other check', () => {
    for (const status of ['pending', 'failed'] as const) {
      const charge: ChargeAmounts = { amount: 1000, status };
      assertContractError(() => decideRefundAmount(charge, [], undefined), ChargeNotRefundable, 'charge_not_refundable', 'charge_id');
      assertContractError(() => decideRefundAmount(charge, [], 500), ChargeNotRefundable, 'charge_not_refundable', 'charge_id');
      assertContractError(() => decideRefundAmount(charge, [], 5000), ChargeNotRefundable, 'charge_not_refundable', 'charge_id');
      assertContractError(
        () => decideRefundAmount(charge, [{ amount: 1000, status: 'succeeded' }], undefined),
        ChargeNotRefundable,
        'charge_not_refundable',
        'charge_id',
      );
    }
  });

  it('ChargeAlreadyRefunded when nothing is left (param charge_id), with or without an amount', () => {
    const charge = succeeded(1000);
    const full: RefundAmounts[][] = [
      [{ amount: 1000, status: 'succeeded' }],
      [{ amount: 1000, status: 'pending' }],
      [
        { amount: 400, status: 'pending' },
        { amount: 600, status: 'succeeded' },
        { amount: 300, status: 'failed' },
      ],
    ];
    for (const refunds of full) {
      assertContractError(() => decideRefundAmount(charge, refunds, undefined), ChargeAlreadyRefunded, 'charge_already_refunded', 'charge_id');
      assertContractError(() => decideRefundAmount(charge, refunds, 1), ChargeAlreadyRefunded, 'charge_already_refunded', 'charge_id');
      assertContractError(() => decideRefundAmount(charge, refunds, 5000), ChargeAlreadyRefunded, 'charge_already_refunded', 'charge_id');
    }
  });

  it('AmountTooLarge when requested > refundable (param amount); equal is accepted', () => {
    const charge = succeeded(1000);
    assertContractError(() => decideRefundAmount(charge, [], 1001), AmountTooLarge, 'amount_too_large', 'amount');
    const partial: RefundAmounts[] = [{ amount: 700, status: 'pending' }];
    assertContractError(() => decideRefundAmount(charge, partial, 301), AmountTooLarge, 'amount_too_large', 'amount');
    assert.equal(decideRefundAmount(charge, partial, 300), 300);
    assert.equal(decideRefundAmount(charge, partial, 1), 1);
    assert.equal(decideRefundAmount(charge, partial, undefined), 300);
  });

  it('property: the outcome matches the contract rules for any charge and existing refunds', () => {
    fc.assert(
      fc.property(
        chargeAmountArb,
        statusArb,
        fc.array(refundArb, { maxLength: 10 }),
        fc.option(amountArb, { nil: undefined }),
        (amount, status, refunds, requested) => {
          const charge: ChargeAmounts = { amount, status };
          const refundable = Math.max(0, amount - sumActive(refunds));
          const call = (): number => decideRefundAmount(charge, refunds, requested);
          if (status !== 'succeeded') {
            assertContractError(call, ChargeNotRefundable, 'charge_not_refundable', 'charge_id');
          } else if (refundable === 0) {
            assertContractError(call, ChargeAlreadyRefunded, 'charge_already_refunded', 'charge_id');
          } else if (requested === undefined) {
            assert.equal(call(), refundable);
          } else if (requested > refundable) {
            assertContractError(call, AmountTooLarge, 'amount_too_large', 'amount');
          } else {
            assert.equal(call(), requested);
          }
        },
      ),
    );
  });

  it(
    'rejects non-positive or non-integer requested amounts itself',
    () => {
      const charge = succeeded(100);
      for (const bad of [0, -50, 1.5]) assert.throws(() => decideRefundAmount(charge, [], bad), ContractError, String(bad));
    },
  );
});

type Step =
  | { kind: 'request'; requested: number | undefined }
  | { kind: 'settle'; pick: number; outcome: 'succeeded' | 'failed' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('request' as const),
    requested: fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 1, max: 20_000 }),
      amountArb,
    ),
  }),
  fc.record({
    kind: fc.constant('settle' as const),
    pick: fc.nat(),
    outcome: fc.constantFrom('succeeded' as const, 'failed' as const),
  }),
);

describe('refund: sequential model (request, then settle some refunds)', () => {
  it('property: pending + succeeded never exceed the charge amount; errors and amounts follow the rules', () => {
    fc.assert(
      fc.property(chargeAmountArb, statusArb, fc.array(stepArb, { maxLength: 60 }), (amount, status, steps) => {
        const charge: ChargeAmounts = { amount, status };
        const refunds: RefundAmounts[] = [];
        for (const step of steps) {
          if (step.kind === 'settle') {
            const pendingIdx = refunds.flatMap((r, i) => (r.status === 'pending' ? [i] : []));
            const idx = pendingIdx[step.pick % Math.max(1, pendingIdx.length)];
            const target = idx === undefined ? undefined : refunds[idx];
            if (target !== undefined) target.status = step.outcome;
          } else {
            const reservedBefore = sumActive(refunds);
            const refundableBefore = amount - reservedBefore;
            assert.ok(refundableBefore >= 0, 'model invariant broken before request');
            assert.equal(refundableAmount(charge, refunds), refundableBefore);
            let decided: number | undefined;
            let error: unknown;
            try {
              decided = decideRefundAmount(charge, refunds, step.requested);
            } catch (e) {
              error = e;
            }
            if (status !== 'succeeded') {
              assert.ok(error instanceof ChargeNotRefundable);
            } else if (refundableBefore === 0) {
              assert.ok(error instanceof ChargeAlreadyRefunded);
              assert.equal(error.code, 'charge_already_refunded');
            } else if (step.requested === undefined) {
              assert.equal(error, undefined);
              assert.equal(decided, refundableBefore, 'amount omitted refunds exactly the rest');
            } else if (step.requested > refundableBefore) {
              assert.ok(error instanceof AmountTooLarge);
              assert.equal(error.param, 'amount');
            } else {
              assert.equal(error, undefined);
              assert.equal(decided, step.requested);
            }
            if (decided !== undefined) {
              assert.ok(Number.isSafeInteger(decided) && decided >= 1);
              refunds.push({ amount: decided, status: 'pending' });
            }
          }
          const reserved = sumActive(refunds);
          assert.ok(reserved <= amount, `pending+succeeded ${reserved} > charge ${amount}`);
          assert.equal(reservedByRefunds(refunds), reserved);
          assert.equal(refundableAmount(charge, refunds), amount - reserved);
          assert.ok(amountRefunded(refunds) <= amount);
          if (status !== 'succeeded') assert.equal(refunds.length, 0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('example: partial refunds, a failure frees money, omitted amount takes the rest', () => {
    const charge = succeeded(5000);
    const refunds: RefundAmounts[] = [];
    refunds.push({ amount: decideRefundAmount(charge, refunds, 1500), status: 'pending' });
    refunds.push({ amount: decideRefundAmount(charge, refunds, 2000), status: 'pending' });
    assert.equal(refundableAmount(charge, refunds), 1500);
    assertContractError(() => decideRefundAmount(charge, refunds, 1501), AmountTooLarge, 'amount_too_large', 'amount');
    const second = refunds[1];
    assert.ok(second);
    second.status = 'failed';
    assert.equal(refundableAmount(charge, refunds), 3500);
    const rest = decideRefundAmount(charge, refunds, undefined);
    assert.equal(rest, 3500);
    refunds.push({ amount: rest, status: 'pending' });
    const first = refunds[0];
    assert.ok(first);
    first.status = 'succeeded';
    assert.equal(refundableAmount(charge, refunds), 0);
    assertContractError(() => decideRefundAmount(charge, refunds, undefined), ChargeAlreadyRefunded, 'charge_already_refunded', 'charge_id');
    assert.equal(amountRefunded(refunds), 1500);
  });
});

const disputeArb: fc.Arbitrary<DisputeAmounts> = fc.record({ amount: fc.oneof(fc.integer({ min: 1, max: 30 }), amountArb), status: fc.constantFrom(...DISPUTE_STATUSES) });

describe('refund: disputes (chargebacks)', () => {
  it('an open dispute refuses every refund with charge_disputed, saying why', () => {
    const charge = succeeded(5000);
    for (const requested of [undefined, 1, 5000]) {
      assertContractError(() => decideRefundAmount(charge, [], requested, [{ amount: 5000, status: 'open' }]), ChargeDisputed, 'charge_disputed', 'charge_id');
    }
    assert.throws(() => decideRefundAmount(charge, [], 1, [{ amount: 100, status: 'open' }]), /open dispute/);
    // A charge that did not succeed says so first.
    assertContractError(() => decideRefundAmount({ amount: 5000, status: 'failed' }, [], 1, [{ amount: 100, status: 'open' }]), ChargeNotRefundable, 'charge_not_refundable', 'charge_id');
  });

  it('a won dispute changes nothing; a lost one takes its amount out of what is refundable', () => {
    const charge = succeeded(5000);
    assert.equal(decideRefundAmount(charge, [], undefined, [{ amount: 5000, status: 'won' }]), 5000);
    assert.equal(decideRefundAmount(charge, [], undefined, [{ amount: 1200, status: 'lost' }]), 3800);
    assert.equal(refundableAmount(charge, [{ amount: 1000, status: 'succeeded' }], [{ amount: 1200, status: 'lost' }, { amount: 300, status: 'won' }]), 2800);
    assertContractError(() => decideRefundAmount(charge, [], 3801, [{ amount: 1200, status: 'lost' }]), AmountTooLarge, 'amount_too_large', 'amount');
    assert.throws(() => decideRefundAmount(charge, [], 3801, [{ amount: 1200, status: 'lost' }]), /1200 of the charge was lost to disputes/);
    assert.equal(decideRefundAmountGivenReserved(charge, 1000, undefined, { open: false, lost: 1200 }), 2800);
  });

  it('nothing left: charge_disputed when lost disputes took the rest, charge_already_refunded when refunds did', () => {
    const charge = succeeded(5000);
    assertContractError(() => decideRefundAmount(charge, [], undefined, [{ amount: 5000, status: 'lost' }]), ChargeDisputed, 'charge_disputed', 'charge_id');
    assertContractError(() => decideRefundAmount(charge, [{ amount: 1000, status: 'pending' }], 1, [{ amount: 4000, status: 'lost' }]), ChargeDisputed, 'charge_disputed', 'charge_id');
    // A dispute for more than the charge (currency fluctuation) leaves nothing, never a negative amount.
    assertContractError(() => decideRefundAmount(charge, [], 1, [{ amount: 7000, status: 'lost' }]), ChargeDisputed, 'charge_disputed', 'charge_id');
    assert.equal(refundableAmount(charge, [], [{ amount: 7000, status: 'lost' }]), 0);
    assertContractError(() => decideRefundAmount(charge, [{ amount: 5000, status: 'succeeded' }], 1, [{ amount: 100, status: 'lost' }]), ChargeAlreadyRefunded, 'charge_already_refunded', 'charge_id');
  });

  it('property: the outcome follows the rules in order for any charge, refunds and disputes', () => {
    fc.assert(
      fc.property(chargeAmountArb, statusArb, fc.array(refundArb, { maxLength: 6 }), fc.array(disputeArb, { maxLength: 4 }), fc.option(amountArb, { nil: undefined }), (amount, status, refunds, disputes, requested) => {
        const charge: ChargeAmounts = { amount, status };
        const reserved = sumActive(refunds);
        const lost = disputes.filter((d) => d.status === 'lost').reduce((s, d) => s + d.amount, 0);
        const refundable = Math.max(0, amount - reserved - lost);
        const call = (): number => decideRefundAmount(charge, refunds, requested, disputes);
        if (status !== 'succeeded') {
          assertContractError(call, ChargeNotRefundable, 'charge_not_refundable', 'charge_id');
        } else if (disputes.some((d) => d.status === 'open')) {
          assertContractError(call, ChargeDisputed, 'charge_disputed', 'charge_id');
        } else if (refundable === 0) {
          if (reserved < amount) assertContractError(call, ChargeDisputed, 'charge_disputed', 'charge_id');
          else assertContractError(call, ChargeAlreadyRefunded, 'charge_already_refunded', 'charge_id');
        } else if (requested === undefined) {
          assert.equal(call(), refundable);
        } else if (requested > refundable) {
          assertContractError(call, AmountTooLarge, 'amount_too_large', 'amount');
        } else {
          assert.equal(call(), requested);
        }
        assert.equal(refundableAmount(charge, refunds, disputes), refundable);
      }),
      { numRuns: 500 },
    );
  });

  it('property: whatever refunds are decided around a lost dispute, reserved + lost never exceed the charge', () => {
    fc.assert(
      fc.property(chargeAmountArb, fc.array(disputeArb.filter((d) => d.status !== 'open'), { maxLength: 3 }), fc.array(fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: undefined }), { maxLength: 20 }), (amount, disputes, requests) => {
        const charge = succeeded(amount);
        const refunds: RefundAmounts[] = [];
        const lost = disputes.filter((d) => d.status === 'lost').reduce((s, d) => s + d.amount, 0);
        for (const requested of requests) {
          try {
            refunds.push({ amount: decideRefundAmount(charge, refunds, requested, disputes), status: 'pending' });
          } catch (error) {
            assert.ok(error instanceof ContractError);
          }
        }
        const reserved = sumActive(refunds);
        assert.ok(refunds.length === 0 || reserved + lost <= amount, `reserved ${reserved} + lost ${lost} > charge ${amount}`);
      }),
      { numRuns: 300 },
    );
  });

  it('a canceled refund holds nothing: its amount is refundable again', () => {
    assert.equal(refundHoldsAmount('canceled'), false);
    assert.equal(refundableAmount(succeeded(1000), [{ amount: 600, status: 'canceled' }, { amount: 300, status: 'pending' }]), 700);
  });
});

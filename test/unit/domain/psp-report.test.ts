/**
 * What a PSP report does (src/domain/psp-report.ts): applied when the state machine lets the PSP
 * make the move, review when it cannot be applied safely, ignored only for a named reason. The
 * property: whatever order the PSP's reports arrive in, the object ends in the PSP's last word or
 * in requires_review, and the ledger it posted on the way balances and agrees with where it ended.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chargeCounted, chargeMovement, expectedChargeBalances, postingsFor, refundMovement, type Balances, type Movement } from '../../../src/domain/ledger.ts';
import { CANCELED_AT_PSP, decidePspReport, decideResolution, reviewHoldsObject, type PspReport, type ReportDecision } from '../../../src/domain/psp-report.ts';
import { canMove, type ChargeStatus, type RefundStatus } from '../../../src/domain/status.ts';

const held = <S extends RefundStatus>(status: S) => ({ status, amount: 2000, currency: 'usd' });

describe('psp report: one report', () => {
  it('pending + succeeded/failed moves, not late', () => {
    assert.deepEqual(decidePspReport('refund', held('pending'), { status: 'succeeded', amount: 2000, currency: 'usd' }), { kind: 'move', to: 'succeeded', late: false });
    assert.deepEqual(decidePspReport('charge', held('pending'), { status: 'failed' }), { kind: 'move', to: 'failed', late: false });
  });

  it('a refund failing after it succeeded is a late move; a charge doing so goes to review', () => {
    assert.deepEqual(decidePspReport('refund', held('succeeded'), { status: 'failed' }), { kind: 'move', to: 'failed', late: true });
    assert.deepEqual(decidePspReport('charge', held('succeeded'), { status: 'failed' }), { kind: 'review', reason: 'failed_after_succeeded' });
  });

  it('succeeded after failed goes to review, for both', () => {
    assert.deepEqual(decidePspReport('refund', held('failed'), { status: 'succeeded' }), { kind: 'review', reason: 'succeeded_after_failed' });
    assert.deepEqual(decidePspReport('charge', held('failed'), { status: 'succeeded' }), { kind: 'review', reason: 'succeeded_after_failed' });
  });

  it('a different amount or currency goes to review whatever the status says (the 99,999 EUR answer to a 200 USD refund)', () => {
    assert.deepEqual(decidePspReport('refund', held('pending'), { status: 'succeeded', amount: 9_999_900, currency: 'eur' }), { kind: 'review', reason: 'currency_mismatch' });
    assert.deepEqual(decidePspReport('refund', held('pending'), { status: 'succeeded', amount: 2001, currency: 'usd' }), { kind: 'review', reason: 'amount_mismatch' });
    assert.deepEqual(decidePspReport('refund', held('succeeded'), { status: 'succeeded', amount: 1999 }), { kind: 'review', reason: 'amount_mismatch' });
    assert.deepEqual(decidePspReport('refund', held('pending'), { status: 'pending', currency: 'EUR' }), { kind: 'review', reason: 'currency_mismatch' });
    // The PSP's own spelling of the same currency is the same currency.
    assert.deepEqual(decidePspReport('refund', held('pending'), { status: 'succeeded', amount: 2000, currency: 'USD' }), { kind: 'move', to: 'succeeded', late: false });
  });

  it('ignored only for a named reason: still pending, already so, under review', () => {
    assert.deepEqual(decidePspReport('refund', held('pending'), { status: 'pending' }), { kind: 'ignore', why: 'still_pending' });
    assert.deepEqual(decidePspReport('refund', held('succeeded'), { status: 'pending' }), { kind: 'ignore', why: 'still_pending' });
    assert.deepEqual(decidePspReport('refund', held('succeeded'), { status: 'succeeded' }), { kind: 'ignore', why: 'already_so' });
    assert.deepEqual(decidePspReport('refund', held('requires_review'), { status: 'failed', amount: 1 }), { kind: 'ignore', why: 'under_review' });
  });

  it('a refund FinCore canceled is reviewed without moving, whatever the PSP says of it; a contradiction found before is reviewed', () => {
    for (const status of ['pending', 'succeeded', 'failed'] as const) {
      const decision = decidePspReport('refund', held('canceled'), { status, amount: 1, currency: 'eur' }, 'object_mismatch');
      assert.deepEqual(decision, { kind: 'review', reason: CANCELED_AT_PSP });
      assert.equal(reviewHoldsObject(CANCELED_AT_PSP), false, 'the canceled refund stays canceled');
    }
    assert.deepEqual(decidePspReport('refund', held('pending'), { status: 'succeeded', amount: 2000 }, 'object_mismatch'), { kind: 'review', reason: 'object_mismatch' });
    assert.deepEqual(decidePspReport('refund', held('requires_review'), { status: 'succeeded' }, 'object_mismatch'), { kind: 'ignore', why: 'under_review' });
  });

  it('every move it decides is one the table lets the PSP make; a review that holds its object is one too', () => {
    const statuses: RefundStatus[] = ['pending', 'succeeded', 'failed', 'requires_review', 'canceled'];
    fc.assert(
      fc.property(
        fc.constantFrom('charge' as const, 'refund' as const),
        fc.constantFrom(...statuses),
        fc.constantFrom('pending' as const, 'succeeded' as const, 'failed' as const),
        fc.option(fc.constant('object_mismatch' as const), { nil: undefined }),
        (kind, status, reported, contradiction) => {
          if (kind === 'charge' && status === 'canceled') return; // a charge is never canceled
          const decision = decidePspReport(kind, held(status), { status: reported }, contradiction);
          if (decision.kind === 'move') assert.ok(canMove(kind, status, decision.to, 'psp'));
          if (decision.kind === 'review' && reviewHoldsObject(decision.reason)) assert.ok(canMove(kind, status, 'requires_review', 'psp'));
          if (decision.kind === 'review' && !reviewHoldsObject(decision.reason)) assert.equal(status, 'canceled');
        },
      ),
    );
  });

  it('an operator resolves to the PSP word or to FinCore status before the review', () => {
    assert.equal(decideResolution('accept_psp', { statusBefore: 'failed', pspStatus: 'succeeded' }), 'succeeded');
    assert.equal(decideResolution('keep_fincore', { statusBefore: 'failed', pspStatus: 'succeeded' }), 'failed');
    assert.equal(decideResolution('keep_fincore', { statusBefore: 'pending', pspStatus: 'succeeded' }), 'pending');
  });
});

const report = fc.record({
  status: fc.constantFrom('pending' as const, 'succeeded' as const, 'failed' as const),
  // Mostly the amount FinCore asked for; sometimes another (a contradiction).
  amount: fc.oneof({ weight: 8, arbitrary: fc.constant(2000) }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 5000 }) }),
}) as fc.Arbitrary<PspReport>;

describe('psp report: any order of reports', () => {
  it('a refund ends in the PSP last word or in requires_review, and its postings match its status', () => {
    fc.assert(
      fc.property(fc.array(report, { maxLength: 12 }), (reports) => {
        let status: RefundStatus = 'pending';
        const balances: Balances = { psp_clearing: 0, merchant_balance: 0, refunds_reserved: 0 };
        const post = (movement: Movement | undefined, amount: number) => {
          if (movement) for (const p of postingsFor(movement, amount)) balances[p.account] += p.amount;
        };
        post('charge_succeeded', 5000);
        post('refund_reserved', 2000);
        let lastWord: RefundStatus = 'pending';
        for (const r of reports) {
          if (r.status !== 'pending') lastWord = r.status;
          const decision: ReportDecision<RefundStatus> = decidePspReport('refund', { status, amount: 2000, currency: 'usd' }, r);
          const to: RefundStatus | undefined = decision.kind === 'move' ? decision.to : decision.kind === 'review' ? 'requires_review' : undefined;
          if (to) {
            post(refundMovement(status, to), 2000);
            status = to;
          }
        }
        assert.ok(status === lastWord || status === 'requires_review', `${JSON.stringify(reports)} ended ${status}, last word ${lastWord}`);
        assert.deepEqual(balances, expectedChargeBalances({ status: 'succeeded', amount: 5000 }, [{ status, amount: 2000 }]));
        assert.equal(balances.psp_clearing + balances.merchant_balance + balances.refunds_reserved, 0);
      }),
    );
  });

  it('a charge ends in the PSP last word or in requires_review, and its postings match (review keeps what it had counted)', () => {
    fc.assert(
      fc.property(fc.array(report, { maxLength: 12 }), (reports) => {
        let status: ChargeStatus = 'pending';
        let before: ChargeStatus | null = null;
        let posted = 0;
        let lastWord: ChargeStatus = 'pending';
        for (const r of reports) {
          if (r.status !== 'pending') lastWord = r.status;
          const decision: ReportDecision<ChargeStatus> = decidePspReport('charge', { status, amount: 2000, currency: 'usd' }, r);
          const to: ChargeStatus | undefined = decision.kind === 'move' ? decision.to : decision.kind === 'review' ? 'requires_review' : undefined;
          if (!to) continue;
          const nextBefore = to === 'requires_review' ? status : null;
          const movement = chargeMovement(chargeCounted(status, before), chargeCounted(to, nextBefore));
          if (movement === 'charge_succeeded') posted += 2000;
          if (movement === 'charge_reversed') posted -= 2000;
          status = to;
          before = nextBefore;
        }
        assert.ok(status === lastWord || status === 'requires_review');
        assert.equal(posted, expectedChargeBalances({ status, amount: 2000, status_before_review: before }, []).psp_clearing);
      }),
    );
  });
});

describe('ledger: a refund move posts the difference between where its money was and is', () => {
  it('succeeded -> failed is a reversal; failed -> review re-reserves; review -> succeeded pays out', () => {
    assert.equal(refundMovement('succeeded', 'failed'), 'refund_reversed');
    assert.equal(refundMovement('failed', 'requires_review'), 'refund_reserved');
    assert.equal(refundMovement('succeeded', 'requires_review'), 'refund_held_for_review');
    assert.equal(refundMovement('requires_review', 'succeeded'), 'refund_succeeded');
    assert.equal(refundMovement('pending', 'requires_review'), undefined);
    assert.throws(() => refundMovement('failed', 'succeeded'), RangeError);
  });
});

/**
 * The charge and refund state machines (src/domain/status.ts), exhaustively: every pair of
 * statuses with every kind of evidence is either named in the table or refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowedMoves, canMove, CHARGE_STATUSES, isSettled, MONEY_MOVEMENT_STATUSES, REFUND_STATUSES, type Evidence, type ObjectKind } from '../../../src/domain/status.ts';

const EVIDENCE: Evidence[] = ['psp', 'operator', 'merchant'];

/** The tables as the API reference states them, written out by hand: the test is the second spelling. */
const EXPECTED: Record<ObjectKind, string[]> = {
  charge: [
    'pending->succeeded by psp', 'pending->failed by psp', 'pending->requires_review by psp',
    'succeeded->requires_review by psp',
    'failed->requires_review by psp',
    'requires_review->pending by operator', 'requires_review->succeeded by operator', 'requires_review->failed by operator',
  ],
  refund: [
    'pending->succeeded by psp', 'pending->failed by psp', 'pending->requires_review by psp', 'pending->canceled by merchant',
    'succeeded->failed by psp', 'succeeded->requires_review by psp',
    'failed->requires_review by psp',
    'requires_review->pending by operator', 'requires_review->succeeded by operator', 'requires_review->failed by operator',
  ],
};

describe('status: the transition tables', () => {
  it('statuses: pending, succeeded, failed, requires_review for both; canceled for refunds', () => {
    assert.deepEqual(CHARGE_STATUSES, ['pending', 'succeeded', 'failed', 'requires_review']);
    assert.deepEqual(REFUND_STATUSES, ['pending', 'succeeded', 'failed', 'requires_review', 'canceled']);
    assert.deepEqual(MONEY_MOVEMENT_STATUSES, ['pending', 'succeeded', 'failed', 'requires_review', 'canceled']);
  });

  for (const kind of ['charge', 'refund'] as const) {
    it(`${kind}: every (from, to, evidence) is allowed exactly when the table names it`, () => {
      const statuses = kind === 'charge' ? CHARGE_STATUSES : REFUND_STATUSES;
      const allowed = new Set(EXPECTED[kind]);
      let checked = 0;
      for (const from of statuses) {
        for (const to of statuses) {
          for (const evidence of EVIDENCE) {
            assert.equal(canMove(kind, from, to, evidence), allowed.has(`${from}->${to} by ${evidence}`), `${kind} ${from}->${to} by ${evidence}`);
            checked++;
          }
        }
      }
      assert.equal(checked, statuses.length * statuses.length * EVIDENCE.length);
      assert.deepEqual(allowedMoves(kind).map((m) => `${m.from}->${m.to} by ${m.evidence}`).sort(), [...allowed].sort());
    });
  }

  it('nothing moves to the status it is in; only the PSP settles; only an operator leaves review; only a merchant cancels', () => {
    for (const kind of ['charge', 'refund'] as const) {
      for (const move of allowedMoves(kind)) {
        assert.notEqual(move.from, move.to);
        if (move.from === 'requires_review') assert.equal(move.evidence, 'operator');
        else if (move.to === 'canceled') assert.equal(move.evidence, 'merchant');
        else assert.equal(move.evidence, 'psp');
      }
    }
  });

  it('a charge never fails after it succeeded without review; a refund may (a late failure)', () => {
    assert.equal(canMove('charge', 'succeeded', 'failed', 'psp'), false);
    assert.equal(canMove('refund', 'succeeded', 'failed', 'psp'), true);
    assert.equal(canMove('refund', 'succeeded', 'failed', 'operator'), false);
    assert.equal(canMove('refund', 'failed', 'succeeded', 'psp'), false, 'succeeded after failed goes to review');
  });

  it('isSettled: everything but pending', () => {
    assert.deepEqual(MONEY_MOVEMENT_STATUSES.filter(isSettled), ['succeeded', 'failed', 'requires_review', 'canceled']);
  });

  it('a refund is canceled only from pending, only by its merchant, and nothing leaves canceled', () => {
    for (const from of REFUND_STATUSES) {
      for (const evidence of EVIDENCE) assert.equal(canMove('refund', from, 'canceled', evidence), from === 'pending' && evidence === 'merchant', `${from}->canceled by ${evidence}`);
      for (const evidence of EVIDENCE) assert.equal(canMove('refund', 'canceled', from, evidence), false);
    }
  });
});

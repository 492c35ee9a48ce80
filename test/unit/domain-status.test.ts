import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canTransition, decideSettlement, isTerminal, MONEY_MOVEMENT_STATUSES, TRANSITIONS, type MoneyMovementStatus } from '../../src/domain/status.ts';

const ALL: readonly MoneyMovementStatus[] = ['pending', 'succeeded', 'failed'];
const status = fc.constantFrom<MoneyMovementStatus>(...ALL);

describe('status: the TRANSITIONS table', () => {
  it('its keys are the statuses, in order, and every target is one of them', () => {
    assert.deepEqual(MONEY_MOVEMENT_STATUSES, ALL);
    for (const [from, targets] of Object.entries(TRANSITIONS)) {
      for (const to of targets) assert.ok((ALL as readonly string[]).includes(to), `${from} -> ${to}: not a status`);
    }
  });
});

describe('status: isTerminal', () => {
  it('only pending is non-terminal', () => {
    assert.equal(isTerminal('pending'), false);
    assert.equal(isTerminal('succeeded'), true);
    assert.equal(isTerminal('failed'), true);
  });
});

describe('status: canTransition', () => {
  it('exactly pending->succeeded and pending->failed are allowed (all 9 pairs)', () => {
    const allowed = new Set(['pending->succeeded', 'pending->failed']);
    for (const from of ALL) {
      for (const to of ALL) {
        assert.equal(canTransition(from, to), allowed.has(`${from}->${to}`), `${from}->${to}`);
      }
    }
  });

  it('property: a transition is allowed iff from is pending and to is terminal', () => {
    fc.assert(
      fc.property(status, status, (from, to) => {
        assert.equal(canTransition(from, to), !isTerminal(from) && isTerminal(to));
      }),
    );
  });
});

describe('status: decideSettlement', () => {
  it('pending + terminal report transitions', () => {
    assert.deepEqual(decideSettlement('pending', 'succeeded'), { kind: 'transition', to: 'succeeded' });
    assert.deepEqual(decideSettlement('pending', 'failed'), { kind: 'transition', to: 'failed' });
  });

  it('a pending report is ignored as still_pending', () => {
    for (const current of ALL) assert.deepEqual(decideSettlement(current, 'pending'), { kind: 'ignore', why: 'still_pending' });
  });

  it('terminal states are ignored as already_terminal (including repeated identical outcome)', () => {
    assert.deepEqual(decideSettlement('succeeded', 'succeeded'), { kind: 'ignore', why: 'already_terminal' });
    assert.deepEqual(decideSettlement('succeeded', 'failed'), { kind: 'ignore', why: 'already_terminal' });
    assert.deepEqual(decideSettlement('failed', 'succeeded'), { kind: 'ignore', why: 'already_terminal' });
    assert.deepEqual(decideSettlement('failed', 'failed'), { kind: 'ignore', why: 'already_terminal' });
  });

  it('property: over all pairs, a terminal state never moves and transitions agree with canTransition', () => {
    fc.assert(
      fc.property(status, status, (current, reported) => {
        const d = decideSettlement(current, reported);
        if (isTerminal(current)) assert.equal(d.kind, 'ignore');
        if (d.kind === 'transition') {
          assert.equal(current, 'pending');
          assert.equal(d.to, reported);
          assert.equal(canTransition(current, d.to), true);
        } else {
          assert.equal(canTransition(current, reported), false);
        }
      }),
    );
  });

  it('property: applying any sequence of reports moves the state at most once, and only out of pending', () => {
    fc.assert(
      fc.property(status, fc.array(status, { maxLength: 20 }), (start, reports) => {
        let state = start;
        let moves = 0;
        for (const r of reports) {
          const d = decideSettlement(state, r);
          if (d.kind === 'transition') {
            assert.equal(state, 'pending');
            state = d.to;
            moves++;
          }
        }
        assert.ok(moves <= 1);
        if (start !== 'pending') assert.equal(state, start);
        const firstTerminal = reports.find((r) => r !== 'pending');
        if (start === 'pending') assert.equal(state, firstTerminal ?? 'pending');
      }),
    );
  });
});

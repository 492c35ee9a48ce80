/**
 * The charge object's `disputes` (src/domain/objects.ts, pure) and what a PSP dispute report does
 * to a dispute (src/domain/dispute.ts decideDisputeReport), every pair of statuses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decideDisputeReport, DISPUTE_STATUSES, disputeFactsOf, type DisputeState } from '../../../src/domain/dispute.ts';
import { chargeObject, disputeObject, type ChargeRecord, type DisputeRecord } from '../../../src/domain/objects.ts';

const at = new Date('2026-11-28T10:00:00.000Z');
const later = new Date('2026-11-29T10:00:00.000Z');
const charge: ChargeRecord = {
  id: 'ch_1', merchant_id: 'mer_1', amount: 5000, currency: 'usd', status: 'succeeded', payment_method: 'pm_card_visa', description: null, metadata: {},
  failure_code: null, failure_message: null, psp_reference: 'pi_1', review_reason: null, psp: 'simulator', created_at: at, updated_at: at,
};
const dispute: DisputeRecord = { id: 'dp_1', charge_id: 'ch_1', merchant_id: 'mer_1', psp_reference: 'du_1', amount: 5000, currency: 'usd', status: 'open', psp_status: 'needs_response', reason: 'fraudulent', created_at: at, updated_at: later };

describe('charge object: disputes', () => {
  it('shows each dispute without its merchant or PSP id; omitted when not given, [] when none', () => {
    assert.deepEqual(disputeObject(dispute), {
      id: 'dp_1', object: 'dispute', charge_id: 'ch_1', amount: 5000, currency: 'usd', status: 'open', psp_status: 'needs_response', reason: 'fraudulent',
      created_at: '2026-11-28T10:00:00.000Z', updated_at: '2026-11-29T10:00:00.000Z',
    });
    assert.deepEqual(chargeObject(charge, [], [], [dispute]).disputes, [disputeObject(dispute)]);
    assert.deepEqual(chargeObject(charge, [], [], []).disputes, []);
    assert.equal('disputes' in chargeObject(charge, [], []), false);
  });
});

const state = (status: DisputeState['status'], extra: Partial<DisputeState> = {}): DisputeState => ({ status, psp_status: status, amount: 1000, reason: 'fraudulent', ...extra });

describe('decideDisputeReport', () => {
  it('every pair of statuses: created, closed, updated, refused (lost is final) or ignored', () => {
    const expected: Record<string, string> = {
      'new->open': 'create:charge.dispute.created',
      'new->won': 'create:charge.dispute.created,charge.dispute.closed',
      'new->lost': 'create:charge.dispute.created,charge.dispute.closed:loss',
      'open->open': 'ignore:unchanged',
      'open->won': 'update:charge.dispute.closed',
      'open->lost': 'update:charge.dispute.closed:loss',
      'won->open': 'update:charge.dispute.updated',
      'won->won': 'ignore:unchanged',
      'won->lost': 'update:charge.dispute.closed:loss',
      'lost->open': 'ignore:lost_is_final',
      'lost->won': 'ignore:lost_is_final',
      'lost->lost': 'ignore:unchanged',
    };
    for (const from of ['new', ...DISPUTE_STATUSES] as const) {
      for (const to of DISPUTE_STATUSES) {
        const decision = decideDisputeReport(from === 'new' ? undefined : state(from), state(to));
        const shown =
          decision.kind === 'ignore' ? `ignore:${decision.why}`
          : decision.kind === 'create' ? `create:${decision.events.join(',')}${decision.postsLoss ? ':loss' : ''}`
          : `update:${decision.event}${decision.postsLoss ? ':loss' : ''}`;
        assert.equal(shown, expected[`${from}->${to}`], `${from} -> ${to}`);
      }
    }
  });

  it('a change of the PSP status, amount or reason within a status is an update; a lost amount never changes', () => {
    assert.deepEqual(decideDisputeReport(state('open'), state('open', { psp_status: 'under_review' })), { kind: 'update', event: 'charge.dispute.updated', postsLoss: false, amount: 1000 });
    assert.deepEqual(decideDisputeReport(state('open'), state('open', { amount: 900 })), { kind: 'update', event: 'charge.dispute.updated', postsLoss: false, amount: 900 });
    assert.deepEqual(decideDisputeReport(state('lost'), state('lost', { psp_status: 'lost_final', amount: 1 })), { kind: 'update', event: 'charge.dispute.updated', postsLoss: false, amount: 1000 });
    assert.deepEqual(decideDisputeReport(state('lost'), state('lost', { amount: 1 })), { kind: 'ignore', why: 'unchanged' });
  });

  it('property: over any sequence of reports, the loss is posted at most once and only when the dispute ends lost', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ status: fc.constantFrom(...DISPUTE_STATUSES), psp_status: fc.constantFrom('a', 'b'), amount: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 12 }), (reports) => {
        let held: DisputeState | undefined;
        let losses = 0;
        for (const report of reports) {
          const reported: DisputeState = { ...report, reason: null };
          const decision = decideDisputeReport(held, reported);
          if (decision.kind === 'ignore') continue;
          if (decision.postsLoss) losses++;
          held = decision.kind === 'create' ? reported : { ...reported, amount: decision.amount };
        }
        assert.equal(losses, held?.status === 'lost' ? 1 : 0);
        if (held) assert.deepEqual(disputeFactsOf([held]), { open: held.status === 'open', lost: held.status === 'lost' ? held.amount : 0 });
      }),
      { numRuns: 500 },
    );
  });
});

/** The outcome class of one PSP call, and what FinCore says it knows (psp_status, next_check_at). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ATTEMPT_OUTCOMES, attemptOutcomeOf, isUnknownOutcome, mayHaveReachedPsp, PSP_FAILURE_KINDS, pspProgress, type AttemptOutcome, type PspProgressInput } from '../../../src/domain/attempts.ts';

describe('the outcome class of a PSP call', () => {
  it('an answer: pending is accepted (webhook to come), succeeded is success, failed (a card decline) is decline', () => {
    assert.equal(attemptOutcomeOf({ answer: 'pending' }), 'pending');
    assert.equal(attemptOutcomeOf({ answer: 'succeeded' }), 'success');
    assert.equal(attemptOutcomeOf({ answer: 'failed' }), 'decline');
  });
  it('a refusal (4xx, PspPermanentError) is decline', () => {
    assert.equal(attemptOutcomeOf({ refused: true }), 'decline');
  });
  it('a transient error keeps its kind; without one it is network, never a decided class', () => {
    for (const kind of PSP_FAILURE_KINDS) assert.equal(attemptOutcomeOf({ transient: kind }), kind);
    assert.equal(attemptOutcomeOf({ transient: undefined }), 'network');
  });
  it('only timeout, server_error and network leave the outcome unknown; not_sent (the connection never opened) says the PSP has nothing', () => {
    assert.deepEqual(ATTEMPT_OUTCOMES.filter(isUnknownOutcome), ['timeout', 'server_error', 'network']);
    assert.deepEqual(ATTEMPT_OUTCOMES.filter((o) => !mayHaveReachedPsp(o)), ['not_sent']);
    assert.equal(mayHaveReachedPsp(null), true, 'a call in flight may have reached the PSP');
  });
});

describe('psp_status and next_check_at', () => {
  const created = new Date('2026-01-05T10:00:00Z');
  const now = new Date('2026-01-05T10:00:05Z');
  const base: PspProgressInput = { status: 'pending', created_at: created, latestAttempt: null, job: null, reconcileAfterMs: 30_000, now };
  const reconcileAt = new Date('2026-01-05T10:00:30Z');

  it('settled, with no next check, once the object is not pending (whatever the history says)', () => {
    for (const status of ['succeeded', 'failed', 'requires_review', 'canceled']) {
      assert.deepEqual(pspProgress({ ...base, status, latestAttempt: { outcome: 'timeout', finished_at: now } }), { psp_status: 'settled', next_check_at: null });
    }
  });
  it('not_sent while no call started: next check is the job run', () => {
    const runAt = new Date('2026-01-05T10:00:06Z');
    assert.deepEqual(pspProgress({ ...base, job: { status: 'queued', run_at: runAt, locked_until: null } }), { psp_status: 'not_sent', next_check_at: runAt });
  });
  it('not_sent without a job to run: reconciliation is the next check', () => {
    assert.deepEqual(pspProgress(base), { psp_status: 'not_sent', next_check_at: reconcileAt });
  });
  it('sent_awaiting_answer while a call is in flight: next check when its lease ends', () => {
    const lease = new Date('2026-01-05T10:00:35Z');
    assert.deepEqual(
      pspProgress({ ...base, latestAttempt: { outcome: null, finished_at: null }, job: { status: 'running', run_at: created, locked_until: lease } }),
      { psp_status: 'sent_awaiting_answer', next_check_at: lease },
    );
  });
  it('unknown_after_timeout after a timeout, a 5xx or a network error: the retry is the next check', () => {
    const runAt = new Date('2026-01-05T10:00:08Z');
    for (const outcome of PSP_FAILURE_KINDS.filter((kind) => kind !== 'not_sent')) {
      assert.deepEqual(
        pspProgress({ ...base, latestAttempt: { outcome, finished_at: now }, job: { status: 'queued', run_at: runAt, locked_until: null } }),
        { psp_status: 'unknown_after_timeout', next_check_at: runAt },
      );
    }
  });
  it('not_sent while every call so far failed to open its connection: the retry is the next check', () => {
    const runAt = new Date('2026-01-05T10:00:08Z');
    const queued = { status: 'queued', run_at: runAt, locked_until: null };
    for (const reachedBefore of [false, undefined]) {
      assert.deepEqual(
        pspProgress({ ...base, latestAttempt: { outcome: 'not_sent', finished_at: now, reachedBefore }, job: queued }),
        { psp_status: 'not_sent', next_check_at: runAt },
      );
    }
    // An earlier call that may have reached the PSP (a timeout, then an outage): unknown.
    assert.deepEqual(
      pspProgress({ ...base, latestAttempt: { outcome: 'not_sent', finished_at: now, reachedBefore: true }, job: queued }),
      { psp_status: 'unknown_after_timeout', next_check_at: runAt },
    );
  });
  it('property: a pending object reads not_sent exactly when no attempt of its history may have reached the PSP', () => {
    const finished = fc.constantFrom<AttemptOutcome | null>(...ATTEMPT_OUTCOMES.filter((o) => o !== 'pending' && o !== 'success' && o !== 'decline'), null);
    fc.assert(
      fc.property(fc.array(finished, { maxLength: 6 }), fc.constantFrom('queued', 'running', 'dead'), (history, jobStatus) => {
        // A call in flight is only ever the latest one.
        const outcomes = history.map((o, i) => (o === null && i < history.length - 1 ? 'network' : o));
        const latest = outcomes.at(-1);
        const progress = pspProgress({
          ...base,
          latestAttempt:
            latest === undefined
              ? null
              : { outcome: latest, finished_at: latest === null ? null : now, reachedBefore: outcomes.slice(0, -1).some(mayHaveReachedPsp) },
          job: { status: jobStatus, run_at: created, locked_until: jobStatus === 'running' ? now : null },
        });
        assert.equal(progress.psp_status === 'not_sent', !outcomes.some(mayHaveReachedPsp), JSON.stringify({ outcomes, progress }));
        assert.notEqual(progress.next_check_at, null);
      }),
    );
  });
  it('unknown_after_timeout with its job dead-lettered: reconciliation asks (it is never failed for it)', () => {
    assert.deepEqual(
      pspProgress({ ...base, latestAttempt: { outcome: 'timeout', finished_at: now }, job: { status: 'dead', run_at: created, locked_until: null } }),
      { psp_status: 'unknown_after_timeout', next_check_at: reconcileAt },
    );
  });
  it('accepted after a pending answer: the webhook, else reconciliation; a late sweep is "now"', () => {
    const done = { status: 'done', run_at: created, locked_until: null };
    assert.deepEqual(pspProgress({ ...base, latestAttempt: { outcome: 'pending', finished_at: now }, job: done }), { psp_status: 'accepted', next_check_at: reconcileAt });
    const late = new Date('2026-01-05T11:00:00Z');
    assert.deepEqual(pspProgress({ ...base, now: late, latestAttempt: { outcome: 'pending', finished_at: now }, job: done }), { psp_status: 'accepted', next_check_at: late });
  });
  it('a call made before attempts were recorded (job done, no attempt) reads as accepted', () => {
    assert.equal(pspProgress({ ...base, job: { status: 'done', run_at: created, locked_until: null } }).psp_status, 'accepted');
  });
});

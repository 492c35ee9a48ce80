/**
 * PSP attempt history and psp_status end to end, through real HTTP with the PSP simulator, once
 * per adapter (the simulator's API, and Stripe against its Stripe mode): every PSP call is an
 * attempt with its outcome class and the FinCore id as idempotency key; while the PSP is down or
 * silent the object says unknown_after_timeout with its next check, and is never failed for it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ATTEMPT_OBJECT_TYPES, ATTEMPT_OUTCOMES } from '../src/domain/attempts.ts';
import { call, createMerchant, eventually, pspCreateCalls, settledCharge, startTestFinCore, type TestFinCore } from './helpers.ts';

interface Attempt {
  object: string;
  object_type: string;
  object_id: string;
  attempt_number: number;
  idempotency_key: string;
  started_at: string;
  finished_at: string | null;
  latency_ms: number | null;
  outcome: string | null;
  psp_code: string | null;
  fincore_code: string | null;
}
interface Progress {
  id: string;
  status: string;
  psp_status: string;
  next_check_at: string | null;
}

for (const psp of ['simulator', 'stripe']) describe(`PSP attempts and psp_status (${psp} adapter)`, () => {
  let fincore: TestFinCore;
  let apiKey: string;
  let sim: string;

  before(async () => {
    fincore = await startTestFinCore({
      FINCORE_PSP: psp,
      // Slow enough to see `accepted` before the webhook, and a retry waiting after a failure.
      FINCORE_SIM_SETTLE_MS: '700',
      FINCORE_JOB_BACKOFF_BASE_MS: '1200',
      FINCORE_JOB_BACKOFF_MAX_MS: '1500',
      FINCORE_JOB_MAX_ATTEMPTS: '20',
      FINCORE_PSP_TIMEOUT_MS: '300',
      // An answer lost for good (webhook dropped, the replay says pending) is settled by reconciliation.
      FINCORE_RECONCILE_AFTER_MS: '5000',
      FINCORE_RECONCILE_INTERVAL_MS: '500',
    });
    apiKey = (await createMerchant(fincore.url, 'Attempts Shop')).apiKey;
    sim = fincore.simulatorUrl!;
  });
  after(async () => {
    await fetch(`${sim}/sim/faults`, { method: 'DELETE' });
    await fincore.stop();
  });

  async function faults(body: Record<string, unknown> | null): Promise<void> {
    const answer = await fetch(`${sim}/sim/faults`, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : { method: 'DELETE' });
    assert.equal(answer.status, 200, await answer.text());
  }
  async function get<T>(path: string, key = apiKey): Promise<T> {
    const answer = await call<T>(fincore.url, 'GET', path, { key });
    assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }
  const attempts = async (type: 'charges' | 'refunds', id: string) => (await get<{ object: string; data: Attempt[] }>(`/v1/${type}/${id}/attempts`)).data;
  async function until<T extends Progress>(path: string, ok: (object: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
    return eventually(async () => {
      const object = await get<T>(path);
      return ok(object) ? object : undefined;
    }, timeoutMs, what);
  }
  function assertHistory(list: Attempt[], id: string, type: string): void {
    assert.ok(list.length >= 1, `${id} has attempts`);
    list.forEach((attempt, index) => {
      assert.equal(attempt.object, 'psp_attempt');
      assert.equal(attempt.object_type, type);
      assert.equal(attempt.object_id, id);
      assert.equal(attempt.idempotency_key, id, 'the idempotency key is always the FinCore id');
      assert.equal(attempt.attempt_number, list.length - index, 'newest first, numbered from 1');
      if (attempt.finished_at !== null) {
        assert.ok(attempt.outcome && (ATTEMPT_OUTCOMES as readonly string[]).includes(attempt.outcome));
        assert.ok(attempt.latency_ms !== null && attempt.latency_ms >= 0);
      }
    });
  }
  async function newRefund(chargeId: string, amount = 500): Promise<Progress> {
    const answer = await call<Progress>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: chargeId, amount } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body;
  }

  it('a normal charge and refund: one attempt each (pending or success), psp_status accepted then settled', async () => {
    const created = await call<Progress>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 5000, currency: 'usd', payment_method: 'pm_card_visa' } });
    assert.equal(created.status, 201);
    const accepted = await until<Progress>(`/v1/charges/${created.body.id}`, (c) => c.psp_status === 'accepted' || c.status !== 'pending', 'charge accepted');
    if (accepted.status === 'pending') assert.ok(accepted.next_check_at, 'an accepted charge says when FinCore asks next');
    const charge = await until<Progress>(`/v1/charges/${created.body.id}`, (c) => c.status !== 'pending', 'charge settled');
    assert.equal(charge.status, 'succeeded');
    assert.deepEqual([charge.psp_status, charge.next_check_at], ['settled', null]);
    const chargeAttempts = await attempts('charges', charge.id);
    assertHistory(chargeAttempts, charge.id, 'charge');
    assert.equal(chargeAttempts.length, 1);
    assert.ok(['pending', 'success'].includes(chargeAttempts[0]!.outcome!), JSON.stringify(chargeAttempts));

    const refund = await newRefund(charge.id);
    await until<Progress>(`/v1/refunds/${refund.id}`, (r) => r.psp_status === 'accepted' || r.status !== 'pending', 'refund accepted');
    const settled = await until<Progress>(`/v1/refunds/${refund.id}`, (r) => r.status !== 'pending', 'refund settled');
    assert.equal(settled.status, 'succeeded');
    assert.deepEqual([settled.psp_status, settled.next_check_at], ['settled', null]);
    const refundAttempts = await attempts('refunds', refund.id);
    assertHistory(refundAttempts, refund.id, 'refund');
    assert.equal(refundAttempts.length, 1);
    assert.ok(['pending', 'success'].includes(refundAttempts[0]!.outcome!));

    // The charge (and the refunds it embeds) carry the fields too; lists as well.
    const withRefunds = await get<Progress & { refunds: { data: Progress[] } }>(`/v1/charges/${charge.id}`);
    assert.equal(withRefunds.refunds.data[0]!.psp_status, 'settled');
    const list = await get<{ data: Progress[] }>(`/v1/refunds?charge_id=${charge.id}`);
    assert.equal(list.data[0]!.psp_status, 'settled');
  });

  it("another merchant's object, or none, is 404 on the attempts endpoints", async () => {
    const charge = await settledCharge(fincore.url, apiKey);
    const other = (await createMerchant(fincore.url, 'Other Shop')).apiKey;
    for (const path of [`/v1/charges/${charge.id}/attempts`, '/v1/charges/ch_missing/attempts', '/v1/refunds/re_missing/attempts']) {
      const answer = await call<{ error: { code: string } }>(fincore.url, 'GET', path, { key: path.includes('missing') ? apiKey : other });
      assert.equal(answer.status, 404, path);
      assert.equal(answer.body.error.code, 'resource_missing');
    }
  });

  for (const [fault, outcomes] of [
    [{ failure_rate: 1 }, ['server_error']],
    // The PSP carries out a call that times out or loses its answer; its webhook is dropped here
    // so FinCore learns the outcome only by retrying with the same key (the PSP's replay).
    [{ timeout_rate: 1, timeout_hold_ms: 600, webhook_drop_rate: 1 }, ['timeout']],
    [{ lost_response_rate: 1, webhook_drop_rate: 1 }, ['timeout', 'network']],
  ] as const) {
    it(`PSP fault ${JSON.stringify(fault)}: attempts classed ${outcomes.join(' or ')}, unknown_after_timeout with a next check, then settled once the PSP is back`, async () => {
      const charge = await settledCharge(fincore.url, apiKey);
      await faults(fault);
      let refund: Progress;
      try {
        refund = await newRefund(charge.id);
        const unknown = await until<Progress>(`/v1/refunds/${refund.id}`, (r) => r.psp_status === 'unknown_after_timeout', 'refund unknown after a failed call');
        assert.equal(unknown.status, 'pending', 'never failed on unknown');
        assert.ok(unknown.next_check_at && Number.isFinite(Date.parse(unknown.next_check_at)), 'next_check_at is set');
        const during = await attempts('refunds', refund.id);
        assertHistory(during, refund.id, 'refund');
        const finished = during.filter((a) => a.finished_at !== null);
        assert.ok(finished.length >= 1 && finished.every((a) => (outcomes as readonly string[]).includes(a.outcome!)), JSON.stringify(during));
        if ('failure_rate' in fault) assert.match(finished[0]!.psp_code ?? '', /500/, 'the PSP code is kept');
        // Retried while the fault lasts: every call classed the same, every one with the same key.
        const retried = await eventually(async () => {
          const list = await attempts('refunds', refund.id);
          return list.filter((a) => a.finished_at !== null).length >= 2 ? list : undefined;
        }, 15_000, 'a retry during the fault');
        assertHistory(retried, refund.id, 'refund');
        assert.ok(retried.filter((a) => a.finished_at !== null).every((a) => (outcomes as readonly string[]).includes(a.outcome!)), JSON.stringify(retried));
        assert.equal((await get<Progress>(`/v1/refunds/${refund.id}`)).status, 'pending', 'still never failed on unknown');
      } finally {
        await faults(null);
      }
      const settled = await until<Progress>(`/v1/refunds/${refund.id}`, (r) => r.status !== 'pending', 'refund settled after the PSP is back', 20_000);
      assert.equal(settled.status, 'succeeded');
      assert.deepEqual([settled.psp_status, settled.next_check_at], ['settled', null]);
      const history = await attempts('refunds', refund.id);
      assertHistory(history, refund.id, 'refund');
      assert.ok(history.length >= 3, 'retried after the fault');
      const last = history.find((a) => a.finished_at !== null)!;
      assert.ok(['pending', 'success'].includes(last.outcome!), JSON.stringify(history));
      if ('lost_response_rate' in fault && psp === 'simulator') {
        // The lost call was carried out at the PSP; the retry, with the same key, was its replay.
        const calls = await pspCreateCalls(sim);
        assert.ok((calls[`refunds ${refund.id}`] ?? 0) >= 2, JSON.stringify(calls));
      }
    });
  }
});

describe('psp_attempts CHECKs agree with src/domain/attempts.ts', () => {
  it('object_type and outcome allow exactly the domain lists', async () => {
    const fincore = await startTestFinCore({}, { api: false, worker: false, simulator: false });
    try {
      const { rows } = await fincore.db.pool.query<{ def: string }>(
        `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'psp_attempts'::regclass AND contype = 'c'`,
      );
      const listOf = (column: string) => {
        const def = rows.map((r) => r.def).find((d) => d.includes(`(${column} = ANY`));
        assert.ok(def, `a CHECK on psp_attempts.${column}`);
        return [.../ARRAY\[(.*)\]/.exec(def)![1]!.matchAll(/'([^']*)'/g)].map((m) => m[1]).sort();
      };
      assert.deepEqual(listOf('object_type'), [...ATTEMPT_OBJECT_TYPES].sort());
      assert.deepEqual(listOf('outcome'), [...ATTEMPT_OUTCOMES].sort());
    } finally {
      await fincore.stop();
    }
  });
});

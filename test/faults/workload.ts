/**
 * A randomized, seeded workload against a real FinCore whose PSP simulator injects faults:
 * charges across merchants and payment methods, concurrent partial and full refunds, clients
 * that retry with the same Idempotency-Key, and cancels racing the worker (some refunds get
 * POST /v1/refunds/{id}/cancel right after they are created). The PSP is down (POST /sim/outage:
 * connections refused) while the refunds are created: their calls end `not_sent`, and a share of
 * those refunds is canceled once every attempt so far is not_sent, a cancel that must win. Then
 * faults stop, everything must settle, and the invariant checker compares FinCore with the PSP's
 * own record and checks the PSP attempt history.
 */
import { randomUUID } from 'node:crypto';
import { call, createMerchant, eventually, startTestFinCore, type ChargeBody, type RefundBody } from '../helpers.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { mulberry32 } from '../../psp-simulator/index.ts';
import { checkAttemptHistory, checkInvariants, type AttemptSummary, type SimState } from './invariants.ts';

export interface Faults {
  latency_ms?: number;
  failure_rate?: number;
  timeout_rate?: number;
  lost_response_rate?: number;
  webhook_drop_rate?: number;
  webhook_duplicate_rate?: number;
  webhook_reorder?: boolean;
}

export interface ScenarioResult {
  seed: number;
  charges: number;
  refundRequests: number;
  violations: string[];
  injected: Record<string, number>;
  /** Refunds the PSP failed after they succeeded, and objects in review: the PSP-truth cases the run went through. */
  lateFailures: number;
  reviews: number;
  /** Cancel requests sent, and how many of them canceled their refund (the others came too late). */
  cancelRequests: number;
  canceled: number;
  /** Refund requests answered reference_already_used: references met concurrent creates. */
  referenceRefusals: number;
  /** Cancels sent during the PSP outage for refunds whose every attempt was not_sent, and how many won. */
  outageCancels: number;
  outageCanceled: number;
  /** The PSP attempt history once everything settled. */
  attempts: AttemptSummary;
}

/** How long the PSP is down during the refund phase; cancels are sent until OUTAGE_CANCEL_MARGIN_MS before its end. */
const OUTAGE_MS = 2000;
const OUTAGE_CANCEL_MARGIN_MS = 150;
/** The share of refunds created during the outage that are canceled once their attempts are all not_sent. */
const OUTAGE_CANCEL_SHARE = 0.35;

// pm_card_refundFailsLater / pm_card_refundReversed: the PSP reports the refund succeeded, then
// failed (its late webhook as exposed to the faults as any other: dropped, duplicated, reordered).
/** How long after a refund succeeded the PSP fails it (pm_card_refundFailsLater, pm_card_refundReversed). */
const LATE_FAILURE_MS = 150;

const METHODS = ['pm_card_visa', 'pm_card_visa', 'pm_card_mastercard', 'pm_card_chargeDeclined', 'pm_card_refundFail', 'pm_card_refundFailsLater', 'pm_card_refundReversed'];

export async function runFaultScenario(options: {
  seed: number;
  faults: Faults;
  charges: number;
  merchants?: number;
  env?: Record<string, string>;
  /** Workers beyond the one FinCore starts, claiming from the same queue. */
  extraWorkers?: number;
}): Promise<ScenarioResult> {
  const random = mulberry32(options.seed); // the simulator's seeded PRNG: one workload per seed
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  // Which refund requests carry a reference: its own PRNG, so the rest of a seed's workload is unchanged.
  const referenceRandom = mulberry32(options.seed ^ 0x5eed);
  // Which refunds created during the PSP outage are canceled: its own PRNG too.
  const outageRandom = mulberry32(options.seed ^ 0x0a7a9e);
  const violations: string[] = [];
  const fincore = await startTestFinCore({
    FINCORE_PSP_TIMEOUT_MS: '300',
    FINCORE_JOB_MAX_ATTEMPTS: '40',
    FINCORE_JOB_BACKOFF_BASE_MS: '20',
    FINCORE_JOB_BACKOFF_MAX_MS: '300',
    FINCORE_RECONCILE_AFTER_MS: '400',
    FINCORE_RECONCILE_INTERVAL_MS: '200',
    // Settled objects are read again at the PSP: a late failure whose webhook was dropped is found.
    FINCORE_RECONCILE_TERMINAL_INTERVAL_MS: '300',
    FINCORE_RECONCILE_TERMINAL_RECHECK_MS: '300',
    FINCORE_SIM_SETTLE_MS: '5',
    FINCORE_RATE_LIMIT_PER_S: '0',
    ...options.env,
  });
  const sim = fincore.simulatorUrl ?? '';
  const workerOptions = { pollIntervalMs: 100, leaseMs: 30_000, batchSize: 8, concurrency: 16, backoffBaseMs: 20, backoffMaxMs: 300 };
  const extraWorkers = await Promise.all(Array.from({ length: options.extraWorkers ?? 0 }, () => startWorker(fincore.ctx, workerOptions, fincore.logger)));
  const setFaults = async (faults: Faults & { seed?: number; timeout_hold_ms?: number }) => {
    const answer = await fetch(`${sim}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
    if (answer.status !== 200) throw new Error(`could not set faults: ${answer.status} ${await answer.text()}`);
  };

  /** A client that retries 409 and 5xx with the same key, as the contract tells it to. */
  async function post<T>(key: string, path: string, body: unknown, idempotencyKey: string) {
    for (let attempt = 0; ; attempt++) {
      const answer = await call<T>(fincore.url, 'POST', path, { key, body, headers: { 'idempotency-key': idempotencyKey } });
      if (answer.status >= 500) violations.push(`5xx ${answer.status} on ${path}: ${JSON.stringify(answer.body)}`);
      if ((answer.status !== 409 && answer.status < 500) || attempt >= 20) return answer;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  try {
    await setFaults({ ...options.faults, seed: options.seed, timeout_hold_ms: 600 });
    const settings = await fetch(`${sim}/sim/settings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ late_failure_ms: LATE_FAILURE_MS }) });
    if (settings.status !== 200) throw new Error(`could not set the late-failure delay: ${settings.status}`);
    const merchants = await Promise.all(Array.from({ length: options.merchants ?? 2 }, (_, i) => createMerchant(fincore.url, `Fault shop ${i}`)));

    // Charges, in concurrent batches; some requests are sent twice with the same key.
    const charges: Array<{ id: string; key: string }> = [];
    for (let i = 0; i < options.charges; i += 10) {
      const batch = Array.from({ length: Math.min(10, options.charges - i) }, async () => {
        const merchant = pick(merchants);
        const body = { amount: 100 + Math.floor(random() * 20_000), currency: pick(['usd', 'eur', 'jpy', 'kwd']), payment_method: pick(METHODS) };
        const idempotencyKey = randomUUID();
        const twice = random() < 0.2;
        const answers = await Promise.all([post<ChargeBody>(merchant.apiKey, '/v1/charges', body, idempotencyKey), ...(twice ? [post<ChargeBody>(merchant.apiKey, '/v1/charges', body, idempotencyKey)] : [])]);
        const ids = new Set(answers.map((a) => a.body.id));
        if (answers.some((a) => a.status !== 201) || ids.size !== 1) violations.push(`charge creation: ${answers.map((a) => `${a.status} ${a.body.id}`).join(', ')}`);
        charges.push({ id: answers[0]?.body.id ?? '', key: merchant.apiKey });
      });
      await Promise.all(batch);
    }
    const settled = await eventually(async () => {
      const all = await Promise.all(charges.map((c) => call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${c.id}`, { key: c.key })));
      return all.every((a) => a.body.status !== 'pending') ? all.map((a, i) => ({ ...a.body, key: charges[i]?.key ?? '' })) : undefined;
    }, 60_000, 'every charge to settle with faults on');

    // A contradiction mixed in: the PSP will report the next refund with another amount. That
    // refund must end in requires_review with an open review item, never settled as if it matched.
    const mismatch = await fetch(`${sim}/sim/next-refund`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: 1 }) });
    if (mismatch.status !== 200) throw new Error(`could not set the next refund's amount: ${mismatch.status}`);

    type Attempt = { outcome: string | null; finished_at: string | null };
    const attemptsOf = async (key: string, refundId: string): Promise<Attempt[]> => {
      const answer = await call<{ data: Attempt[] }>(fincore.url, 'GET', `/v1/refunds/${refundId}/attempts`, { key });
      if (answer.status !== 200) throw new Error(`attempts of ${refundId}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body.data;
    };
    const allNotSent = (attempts: readonly Attempt[]) => attempts.length > 0 && attempts.every((a) => a.outcome === 'not_sent');
    /** Waits until every attempt of the refund so far ended not_sent; false once one did not, or the outage is about to end. */
    const untilAllNotSent = async (key: string, refundId: string, deadline: number): Promise<boolean> => {
      for (;;) {
        const attempts = await attemptsOf(key, refundId);
        if (allNotSent(attempts)) return true;
        if (attempts.some((a) => a.outcome !== null && a.outcome !== 'not_sent') || Date.now() > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };

    // The PSP goes down once the first refund is created (how long the phase takes before that
    // varies with the load), for OUTAGE_MS: every call is refused at connect until it is back.
    let cancelDeadline = 0;
    let outageStarted: Promise<void> | undefined;
    const startOutage = (): Promise<void> =>
      (outageStarted ??= (async () => {
        const outage = await fetch(`${sim}/sim/outage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ duration_ms: OUTAGE_MS }) });
        if (outage.status !== 200) throw new Error(`could not start the PSP outage: ${outage.status} ${await outage.text()}`);
        cancelDeadline = Date.parse(((await outage.json()) as { outage: { until: string } }).outage.until) - OUTAGE_CANCEL_MARGIN_MS;
      })());
    let outageCancels = 0;
    let outageCanceled = 0;

    /**
     * A cancel during the outage of a refund whose every attempt so far is not_sent: it must win.
     * The one fair refusal is a retry running at that instant (the job is claimed: "being sent
     * right now"; its attempt may be in flight): the cancel is sent again while the outage lasts.
     * Any other refusal must rest on an attempt that may have reached the PSP, and attempt rows
     * never go away nor change once finished: if every attempt read after it is still not_sent,
     * the refusal had no ground, a violation.
     */
    async function cancelDuringOutage(key: string, refundId: string): Promise<void> {
      if (!(await untilAllNotSent(key, refundId, cancelDeadline))) return;
      outageCancels++;
      for (;;) {
        cancelRequests++;
        const c = await post<RefundBody & { error?: { code: string; message: string } }>(key, `/v1/refunds/${refundId}/cancel`, undefined, randomUUID());
        if (c.status === 200 && c.body.status === 'canceled') {
          canceledIds.push(refundId);
          outageCanceled++;
          return;
        }
        if (!(c.status === 400 && c.body.error?.code === 'refund_not_cancelable')) {
          violations.push(`cancel during the outage of ${refundId} answered ${c.status} ${JSON.stringify(c.body)}`);
          return;
        }
        const after = await attemptsOf(key, refundId);
        const running = /right now/.test(c.body.error.message);
        if (running && after.every((a) => a.outcome === null || a.outcome === 'not_sent') && Date.now() < cancelDeadline) continue;
        if (!running && allNotSent(after)) violations.push(`cancel of ${refundId} refused though every attempt of it is not_sent: ${c.body.error.message}`);
        return;
      }
    }

    // Refunds: concurrent partial and full refunds per succeeded charge, with retries.
    let refundRequests = 0;
    let cancelRequests = 0;
    const canceledIds: string[] = [];
    let referenceRefusals = 0;
    await Promise.all(
      settled
        .filter((c) => c.status === 'succeeded')
        .map(async (charge) => {
          const count = 1 + Math.floor(random() * 4);
          // References under concurrent creates: on some charges the requests share one of two
          // references, each sent concurrently under its own key.
          const withReferences = referenceRandom() < 0.5;
          const requests = Array.from({ length: count }, () => {
            const full = random() < 0.25;
            const body: { charge_id: string; amount?: number; reference?: string } = full ? { charge_id: charge.id } : { charge_id: charge.id, amount: 1 + Math.floor(random() * charge.amount * 0.6) };
            if (withReferences && referenceRandom() < 0.8) body.reference = `ret-${Math.floor(referenceRandom() * 2)}`;
            // Decided here, before any await, so the workload stays one per seed.
            const cancelAfterMs = random() < 0.3 ? Math.floor(random() * 40) : undefined;
            const cancelInOutage = outageRandom() < OUTAGE_CANCEL_SHARE;
            return { body, key: randomUUID(), cancelAfterMs, cancelInOutage };
          });
          refundRequests += count;
          const answers = await Promise.all(
            requests.map(async (r) => {
              const a = await post<RefundBody & { error?: { code: string; message: string } }>(charge.key, '/v1/refunds', r.body, r.key);
              if (a.status === 201) await startOutage();
              // A cancel racing the worker (which claims the new job at once): it wins only if no PSP
              // call was started; either answer is fine, the invariants check the outcome.
              if (a.status === 201 && r.cancelAfterMs !== undefined) {
                await new Promise((resolve) => setTimeout(resolve, r.cancelAfterMs));
                cancelRequests++;
                const c = await post<RefundBody & { error?: { code: string } }>(charge.key, `/v1/refunds/${a.body.id}/cancel`, undefined, randomUUID());
                if (c.status === 200 && c.body.status === 'canceled') canceledIds.push(a.body.id);
                else if (!(c.status === 400 && c.body.error?.code === 'refund_not_cancelable')) violations.push(`cancel of ${a.body.id} answered ${c.status} ${JSON.stringify(c.body)}`);
              } else if (a.status === 201 && r.cancelInOutage && Date.now() < cancelDeadline) {
                await cancelDuringOutage(charge.key, a.body.id);
              }
              return a;
            }),
          );
          const createdByReference = new Map<string, string[]>();
          answers.forEach((a, i) => {
            const reference = requests[i]?.body.reference;
            if (reference && a.status === 201) createdByReference.set(reference, [...(createdByReference.get(reference) ?? []), a.body.id]);
          });
          for (const [reference, ids] of createdByReference) if (ids.length > 1) violations.push(`refunds ${ids.join(', ')} of ${charge.id} all created with the reference ${reference}`);
          answers.forEach((a, i) => {
            const reference = requests[i]?.body.reference;
            const code = a.body.error?.code ?? '';
            const ok = a.status === 201 || (a.status === 400 && (['amount_too_large', 'charge_already_refunded'].includes(code) || (reference !== undefined && code === 'reference_already_used')));
            if (!ok) violations.push(`refund answered ${a.status} ${JSON.stringify(a.body)}`);
            if (code === 'reference_already_used') {
              referenceRefusals++;
              // It names the refund that has the reference: the one of these requests that got it.
              const holder = reference ? createdByReference.get(reference)?.[0] : undefined;
              if (!holder || !(a.body.error?.message ?? '').includes(holder)) violations.push(`reference_already_used for ${reference} of ${charge.id} names no refund created with it: ${JSON.stringify(a.body)}`);
            }
          });
        }),
    );

    await startOutage();
    // The PSP is back before it is told anything more (a refund phase may end before the outage).
    await eventually(() => fetch(`${sim}/sim/state`).then(() => true, () => undefined), 10_000, 'the PSP simulator listening again after the outage');
    // Faults stop; within a reconciliation interval or two everything must be terminal.
    await setFaults({ latency_ms: 0, failure_rate: 0, timeout_rate: 0, lost_response_rate: 0, webhook_drop_rate: 0, webhook_duplicate_rate: 0, webhook_reorder: false });
    try {
      await eventually(async () => {
        const { rows } = await fincore.db.pool.query<{ n: number }>(`SELECT (SELECT count(*) FROM payments WHERE status = 'pending') + (SELECT count(*) FROM refunds WHERE status = 'pending') AS n`);
        return Number(rows[0]?.n) === 0 ? true : undefined;
      }, 60_000, 'every object to be terminal after faults stop');
    } catch (error) {
      violations.push(error instanceof Error ? error.message : String(error));
    }

    // Late failures keep arriving (or are found by the terminal sweep) after everything is
    // terminal: wait until FinCore agrees with the PSP, then check once more for the record.
    const simState = async () => (await (await fetch(`${sim}/sim/state`)).json()) as SimState & { faults_injected?: Record<string, number> };
    // Agreement twice, with more than the PSP's late-failure delay between: a refund the PSP is
    // about to fail late agrees at the first look.
    const agree = () => eventually(async () => ((await checkInvariants(fincore.db.pool, await simState())).length === 0 ? true : undefined), 30_000, 'FinCore to agree with the PSP').catch(() => undefined);
    await agree();
    await new Promise((r) => setTimeout(r, 4 * LATE_FAILURE_MS));
    await agree();
    const state = await simState();
    violations.push(...(await checkInvariants(fincore.db.pool, state)));
    // A cancel answered 200 stays canceled (nothing moves a canceled refund).
    const { rows: notCanceled } = await fincore.db.pool.query<{ id: string; status: string }>(`SELECT id, status FROM refunds WHERE id = ANY($1::text[]) AND status <> 'canceled'`, [canceledIds]);
    for (const row of notCanceled) violations.push(`cancel of ${row.id} answered 200, yet it is ${row.status}`);
    const injected = state.faults_injected ?? {};
    const history = await checkAttemptHistory(fincore.db.pool, { timeoutsInjected: injected['timeout'] ?? 0, lostResponsesInjected: injected['lost_response'] ?? 0 });
    violations.push(...history.violations);
    const { rows: truth } = await fincore.db.pool.query<{ late: number; reviews: number }>(
      `SELECT (SELECT count(*) FROM events WHERE type = 'refund.failed' AND data->'previous_attributes'->>'status' = 'succeeded')::int AS late,
              (SELECT count(*) FROM reviews)::int AS reviews`,
    );
    return {
      seed: options.seed,
      charges: charges.length,
      refundRequests,
      violations,
      injected,
      lateFailures: truth[0]?.late ?? 0,
      reviews: truth[0]?.reviews ?? 0,
      cancelRequests,
      canceled: canceledIds.length,
      referenceRefusals,
      outageCancels,
      outageCanceled,
      attempts: history.summary,
    };
  } finally {
    for (const worker of extraWorkers) await worker.stop();
    await fincore.stop();
  }
}

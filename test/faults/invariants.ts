/**
 * The fault suite's invariant checker: compares FinCore's database with the PSP simulator's
 * own record (GET /sim/state) and checks the promises P1-P5 across the whole history.
 */
import type pg from 'pg';

interface SimObject {
  id: string;
  reference: string;
  status: string;
  amount: number;
}
export interface SimState {
  charges: SimObject[];
  refunds: Array<SimObject & { charge: string }>;
  /** Create calls received per `charges <id>` / `refunds <id>`. */
  create_requests?: Record<string, number>;
}

export async function checkInvariants(pool: pg.Pool, sim: SimState): Promise<string[]> {
  const violations: string[] = [];
  const q = async <T extends pg.QueryResultRow>(sql: string): Promise<T[]> => (await pool.query<T>(sql)).rows;

  // P1 No over-refund.
  // What refunds hold (refund_holds_amount: pending, succeeded, requires_review) plus what lost disputes took.
  for (const row of await q<{ id: string; amount: number; reserved: number }>(`
      SELECT * FROM (
        SELECT p.id, p.amount,
               (coalesce((SELECT sum(r.amount) FROM refunds r WHERE r.payment_id = p.id AND refund_holds_amount(r.status)), 0)
                + coalesce((SELECT sum(d.amount) FROM disputes d WHERE d.charge_id = p.id AND d.status = 'lost'), 0))::bigint AS reserved
          FROM payments p) AS x
       WHERE x.reserved > x.amount`)) {
    violations.push(`P1 over-refund: charge ${row.id} amount ${row.amount} reserved ${row.reserved}`);
  }

  // P2 At most one effective PSP object per FinCore id.
  for (const [kind, objects] of [['charge', sim.charges], ['refund', sim.refunds]] as const) {
    const seen = new Map<string, number>();
    for (const o of objects) seen.set(o.reference, (seen.get(o.reference) ?? 0) + 1);
    for (const [reference, count] of seen) if (count > 1) violations.push(`P2 ${count} PSP ${kind}s for ${reference}`);
  }

  // P3 Unknown is not failed: FinCore's terminal state is the PSP's state.
  const simStatus = new Map<string, string>([...sim.charges, ...sim.refunds].map((o) => [o.reference, o.status]));
  // An object in requires_review is the other allowed end: a contradiction an operator sees
  // (it must have its open review item, P6).
  for (const row of await q<{ id: string; status: string }>(`SELECT id, status FROM payments UNION ALL SELECT id, status FROM refunds`)) {
    const psp = simStatus.get(row.id);
    // A canceled refund was canceled before any PSP call: the PSP has no refund for it, and was
    // never asked for one.
    if (row.status === 'canceled') {
      if (psp !== undefined) violations.push(`P3 ${row.id} is canceled in FinCore but ${psp} at the PSP`);
      if (sim.create_requests?.[`refunds ${row.id}`]) violations.push(`P3 ${row.id} is canceled in FinCore but the PSP was asked to create it`);
      continue;
    }
    if (row.status !== 'pending' && row.status !== 'requires_review' && psp !== row.status) violations.push(`P3 ${row.id} is ${row.status} in FinCore but ${psp ?? 'unknown'} at the PSP`);
  }
  // Succeeded totals per charge agree with the PSP.
  const simRefunded = new Map<string, number>();
  const simChargeRef = new Map(sim.charges.map((c) => [c.id, c.reference]));
  // A refund in review is the operator's to decide: neither side's total counts it.
  const inReview = new Set((await q<{ id: string }>(`SELECT id FROM refunds WHERE status = 'requires_review'`)).map((r) => r.id));
  for (const r of sim.refunds) {
    if (r.status !== 'succeeded' || inReview.has(r.reference)) continue;
    const chargeRef = simChargeRef.get(r.charge) ?? r.charge;
    simRefunded.set(chargeRef, (simRefunded.get(chargeRef) ?? 0) + r.amount);
  }
  for (const row of await q<{ id: string; refunded: number }>(`
      SELECT p.id, coalesce(sum(r.amount) FILTER (WHERE r.status = 'succeeded'), 0)::bigint AS refunded
        FROM payments p LEFT JOIN refunds r ON r.payment_id = p.id GROUP BY p.id`)) {
    if ((simRefunded.get(row.id) ?? 0) !== row.refunded) violations.push(`totals: charge ${row.id} refunded ${row.refunded} in FinCore, ${simRefunded.get(row.id) ?? 0} at the PSP`);
  }

  // P4 Every object has exactly one created event, and its latest status event names the status it
  // is in (a late failure or a review adds status events: each move has one).
  for (const row of await q<{ id: string; status: string; created: number; last: string | null }>(`
      SELECT o.id, o.status,
             (SELECT count(*) FROM events e WHERE e.object_id = o.id AND e.type LIKE '%.created')::int AS created,
             (SELECT e.type FROM events e
               WHERE e.object_id = o.id AND (e.type LIKE '%.succeeded' OR e.type LIKE '%.failed' OR e.type LIKE '%.requires_review' OR e.type LIKE '%.canceled' OR (e.type LIKE '%.updated' AND e.data->'previous_attributes' ? 'status'))
               ORDER BY e.sequence DESC LIMIT 1) AS last
        FROM (SELECT id, status FROM payments UNION ALL SELECT id, status FROM refunds) o`)) {
    const expected = row.status === 'pending' ? null : `${row.id.startsWith('ch_') ? 'charge' : 'refund'}.${row.status}`;
    if (row.created !== 1 || (expected !== null && row.last !== expected) || (expected === null && row.last !== null && !row.last.endsWith('.updated'))) {
      violations.push(`P4 ${row.id} (${row.status}) has ${row.created} created events and its last status event is ${row.last ?? 'none'}`);
    }
  }

  // P5 Nothing half-written: every charge/refund has exactly one job, every job its object.
  for (const row of await q<{ id: string; jobs: number }>(`
      SELECT o.id, count(j.id)::int AS jobs
        FROM (SELECT id FROM payments UNION ALL SELECT id FROM refunds WHERE origin = 'api') o
        LEFT JOIN jobs j ON j.ref = o.id GROUP BY o.id HAVING count(j.id) <> 1`)) {
    violations.push(`P5 ${row.id} has ${row.jobs} jobs`); // a refund made at the PSP (origin psp) has none
  }
  for (const row of await q<{ id: string }>(`
      SELECT j.id FROM jobs j
       WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = j.ref)
         AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.id = j.ref)`)) {
    violations.push(`P5 job ${row.id} has no object`);
  }
  // P6 Contradictions are visible: every object in requires_review has exactly one open review
  // item, and no open review item points at an object that is not in review.
  for (const row of await q<{ id: string; open: number }>(`
      SELECT o.id, (SELECT count(*) FROM reviews v WHERE v.object_id = o.id AND v.status = 'open')::int AS open
        FROM (SELECT id, status FROM payments UNION ALL SELECT id, status FROM refunds) o
       WHERE o.status = 'requires_review'`)) {
    if (row.open !== 1) violations.push(`P6 ${row.id} is in requires_review with ${row.open} open review items`);
  }
  for (const row of await q<{ id: string; object_id: string }>(`
      SELECT v.id, v.object_id FROM reviews v
       WHERE v.status = 'open' AND v.object_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = v.object_id AND p.status = 'requires_review')
         AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.id = v.object_id AND r.status = 'requires_review')`)) {
    violations.push(`P6 open review ${row.id} of ${row.object_id}, which is not in review`);
  }
  // P7 a merchant's reference names one object for ever: one refund per (charge, reference), one
  // charge per (merchant, reference), whatever the concurrency and the faults.
  for (const row of await q<{ kind: string; scope: string; reference: string; n: number }>(`
      SELECT 'refund' AS kind, payment_id AS scope, reference, count(*)::int AS n FROM refunds WHERE reference IS NOT NULL GROUP BY payment_id, reference HAVING count(*) > 1
      UNION ALL
      SELECT 'charge', merchant_id, reference, count(*)::int FROM payments WHERE reference IS NOT NULL GROUP BY merchant_id, reference HAVING count(*) > 1`)) {
    violations.push(`P7 ${row.n} ${row.kind}s of ${row.scope} with the reference ${row.reference}`);
  }
  return violations;
}

export interface AttemptSummary {
  /** PSP calls recorded, and how many ended each way (`in_flight`: no outcome). */
  total: number;
  outcomes: Record<string, number>;
  /** Objects whose job ran (claimed at least once), and objects with attempts. */
  objectsRun: number;
  objectsWithAttempts: number;
}

/**
 * The PSP attempt history (psp_attempts), once everything settled:
 * - every charge and refund whose job ran (claimed at least once) has at least one attempt;
 * - an object's attempt numbers are 1..n without gaps, and every idempotency key is the object id;
 * - no attempt is left in flight (finished_at NULL). The fault suite stops no worker mid-call (its
 *   workers are stopped gracefully, after the drain), so every started call was completed; a
 *   scenario that kills workers could leave the killed worker's row in flight, and only that;
 * - when timeouts were injected at least one attempt ended `timeout` (the PSP held its answer past
 *   FinCore's timeout); when responses were lost (the PSP cut the socket after acting) at least one
 *   ended `network` or `timeout`;
 * - a canceled refund has only `not_sent` attempts (or none): nothing of it reached the PSP.
 */
export async function checkAttemptHistory(
  pool: pg.Pool,
  options: { timeoutsInjected: number; lostResponsesInjected: number },
): Promise<{ violations: string[]; summary: AttemptSummary }> {
  const violations: string[] = [];
  const q = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> => (await pool.query<T>(sql, params)).rows;

  const run = await q<{ id: string; status: string; attempts: number; job: string }>(`
      SELECT o.id, o.status, (SELECT count(*) FROM psp_attempts a WHERE a.object_id = o.id)::int AS attempts,
             (SELECT string_agg(j.status || ' attempts=' || j.attempts || ' last_error=' || coalesce(j.last_error, '-') || ' updated=' || j.updated_at, '; ') FROM jobs j WHERE j.ref = o.id) AS job
        FROM (SELECT id, status FROM payments UNION ALL SELECT id, status FROM refunds WHERE origin = 'api') o
       WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.ref = o.id AND j.job_type IN ('CHARGE', 'REFUND') AND j.attempts > 0)`);
  for (const row of run) if (row.attempts === 0) violations.push(`A1 ${row.id} (${row.status}; job ${row.job}): its job ran, yet no PSP attempt is recorded`);

  for (const row of await q<{ object_id: string; n: number; first: number; last: number }>(`
      SELECT object_id, count(*)::int AS n, min(attempt_number) AS first, max(attempt_number) AS last
        FROM psp_attempts GROUP BY object_id HAVING min(attempt_number) <> 1 OR max(attempt_number) <> count(*)`)) {
    violations.push(`A2 ${row.object_id}: attempt numbers ${row.first}..${row.last} for ${row.n} attempts (gaps)`);
  }
  for (const row of await q<{ object_id: string; attempt_number: number; idempotency_key: string }>(`SELECT object_id, attempt_number, idempotency_key FROM psp_attempts WHERE idempotency_key <> object_id`)) {
    violations.push(`A3 ${row.object_id} attempt ${row.attempt_number}: idempotency key ${row.idempotency_key}, not the object id`);
  }
  for (const row of await q<{ object_id: string; attempt_number: number }>(`SELECT object_id, attempt_number FROM psp_attempts WHERE finished_at IS NULL`)) {
    violations.push(`A4 ${row.object_id} attempt ${row.attempt_number} is still in flight after the drain`);
  }
  const outcomes: Record<string, number> = {};
  for (const row of await q<{ outcome: string | null; n: number }>(`SELECT outcome, count(*)::int AS n FROM psp_attempts GROUP BY outcome ORDER BY outcome`)) outcomes[row.outcome ?? 'in_flight'] = row.n;
  if (options.timeoutsInjected > 0 && !outcomes['timeout']) violations.push(`A5 ${options.timeoutsInjected} timeouts injected, yet no attempt ended timeout: ${JSON.stringify(outcomes)}`);
  if (options.lostResponsesInjected > 0 && !outcomes['timeout'] && !outcomes['network']) {
    violations.push(`A5 ${options.lostResponsesInjected} responses lost, yet no attempt ended network or timeout: ${JSON.stringify(outcomes)}`);
  }
  for (const row of await q<{ object_id: string; outcomes: string }>(
    `SELECT a.object_id, string_agg(coalesce(a.outcome, 'in flight'), ', ' ORDER BY a.attempt_number) AS outcomes
       FROM psp_attempts a JOIN refunds r ON r.id = a.object_id
      WHERE r.status = 'canceled' GROUP BY a.object_id HAVING bool_or(a.outcome IS DISTINCT FROM 'not_sent')`,
  )) {
    violations.push(`A6 canceled refund ${row.object_id} has attempts that may have reached the PSP: ${row.outcomes}`);
  }
  const [counts] = await q<{ total: number; objects: number }>(`SELECT count(*)::int AS total, count(DISTINCT object_id)::int AS objects FROM psp_attempts`);
  return { violations, summary: { total: counts?.total ?? 0, outcomes, objectsRun: run.length, objectsWithAttempts: counts?.objects ?? 0 } };
}

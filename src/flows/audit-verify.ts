/**
 * `fincore audit verify`: recomputes every hash chain and checks the ledger against the charges
 * and refunds. Read-only. Each check reports its first problem, named precisely enough to find
 * the row (chain, position, event id, charge id, currency).
 */
import type { Queryable } from '../db/pool.ts';
import { expectedChargeBalances, expectedRefundBalances, type Account } from '../domain/ledger.ts';
import type { ChargeStatus, RefundStatus } from '../domain/status.ts';
import { checkLink, type ChainLink, type HashedEventContent } from './audit-chain.ts';

export interface VerifyReport {
  ok: boolean;
  chains: { chain: string; length: number; head: string }[];
  eventsChecked: number;
  ledgerEntries: number;
  chargesChecked: number;
  /** Events committed but not yet sealed, younger than the grace period: not a failure. */
  pendingSeal: number;
  problems: string[];
}

const BATCH = 5000;

export async function verifyAuditTrail(db: Queryable, options: { sealGraceMs: number } = { sealGraceMs: 60_000 }): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, chains: [], eventsChecked: 0, ledgerEntries: 0, chargesChecked: 0, pendingSeal: 0, problems: [] };
  const problem = (text: string) => report.problems.push(text);

  await verifyChains(db, report, problem);
  await verifyCoverage(db, options.sealGraceMs, report, problem);
  await verifyLedger(db, report, problem);
  report.ok = report.problems.length === 0;
  return report;
}

type LinkWithEvent = ChainLink & { found: boolean } & { [K in keyof HashedEventContent]: HashedEventContent[K] | null };

async function verifyChains(db: Queryable, report: VerifyReport, problem: (text: string) => void): Promise<void> {
  const { rows: chains } = await db.query<{ chain: string }>('SELECT DISTINCT chain FROM audit_chain ORDER BY chain');
  for (const { chain } of chains) {
    let previous: { position: number; hash: string } | undefined;
    let broken = false;
    for (;;) {
      const { rows } = await db.query<LinkWithEvent>(
        `SELECT c.chain, c.position, c.event_id, c.content_hash, c.prev_hash, c.hash, e.id IS NOT NULL AS found,
                e.id, e.merchant_id, e.type, e.object_type, e.object_id, e.sequence, e.data::text AS data_text,
                e.cause_type, e.cause_id, e.cause_idempotency_key,
                (extract(epoch FROM e.created_at) * 1000000)::bigint::text AS created_us
           FROM audit_chain c
           LEFT JOIN events e ON e.id = c.event_id
          WHERE c.chain = $1 AND c.position > $2
          ORDER BY c.position
          LIMIT $3`,
        [chain, previous?.position ?? 0, BATCH],
      );
      for (const row of rows) {
        const link: ChainLink = { chain, position: Number(row.position), event_id: row.event_id, content_hash: row.content_hash, prev_hash: row.prev_hash, hash: row.hash };
        const event = row.found ? (row as HashedEventContent) : undefined;
        const trouble = checkLink(previous, link, event);
        if (trouble) {
          problem(`chain ${chain}: ${trouble.replaceAll('_', ' ')} at position ${link.position} (event ${link.event_id}${previous ? `, after position ${previous.position}` : ''})`);
          broken = true;
          break;
        }
        previous = { position: link.position, hash: link.hash };
        report.eventsChecked++;
      }
      if (broken || rows.length < BATCH) break;
    }
    report.chains.push({ chain, length: previous?.position ?? 0, head: previous?.hash ?? '' });
  }
}

async function verifyCoverage(db: Queryable, sealGraceMs: number, report: VerifyReport, problem: (text: string) => void): Promise<void> {
  // Every event is in a chain (or waiting for the relay, briefly).
  const { rows: unsealed } = await db.query<{ id: string; recent: boolean }>(
    `SELECT e.id, e.created_at > now() - make_interval(secs => $1::double precision / 1000) AS recent
       FROM events e LEFT JOIN audit_chain c ON c.event_id = e.id
      WHERE c.event_id IS NULL
      ORDER BY e.id`,
    [sealGraceMs],
  );
  report.pendingSeal = unsealed.filter((u) => u.recent).length;
  const stale = unsealed.find((u) => !u.recent);
  if (stale) problem(`event ${stale.id} is in no chain (${unsealed.filter((u) => !u.recent).length} such events)`);

  // Sequences run 1..n per object, without gaps or repeats.
  const { rows: gaps } = await db.query<{ object_id: string; n: number; top: number }>(
    `SELECT object_id, count(*)::int AS n, max(sequence) AS top FROM events GROUP BY object_id HAVING max(sequence) <> count(*) OR min(sequence) <> 1 ORDER BY object_id LIMIT 1`,
  );
  if (gaps[0]) problem(`object ${gaps[0].object_id}: ${gaps[0].n} events but sequence reaches ${gaps[0].top}`);

  // Every state a charge or refund is in was reached through an event.
  const { rows: uncovered } = await db.query<{ id: string; missing: string }>(
    `SELECT o.id, o.missing FROM (
       SELECT p.id, 'charge.created' AS missing FROM payments p
        WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.object_id = p.id AND e.type = 'charge.created')
       UNION ALL
       SELECT p.id, 'charge.' || p.status FROM payments p
        WHERE p.status <> 'pending' AND NOT EXISTS (SELECT 1 FROM events e WHERE e.object_id = p.id AND e.type = 'charge.' || p.status)
       UNION ALL
       SELECT r.id, 'refund.created' FROM refunds r
        WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.object_id = r.id AND e.type = 'refund.created')
       UNION ALL
       SELECT r.id, 'refund.' || r.status FROM refunds r
        WHERE r.status <> 'pending' AND NOT EXISTS (SELECT 1 FROM events e WHERE e.object_id = r.id AND e.type = 'refund.' || r.status)
     ) AS o ORDER BY o.id LIMIT 1`,
  );
  if (uncovered[0]) problem(`${uncovered[0].id} has no ${uncovered[0].missing} event`);
}

/** Each account's balance over the journal entries matching `where`, joined as `l`. */
function ledgerBalancesWhere(where: string): string {
  return `LEFT JOIN LATERAL (
           SELECT sum(amount) FILTER (WHERE account = 'psp_clearing') AS psp_clearing,
                  sum(amount) FILTER (WHERE account = 'merchant_balance') AS merchant_balance,
                  sum(amount) FILTER (WHERE account = 'refunds_reserved') AS refunds_reserved
             FROM ledger_entries WHERE ${where}
         ) AS l ON true`;
}

const BALANCE_COLUMNS = `coalesce(l.psp_clearing, 0)::bigint AS psp_clearing,
              coalesce(l.merchant_balance, 0)::bigint AS merchant_balance,
              coalesce(l.refunds_reserved, 0)::bigint AS refunds_reserved`;

async function verifyLedger(db: Queryable, report: VerifyReport, problem: (text: string) => void): Promise<void> {
  const { rows: count } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger_entries');
  report.ledgerEntries = count[0]?.n ?? 0;

  const { rows: currencies } = await db.query<{ currency: string; total: number }>(
    'SELECT currency, sum(amount)::bigint AS total FROM ledger_entries GROUP BY currency HAVING sum(amount) <> 0 ORDER BY currency LIMIT 1',
  );
  if (currencies[0]) problem(`ledger does not sum to zero in ${currencies[0].currency}: ${currencies[0].total} left over`);
  const { rows: journals } = await db.query<{ event_id: string; total: number }>(
    'SELECT event_id, sum(amount)::bigint AS total FROM ledger_entries GROUP BY event_id, currency HAVING sum(amount) <> 0 ORDER BY event_id LIMIT 1',
  );
  if (journals[0]) problem(`ledger entry of event ${journals[0].event_id} does not balance: ${journals[0].total} left over`);

  // Per charge: the ledger's balances equal what the charge and its refunds imply (the first
  // charge that does not is reported, then the refunds are checked on their own).
  let after = '';
  charges: for (;;) {
    const { rows } = await db.query<{ id: string; status: ChargeStatus; amount: number; status_before_review: ChargeStatus | null; reserved: number; paid_out: number; lost: number } & Record<Account, number>>(
      `SELECT p.id, p.status, p.amount,
              (SELECT v.status_before FROM reviews v WHERE v.object_id = p.id AND v.status = 'open') AS status_before_review,
              coalesce((SELECT sum(r.amount) FROM refunds r WHERE r.payment_id = p.id AND r.status IN ('pending', 'requires_review')), 0)::bigint AS reserved,
              coalesce((SELECT sum(r.amount) FROM refunds r WHERE r.payment_id = p.id AND r.status = 'succeeded'), 0)::bigint AS paid_out,
              coalesce((SELECT sum(d.amount) FROM disputes d WHERE d.charge_id = p.id AND d.status = 'lost'), 0)::bigint AS lost,
              ${BALANCE_COLUMNS}
         FROM payments p
         ${ledgerBalancesWhere('charge_id = p.id')}
        WHERE p.id > $1
        ORDER BY p.id
        LIMIT $2`,
      [after, BATCH],
    );
    for (const row of rows) {
      report.chargesChecked++;
      const expected = expectedChargeBalances(
        row,
        [
          { status: 'pending', amount: Number(row.reserved) },
          { status: 'succeeded', amount: Number(row.paid_out) },
        ],
        Number(row.lost),
      );
      for (const account of ['psp_clearing', 'merchant_balance', 'refunds_reserved'] as const) {
        if (Number(row[account]) !== expected[account]) {
          problem(`charge ${row.id}: ledger ${account} is ${row[account]}, the charge and its refunds say ${expected[account]}`);
          break charges;
        }
      }
    }
    const last = rows.at(-1);
    if (!last || rows.length < BATCH) break;
    after = last.id;
  }

  // Per refund: its own journal entries agree with the status it is in, so every move in its
  // history (a late failure, a review) posted what it should have.
  after = '';
  for (;;) {
    const { rows } = await db.query<{ id: string; status: RefundStatus; amount: number } & Record<Account, number>>(
      `SELECT r.id, r.status, r.amount,
              ${BALANCE_COLUMNS}
         FROM refunds r
         ${ledgerBalancesWhere('refund_id = r.id')}
        WHERE r.id > $1
        ORDER BY r.id
        LIMIT $2`,
      [after, BATCH],
    );
    for (const row of rows) {
      const expected = expectedRefundBalances(row.status, Number(row.amount));
      for (const account of ['psp_clearing', 'merchant_balance', 'refunds_reserved'] as const) {
        if (Number(row[account]) !== expected[account]) {
          problem(`refund ${row.id} (${row.status}): its ledger ${account} is ${row[account]}, its status says ${expected[account]}`);
          return;
        }
      }
    }
    const last = rows.at(-1);
    if (!last || rows.length < BATCH) break;
    after = last.id;
  }
}

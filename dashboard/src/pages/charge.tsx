import { answer, api, ApiError } from '../api.ts';
import { Card, DataTable, ErrorNote, num, StatusBadge, TableWrap } from '../components.tsx';
import { formatTime } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { accountBalances, groupMovements } from '../ledger.ts';
import { formatAmount } from '../money.ts';
import type { ChargeDetail, EventCause, PspAttempt } from '../types.ts';

function CauseText({ cause }: { cause: EventCause }) {
  switch (cause.type) {
    case 'api_request':
      return (
        <span>
          API request <code>{cause.id}</code>
          {cause.idempotency_key ? (
            <>
              {' '}
              · Idempotency-Key <code>{cause.idempotency_key}</code>
            </>
          ) : (
            <span class="muted"> · no Idempotency-Key</span>
          )}
        </span>
      );
    case 'job':
      return (
        <span>
          job <code>{cause.id}</code>
        </span>
      );
    case 'psp_event':
      return (
        <span>
          PSP event <code>{cause.id}</code>
        </span>
      );
    case 'reconciliation':
      return (
        <span>
          reconciliation <code>{cause.id}</code>
        </span>
      );
    default:
      return (
        <span>
          {cause.type} {cause.id ? <code>{cause.id}</code> : null}
        </span>
      );
  }
}

export function ChargePage({ id }: { id: string }) {
  // Refreshed every 2 s so a pending charge or refund is seen settling; cheap for one charge.
  const detail = usePolled(() => answer(api.GET('/v1/admin/charges/{id}', { params: { path: { id } } })), [id], 2000);
  const d = detail.data;
  if (!d) {
    if (detail.error instanceof ApiError && detail.error.status === 404) {
      return (
        <div class="page">
          <h2>Charge {id}</h2>
          <p class="error" role="alert">
            No charge {id}.
          </p>
        </div>
      );
    }
    return (
      <div class="page">
        <h2>Charge {id}</h2>
        <ErrorNote error={detail.error} />
        {detail.loading ? <p class="muted">Loading…</p> : null}
      </div>
    );
  }
  const c = d.charge;
  const refunds = c.refunds?.data ?? [];
  const moreRefunds = c.refunds?.has_more ?? false;
  const movements = groupMovements(d.ledger);
  const balances = accountBalances(d.ledger);

  return (
    <div class="page" data-testid="charge-page">
      <p>
        <a href="#/charges">← Charges</a>
      </p>
      <h2 class="mono wrap">{c.id}</h2>
      <ErrorNote error={detail.error} />
      <div class="cards">
        <Card title="Amount" testId="charge-amount">
          <p class="big">{formatAmount(c.amount, c.currency)}</p>
          <p class="muted">{c.payment_method}</p>
          {c.description ? <p data-testid="charge-description">{c.description}</p> : <p class="muted">no description</p>}
        </Card>
        <Card title="Status" testId="charge-status">
          <p class="big">
            <StatusBadge status={c.status} />
          </p>
          {c.review_reason ? (
            <p data-testid="charge-review-reason">
              in review: <strong>{c.review_reason}</strong> · <a href="#/reviews">Reviews</a>
            </p>
          ) : null}
          {c.failure_code ? (
            <p class="error-text">
              {c.failure_code}: {c.failure_message}
            </p>
          ) : null}
          {c.psp ? <p class="muted small">PSP: {c.psp}</p> : null}
          {c.psp_status ? (
            <p class="small" data-testid="charge-psp-status" data-psp-status={c.psp_status}>
              PSP: <strong>{c.psp_status.replaceAll('_', ' ')}</strong>
              {c.next_check_at ? <span class="muted"> · next check {formatTime(c.next_check_at)}</span> : null}
            </p>
          ) : null}
        </Card>
        <Card title="Refundable" testId="charge-refundable">
          <p class="big">{formatAmount(d.refundable_amount, c.currency)}</p>
          <p class="muted">refunded {formatAmount(c.amount_refunded, c.currency)}</p>
          {c.amount_refund_pending ? (
            <p class="muted" data-testid="charge-refund-pending">
              pending at the PSP {formatAmount(c.amount_refund_pending, c.currency)}
            </p>
          ) : null}
        </Card>
        <Card title="Merchant" testId="charge-merchant">
          <p class="big wrap">{d.merchant_name}</p>
          <p class="mono wrap muted">{d.merchant_id}</p>
          <p class="muted">created {formatTime(c.created_at)}</p>
        </Card>
      </div>

      <section>
        <h3>Refunds ({moreRefunds ? `oldest ${refunds.length}` : refunds.length})</h3>
        {moreRefunds ? (
          <p class="muted small" data-testid="charge-refunds-more">
            This charge has more refunds than shown (the ledger postings and the timeline below cover the ones shown); the{' '}
            <a href="#/refunds">Refunds</a> page lists them all. Refunded {formatAmount(c.amount_refunded, c.currency)} counts every one.
          </p>
        ) : null}
        <DataTable label="Refunds of this charge" testId="charge-refunds" columns={['Refund', num('Amount'), 'Status', 'PSP', 'Reason', 'Reference', 'Origin', 'Created', 'Updated']} empty={refunds.length === 0 ? 'No refunds.' : null}>
          {refunds.map((r) => (
            <tr key={r.id} data-id={r.id}>
              <td class="mono">{r.id}</td>
              <td class="num">{formatAmount(r.amount, r.currency)}</td>
              <td>
                <StatusBadge status={r.status} />
                {r.review_reason ? <span class="small" data-review-reason={r.review_reason}> {r.review_reason}</span> : null}
                {r.failure_reason ? <span class="muted small"> {r.failure_reason}</span> : null}
              </td>
              <td data-psp-status={r.psp_status ?? ''}>
                {/* What FinCore knows of a pending refund's PSP call: not sent yet, sent and unanswered, accepted. */}
                {r.status === 'pending' && r.psp_status ? (
                  <>
                    {r.psp_status.replaceAll('_', ' ')}
                    {r.next_check_at ? <span class="muted small"> · next check {formatTime(r.next_check_at)}</span> : null}
                  </>
                ) : (
                  '—'
                )}
              </td>
              <td>{r.reason ?? '—'}</td>
              <td class="mono">{r.reference ?? '—'}</td>
              <td data-origin={r.origin}>{r.origin === 'psp' ? 'made at the PSP' : 'API'}</td>
              <td>{formatTime(r.created_at)}</td>
              <td>{formatTime(r.updated_at)}</td>
            </tr>
          ))}
        </DataTable>
      </section>

      <PspAttempts attempts={d.attempts} />

      <section>
        <h3>Ledger postings</h3>
        <p class="muted small">Debits are positive, credits negative; each movement sums to zero.</p>
        <TableWrap label="Ledger postings">
          <table data-testid="charge-ledger">
            <thead>
              <tr>
                <th>Movement</th>
                <th>Account</th>
                <th class="num">Debit</th>
                <th class="num">Credit</th>
                <th>Refund</th>
                <th>Posted</th>
              </tr>
            </thead>
            {movements.map((m) => (
              <tbody key={`${m.eventId}|${m.currency}`} class="movement" data-movement={m.movement} data-event={m.eventId}>
                {m.entries.map((e, i) => (
                  <tr key={e.id} data-account={e.account}>
                    <td>{i === 0 ? m.movement : ''}</td>
                    <td class="mono">{e.account}</td>
                    <td class="num">{e.amount > 0 ? formatAmount(e.amount, e.currency) : ''}</td>
                    <td class="num">{e.amount < 0 ? formatAmount(-e.amount, e.currency) : ''}</td>
                    <td class="mono">{e.refund_id ?? ''}</td>
                    <td>{formatTime(e.created_at)}</td>
                  </tr>
                ))}
                <tr class="subtotal">
                  <td colSpan={2} class={m.net === 0 ? 'ok' : 'error-text'} data-testid="movement-check">
                    {m.net === 0 ? '✓ balanced' : `✗ off by ${formatAmount(m.net, m.currency)}`}
                  </td>
                  <td class="num">{formatAmount(m.debits, m.currency)}</td>
                  <td class="num">{formatAmount(-m.credits, m.currency)}</td>
                  <td colSpan={2} class="muted small mono">
                    event {m.eventId}
                  </td>
                </tr>
              </tbody>
            ))}
            {movements.length === 0 ? (
              <tbody>
                <tr>
                  <td colSpan={6} class="muted">
                    No postings: a pending or declined charge moves no money.
                  </td>
                </tr>
              </tbody>
            ) : null}
          </table>
        </TableWrap>
        {balances.length > 0 ? (
          <p class="balances" data-testid="charge-balances">
            {balances.map((b) => (
              <span key={`${b.account}|${b.currency}`}>
                <code>{b.account}</code> {formatAmount(b.balance, b.currency)}
              </span>
            ))}
          </p>
        ) : null}
      </section>

      <section>
        <h3>Timeline</h3>
        <ol class="timeline" data-testid="charge-timeline">
          {d.events.map((e) => (
            <li key={e.id} data-type={e.type} data-cause={e.cause.type}>
              <div class="timeline-head">
                <b>{e.type}</b>
                <span class="seq" title="sequence of this object's changes">
                  #{e.sequence}
                </span>
                <span class="mono small">{e.data.object_id}</span>
                <time class="muted small">{formatTime(e.created_at)}</time>
              </div>
              <div class="small">
                caused by <CauseText cause={e.cause} />
              </div>
              <div class="muted small mono">{e.id}</div>
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}

/**
 * Every PSP call for the charge and its refunds, newest first: what FinCore sent (the idempotency
 * key is the object id), how it ended (success, pending, decline, timeout, server_error, network, not_sent;
 * "in flight" while the call runs), how long it took and what the PSP said.
 */
function PspAttempts({ attempts }: { attempts: PspAttempt[] }) {
  return (
    <section>
      <h3>PSP attempts ({attempts.length})</h3>
      <DataTable
        label="PSP attempts"
        testId="charge-attempts"
        columns={['Object', '#', 'Outcome', num('Latency'), 'PSP code', 'FinCore code', 'Started', 'Idempotency key']}
        empty={attempts.length === 0 ? 'No PSP call yet.' : null}
      >
        {attempts.map((a) => (
          <tr key={`${a.object_id}|${a.attempt_number}`} data-object={a.object_id} data-outcome={a.outcome ?? 'in_flight'}>
            <td class="mono">{a.object_id}</td>
            <td class="num">{a.attempt_number}</td>
            <td class={a.outcome === 'success' || a.outcome === 'pending' ? 'ok' : a.outcome === null ? 'muted' : 'error-text'} title={a.message ?? ''}>
              {a.outcome ?? 'in flight'}
            </td>
            <td class="num">{a.latency_ms === null ? '—' : `${a.latency_ms} ms`}</td>
            <td class="mono small">{a.psp_code ?? '—'}</td>
            <td class="mono small">{a.fincore_code ?? '—'}</td>
            <td>{formatTime(a.started_at)}</td>
            <td class="mono small">{a.idempotency_key}</td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}

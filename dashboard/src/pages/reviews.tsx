import { useState } from 'preact/hooks';
import { answer, api, ApiError } from '../api.ts';
import { DataTable, ErrorNote, num, StatusBadge } from '../components.tsx';
import { formatTime } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { formatAmount } from '../money.ts';
import { chargeHref } from '../route.ts';
import { REVIEW_DECISIONS, type List, type Review, type ReviewDecision } from '../types.ts';

const DECISION_WORDS: Record<ReviewDecision, string> = {
  accept_psp: "accept the PSP's outcome",
  keep_fincore: "keep FinCore's status",
};

/** How long ago, in the largest whole unit (an open review's age). */
function age(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

function money(amount: number | null | undefined, currency: string | null | undefined): string {
  if (amount === null || amount === undefined) return '—';
  return currency ? formatAmount(amount, currency) : String(amount);
}

function ObjectLink({ review }: { review: Review }) {
  if (!review.object_id) return <span class="muted">PSP event {review.psp_event_id ?? '—'}</span>;
  if (review.object_type === 'charge') {
    return (
      <a href={chargeHref(review.object_id)} class="mono">
        {review.object_id}
      </a>
    );
  }
  return (
    <span>
      <span class="muted small">refund </span>
      <span class="mono">{review.object_id}</span>
    </span>
  );
}

/** The decision and note for one open review, answered by POST /v1/admin/reviews/{id}/resolve. */
function ResolveForm({ review, onResolved }: { review: Review; onResolved: (resolved: Review) => void }) {
  const [decision, setDecision] = useState<ReviewDecision | ''>('');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>(undefined);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!decision || note.trim() === '') return;
    setBusy(true);
    setError(undefined);
    try {
      onResolved(await answer(api.POST('/v1/admin/reviews/{id}/resolve', { params: { path: { id: review.id } }, body: { decision, note } })));
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="filters resolve-form" onSubmit={(e) => void submit(e)} aria-label={`Resolve ${review.id}`}>
      <label>
        Decision
        <select value={decision} onChange={(e) => setDecision((e.target as HTMLSelectElement).value as ReviewDecision | '')} required>
          <option value="">choose…</option>
          {REVIEW_DECISIONS.map((d) => (
            <option key={d} value={d}>
              {d} ({DECISION_WORDS[d]})
            </option>
          ))}
        </select>
      </label>
      <label>
        Note
        <input type="text" value={note} maxLength={1000} required placeholder="why (kept with the review)" onInput={(e) => setNote((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit" disabled={busy || !decision || note.trim() === ''}>
        {busy ? 'Resolving…' : 'Resolve'}
      </button>
      <ErrorNote error={error} />
    </form>
  );
}

/**
 * Review items: PSP reports FinCore could not apply safely. Open ones wait for an operator, who
 * compares FinCore's view with the PSP's and decides; a resolved one stays on screen with its
 * decision until the next refresh drops it from the open list.
 */
export function Reviews() {
  const [status, setStatus] = useState<'open' | 'resolved'>('open');
  const list = usePolled(() => answer(api.GET('/v1/admin/reviews', { params: { query: { limit: 100, ...(status ? { status } : {}) } } })), [status], 5000);
  const [resolved, setResolved] = useState<Map<string, Review>>(new Map());

  const listed = list.data?.data ?? [];
  const listedIds = new Set(listed.map((r) => r.id));
  const rows = status === 'open' ? [...listed.map((r) => resolved.get(r.id) ?? r), ...[...resolved.values()].filter((r) => !listedIds.has(r.id))] : listed;

  return (
    <div class="page">
      <h2>Reviews</h2>
      <p class="muted">
        PSP reports FinCore could not apply safely: another amount or currency, a success after a failure, a failure after a success, an object of another merchant. The object waits in
        <code> requires_review</code> with its money where it was. Check the PSP's own records, then accept its outcome or keep FinCore's; the note is kept with the review.
      </p>
      <div class="filters">
        <label>
          Show
          <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value as 'open' | 'resolved')} aria-label="Review status">
            <option value="open">open</option>
            <option value="resolved">resolved</option>
          </select>
        </label>
      </div>
      <ErrorNote error={list.error} />
      <DataTable
        label="Review items"
        testId="reviews-table"
        columns={['Review', 'Reason', 'Object', 'FinCore', num('FinCore amount'), 'PSP', num('PSP amount'), 'Age', status === 'open' ? 'Resolve' : 'Decision']}
        empty={rows.length === 0 && !list.loading ? (status === 'open' ? 'No open review items.' : 'No resolved review items.') : null}
      >
        {rows.map((r) => {
          const fincore = r.details.fincore ?? {};
          return (
            <tr key={r.id} data-id={r.id} data-object-id={r.object_id ?? ''}>
              <td class="mono id">{r.id}</td>
              <td>
                <span class="badge badge-requires_review" data-reason={r.reason}>
                  {r.reason}
                </span>
              </td>
              <td class="id">
                <ObjectLink review={r} />
              </td>
              <td>{r.status_before ? <StatusBadge status={r.status_before} /> : '—'}</td>
              <td class="num">{money(fincore.amount, fincore.currency)}</td>
              <td>{r.psp.status ? <StatusBadge status={r.psp.status} /> : '—'}</td>
              <td class="num">{money(r.psp.amount, r.psp.currency ?? fincore.currency)}</td>
              <td title={formatTime(r.created_at)}>{age(r.created_at)}</td>
              <td class="wrap">
                {r.status === 'open' ? (
                  <ResolveForm review={r} onResolved={(done) => setResolved((m) => new Map(m).set(done.id, done))} />
                ) : (
                  <span data-testid="review-decision">
                    <StatusBadge status="resolved" /> {r.decision} <span class="muted small">{r.note}</span>
                  </span>
                )}
              </td>
            </tr>
          );
        })}
      </DataTable>
    </div>
  );
}

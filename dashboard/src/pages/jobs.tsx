import { useState } from 'preact/hooks';
import { answer, api, ApiError } from '../api.ts';
import { DataTable, ErrorNote, num, StatusBadge } from '../components.tsx';
import { formatTime } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { chargeHref } from '../route.ts';
import type { Job, List } from '../types.ts';

/**
 * Dead-lettered jobs. Retry puts one back on the queue; the row stays (as `queued`) so the
 * operator sees what was done, until the next refresh no longer lists it as dead.
 */
export function Jobs() {
  const list = usePolled(() => answer(api.GET('/v1/admin/jobs', { params: { query: { status: 'dead', limit: 100 } } })), [], 3000);
  const [retried, setRetried] = useState<Map<string, Job>>(new Map());
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);

  const retry = async (job: Job) => {
    setBusy(job.id);
    setError(undefined);
    try {
      const queued = await answer(api.POST('/v1/admin/jobs/{id}/retry', { params: { path: { id: job.id } } }));
      setRetried((m) => new Map(m).set(job.id, queued));
    } catch (e) {
      if (e instanceof ApiError) setError(e);
    } finally {
      setBusy(undefined);
    }
  };

  const dead = list.data?.data ?? [];
  const deadIds = new Set(dead.map((j) => j.id));
  // Retried jobs that the API no longer lists as dead are shown with the answer of the retry.
  const rows = [...dead.map((j) => retried.get(j.id) ?? j), ...[...retried.values()].filter((j) => !deadIds.has(j.id))];

  return (
    <div class="page">
      <h2>Dead jobs</h2>
      <p class="muted">Jobs that failed their last attempt. Fix the cause (e.g. the PSP), then retry: the job runs again with a fresh attempt budget; handlers are idempotent.</p>
      <ErrorNote error={error ?? list.error} />
      <DataTable label="Dead jobs" testId="jobs-table" columns={['Job', 'Type', 'Object', 'Status', num('Attempts'), 'Last error', 'Updated', '']} empty={rows.length === 0 && !list.loading ? 'No dead jobs.' : null}>
        {rows.map((j) => (
          <tr key={j.id} data-id={j.id} data-ref={j.ref}>
            <td class="mono">{j.id}</td>
            <td>{j.job_type}</td>
            <td class="mono">{j.ref.startsWith('ch_') ? <a href={chargeHref(j.ref)}>{j.ref}</a> : j.ref}</td>
            <td>
              <StatusBadge status={j.status} />
            </td>
            <td class="num">
              {j.attempts}/{j.max_attempts}
            </td>
            <td class="error-text wrap">{j.last_error ?? '—'}</td>
            <td>{formatTime(j.updated_at)}</td>
            <td>
              {j.status === 'dead' ? (
                <button type="button" onClick={() => void retry(j)} disabled={busy === j.id}>
                  {busy === j.id ? 'Retrying…' : 'Retry'}
                </button>
              ) : (
                <span class="muted small">retried</span>
              )}
            </td>
          </tr>
        ))}
      </DataTable>
    </div>
  );
}

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { answer, api, ApiError } from '../api.ts';
import { LineChart } from '../chart.tsx';
import { Card, DataTable, ErrorNote, num } from '../components.tsx';
import { formatCount, formatSeconds } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { formatAmount } from '../money.ts';
import { appendPoint, toPoint, type StatsPoint } from '../stats.ts';
import { CHARGE_STATUSES, REFUND_STATUSES } from '../../../src/domain/status.ts';
import type { Overview as OverviewBody, Stats } from '../types.ts';

const POLL_MS = 2000;

/** Statuses an operator must look at when any object is in them. */
const WARN_STATUSES: readonly string[] = ['failed', 'requires_review'];

/**
 * One count per status, in the domain's order (src/domain/status.ts): a status the domain adds
 * (canceled refunds, requires_review) is shown without this page naming it.
 */
function Counts<S extends string>({ counts, statuses, noun }: { counts: Record<S, number>; statuses: readonly S[]; noun: string }) {
  return (
    <dl class="counts" data-testid={`${noun}-counts`}>
      {statuses.map((status) => (
        <div key={status} data-status={status}>
          <dt>{status}</dt>
          <dd class={WARN_STATUSES.includes(status) && counts[status] > 0 ? 'warn' : ''}>{formatCount(counts[status])}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Polls /v1/admin/stats every 2 s and keeps five minutes of points in memory. */
function useStatsHistory(): { history: StatsPoint[]; latest: Stats | undefined; error: ApiError | undefined } {
  const [history, setHistory] = useState<StatsPoint[]>([]);
  const [latest, setLatest] = useState<Stats | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const previous = useRef<Stats | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const stats = await answer(api.GET('/v1/admin/stats'));
        if (stopped) return;
        const point = toPoint(stats, previous.current);
        previous.current = stats;
        setHistory((h) => appendPoint(h, point));
        setLatest(stats);
        setError(undefined);
      } catch (e) {
        if (!stopped && e instanceof ApiError) setError(e);
      } finally {
        if (!stopped) timer = setTimeout(poll, POLL_MS);
      }
    };
    void poll();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, []);
  return { history, latest, error };
}

function column(history: StatsPoint[], pick: (p: StatsPoint) => number | null): (number | null)[] {
  return history.map(pick);
}

export function Overview() {
  const overview = usePolled(() => answer(api.GET('/v1/admin/overview')), [], POLL_MS);
  const { history, latest, error } = useStatsHistory();
  const o = overview.data;

  const charts = useMemo(() => {
    const t = history.map((p) => p.t);
    return {
      requests: [t, column(history, (p) => p.requestsPerSecond)],
      refunds: [t, column(history, (p) => p.refundsCreatedPerSecond), column(history, (p) => p.refundsSettledPerSecond)],
      latency: [t, column(history, (p) => p.p50), column(history, (p) => p.p99)],
      queue: [t, column(history, (p) => p.queueDepth)],
    };
  }, [history]);
  const last = history[history.length - 1];

  return (
    <div class="page">
      <h2>Overview</h2>
      <ErrorNote error={overview.error ?? error} />
      {o ? (
        <div class="cards">
          <Card title="Merchants" testId="card-merchants">
            <p class="big">{formatCount(o.merchants)}</p>
          </Card>
          <Card title="Charges" testId="card-charges">
            <Counts counts={o.charges} statuses={CHARGE_STATUSES} noun="charges" />
          </Card>
          <Card title="Refunds" testId="card-refunds">
            <Counts counts={o.refunds} statuses={REFUND_STATUSES} noun="refunds" />
          </Card>
          <Card title="Job queue" testId="card-queue">
            <dl class="counts">
              <div>
                <dt>queued</dt>
                <dd>{formatCount(o.queue.queued)}</dd>
              </div>
              <div>
                <dt>running</dt>
                <dd>{formatCount(o.queue.running)}</dd>
              </div>
              <div>
                <dt>oldest due</dt>
                <dd>{formatSeconds(o.queue.oldest_due_age_seconds)}</dd>
              </div>
            </dl>
          </Card>
          <Card title="Dead jobs" testId="card-dead">
            <p class={`big ${o.queue.dead > 0 ? 'warn' : ''}`}>{formatCount(o.queue.dead)}</p>
            {o.queue.dead > 0 ? <a href="#/jobs">Review and retry →</a> : <p class="muted">none</p>}
          </Card>
          <Card title="Audit backlog" testId="card-audit">
            <p class="big">{formatCount(o.audit.pending_seal)}</p>
            <p class="muted">events waiting to be sealed into the hash chain</p>
          </Card>
        </div>
      ) : overview.loading ? (
        <p class="muted">Loading…</p>
      ) : null}

      {o ? (
        <section>
          <h3>Money by currency</h3>
          <DataTable label="Money by currency" testId="volume" columns={['Currency', num('Charged'), num('Refunded'), num('Refunds pending'), num('Net')]} empty={o.volume.length === 0 ? 'No money has moved yet.' : null}>
            {o.volume.map((v) => (
              <tr key={v.currency}>
                <td>{v.currency.toUpperCase()}</td>
                <td class="num">{formatAmount(v.charged, v.currency)}</td>
                <td class="num">{formatAmount(v.refunded, v.currency)}</td>
                <td class="num">{formatAmount(v.refund_pending, v.currency)}</td>
                <td class="num">{formatAmount(v.charged - v.refunded - v.refund_pending, v.currency)}</td>
              </tr>
            ))}
          </DataTable>
        </section>
      ) : null}

      <h3>
        Live <span class="muted small">(every 2 s, last 5 minutes{latest ? `; ${latest.settle_latency_ms.count} refunds settled in the last ${latest.settle_latency_ms.window_seconds} s` : ''})</span>
      </h3>
      <div class="now" data-testid="stats-now" data-samples={history.length}>
        <span>requests/s: <b>{last?.requestsPerSecond?.toFixed(1) ?? '—'}</b></span>
        <span>refunds/s: <b>{last?.refundsCreatedPerSecond?.toFixed(1) ?? '—'}</b></span>
        <span>settle p50/p99: <b>{last?.p50 != null ? Math.round(last.p50) : '—'}</b>/<b>{last?.p99 != null ? Math.round(last.p99) : '—'}</b> ms</span>
        <span>queue depth: <b>{last?.queueDepth ?? '—'}</b></span>
      </div>
      <div class="charts">
        <LineChart testId="chart-requests" title="Requests/s" unit="req/s" series={[{ label: 'requests', color: '#2563eb' }]} data={charts.requests} />
        <LineChart
          testId="chart-refunds"
          title="Refunds/s"
          unit="/s"
          series={[
            { label: 'created', color: '#7c3aed' },
            { label: 'settled', color: '#059669' },
          ]}
          data={charts.refunds}
        />
        <LineChart
          testId="chart-latency"
          title="Refund settle latency"
          unit="ms"
          series={[
            { label: 'p50', color: '#0891b2' },
            { label: 'p99', color: '#dc2626' },
          ]}
          data={charts.latency}
        />
        <LineChart testId="chart-queue" title="Queue depth" unit="jobs" series={[{ label: 'queue', color: '#ea580c' }]} data={charts.queue} />
      </div>
    </div>
  );
}

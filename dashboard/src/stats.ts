// Rates from cumulative counters: the API reports totals since the process started; the
// dashboard differences two polls. Pure, so it is unit-tested (test/unit/dashboard/stats.test.ts).
import type { Stats } from './types.ts';

export interface StatsPoint {
  /** unix seconds */
  t: number;
  requestsPerSecond: number | null;
  refundsCreatedPerSecond: number | null;
  refundsSettledPerSecond: number | null;
  p50: number | null;
  p99: number | null;
  queueDepth: number;
}

/** Five minutes of 2-second polls. */
export const HISTORY_SECONDS = 300;

function rate(current: number, previous: number, seconds: number): number | null {
  // A counter that went down means the process restarted: no honest rate for this interval.
  if (seconds <= 0 || current < previous) return null;
  return (current - previous) / seconds;
}

export function toPoint(current: Stats, previous: Stats | undefined): StatsPoint {
  const t = Date.parse(current.at) / 1000;
  const seconds = previous ? t - Date.parse(previous.at) / 1000 : 0;
  return {
    t,
    requestsPerSecond: previous ? rate(current.requests_total, previous.requests_total, seconds) : null,
    refundsCreatedPerSecond: previous ? rate(current.refunds_created_total, previous.refunds_created_total, seconds) : null,
    refundsSettledPerSecond: previous ? rate(current.refunds_settled_total, previous.refunds_settled_total, seconds) : null,
    p50: current.settle_latency_ms.p50,
    p99: current.settle_latency_ms.p99,
    queueDepth: current.queue_depth,
  };
}

/** Appends a point and drops what is older than the window. */
export function appendPoint(history: StatsPoint[], point: StatsPoint, windowSeconds = HISTORY_SECONDS): StatsPoint[] {
  const last = history[history.length - 1];
  if (last && point.t <= last.t) return history;
  return [...history, point].filter((p) => p.t > point.t - windowSeconds);
}

/** The live charts' time axis spans at least this long, so their ticks are whole seconds. */
export const MIN_CHART_SECONDS = 60;

/**
 * The x range of a live chart: the samples' span, widened to MIN_CHART_SECONDS ending at the newest
 * sample. With the two or three samples of the first seconds, uPlot would otherwise stretch a
 * two-second span over the whole width and label it in sub-second ticks (":00.5").
 */
export function chartTimeRange(min: number | null, max: number | null, minSeconds = MIN_CHART_SECONDS): [number, number] {
  const end = max ?? Date.now() / 1000;
  const start = min ?? end;
  return [Math.min(start, end - minSeconds), end];
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appendPoint, chartTimeRange, MIN_CHART_SECONDS, toPoint } from '../../../dashboard/src/stats.ts';
import { groupMovements } from '../../../dashboard/src/ledger.ts';
import type { Stats } from '../../../dashboard/src/types.ts';

function stats(at: string, requests: number, refundsCreated: number, p50: number | null = null): Stats {
  return {
    object: 'stats', at, requests_total: requests, charges_created_total: 0, refunds_created_total: refundsCreated, refunds_settled_total: 0,
    settle_latency_ms: { p50, p99: p50, count: 0, window_seconds: 60 }, queue_depth: 3,
  };
}

describe('dashboard live stats: rates from cumulative counters', () => {
  it('divides the difference of two polls by the time between them', () => {
    const first = stats('2026-01-01T00:00:00.000Z', 100, 10);
    const second = stats('2026-01-01T00:00:02.000Z', 140, 16, 12);
    assert.equal(toPoint(first, undefined).requestsPerSecond, null);
    const point = toPoint(second, first);
    assert.equal(point.requestsPerSecond, 20);
    assert.equal(point.refundsCreatedPerSecond, 3);
    assert.equal(point.p50, 12);
    assert.equal(point.queueDepth, 3);
  });

  it('shows no rate when a counter went down (the process restarted)', () => {
    const point = toPoint(stats('2026-01-01T00:00:02.000Z', 5, 0), stats('2026-01-01T00:00:00.000Z', 100, 10));
    assert.equal(point.requestsPerSecond, null);
  });

  it('keeps five minutes of points', () => {
    let history = appendPoint([], toPoint(stats('2026-01-01T00:00:00.000Z', 0, 0), undefined));
    for (let s = 2; s <= 600; s += 2) history = appendPoint(history, toPoint(stats(new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString(), s, 0), undefined));
    assert.equal(history.length, 150);
    assert.equal(history[0]?.t, Date.UTC(2026, 0, 1, 0, 5, 2) / 1000);
  });
});

describe('dashboard ledger: postings grouped by movement', () => {
  it('sums debits and credits per movement', () => {
    const entry = (id: number, event: string, account: string, amount: number) => ({ id, event_id: event, movement: event === 'e1' ? 'charge.succeeded' : 'refund.created', account, currency: 'usd', amount, refund_id: null, created_at: '' });
    const groups = groupMovements([entry(1, 'e1', 'psp_clearing', 5000), entry(2, 'e1', 'merchant_balance', -5000), entry(3, 'e2', 'merchant_balance', 1500), entry(4, 'e2', 'refunds_reserved', -1500)]);
    assert.deepEqual(groups.map((g) => [g.movement, g.debits, g.credits, g.net]), [['charge.succeeded', 5000, -5000, 0], ['refund.created', 1500, -1500, 0]]);
  });
});

describe('dashboard live charts: the time axis', () => {
  it('spans at least a minute ending at the newest sample, so the first seconds are not drawn in sub-second ticks', () => {
    assert.deepEqual(chartTimeRange(1000, 1002), [1002 - MIN_CHART_SECONDS, 1002]);
    assert.deepEqual(chartTimeRange(1000, 1000), [1000 - MIN_CHART_SECONDS, 1000]);
    assert.equal(MIN_CHART_SECONDS >= 60, true);
  });

  it('follows the samples once they span more than that', () => {
    assert.deepEqual(chartTimeRange(1000, 1300), [1000, 1300]);
  });

  it('no samples yet: a minute ending now', () => {
    const [start, end] = chartTimeRange(null, null);
    assert.ok(Math.abs(end - Date.now() / 1000) < 5);
    assert.equal(end - start, MIN_CHART_SECONDS);
  });
});

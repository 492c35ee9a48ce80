import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { chartTimeRange } from './stats.ts';

export interface Series {
  label: string;
  color: string;
}

/**
 * One uPlot line chart. x is unix seconds; a null y is a gap (e.g. no refund settled in the
 * latency window). The chart follows its container's width.
 */
export function LineChart({ title, series, data, unit, testId }: { title: string; series: Series[]; data: (number | null)[][]; unit: string; testId: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const options: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 160,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: (_u, min, max) => chartTimeRange(min, max) }, y: { range: (_u, min, max) => [0, Math.max(1, max ?? 0, min ?? 0) * 1.1] } },
      axes: [{ stroke: '#64748b', grid: { stroke: '#e2e8f0' } }, { stroke: '#64748b', grid: { stroke: '#e2e8f0' }, size: 50, values: (_u, ticks) => ticks.map((t) => `${+t.toFixed(2)}`) }],
      series: [{}, ...series.map((s) => ({ label: `${s.label} (${unit})`, stroke: s.color, width: 2, spanGaps: false, points: { show: false } }))],
    };
    plot.current = new uPlot(options, data as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: 160 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  return (
    <section class="card chart" data-testid={testId}>
      <h3>{title}</h3>
      <div ref={box} class="chart-box" />
    </section>
  );
}

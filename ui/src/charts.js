// Charts on uPlot (canvas: fast with a million points). Each chart's
// container gets data-points (the values drawn) and data-color (the series
// colour), which the browser test reads.
import uPlot from '/vendor/uPlot.esm.js';
import { fmtBytes, fmtNum, fmtUs } from './format.js';

export const COLORS = { latency: '#e8590c', histogram: '#e8590c', memory: '#1c7ed6', max: '#c92a2a' };

// Axis labels in the unit of the largest tick, with as many decimals as the
// tick spacing needs (7.41 MiB, 7.42 MiB... rather than 7.4 MiB twice).
function bytesTicks(u, ticks) {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  const top = Math.max(...ticks.filter((t) => t !== null).map(Math.abs), 1);
  const k = Math.min(units.length - 1, Math.floor(Math.log(top) / Math.log(1024)));
  const unit = 1024 ** k;
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) / unit : 1;
  const decimals = step > 0 ? Math.max(0, Math.min(3, Math.ceil(-Math.log10(step)))) : 1;
  return ticks.map((t) => (t === null ? '' : (t / unit).toFixed(decimals) + ' ' + units[k]));
}

// Five ticks spaced evenly on a log scale from min to max.
function logSplits(u, axis, min, max) {
  const out = [];
  for (let i = 0; i <= 4; i++) out.push(min * (max / min) ** (i / 4));
  return out;
}

function chart(container, { x, series, xLabel, yLabel, xFmt = fmtNum, yFmt = fmtNum, yTicks, logX = false, stepped = false, height = 230 }) {
  container.classList.add('chart');
  const width = Math.max(300, container.clientWidth || 600);
  const opts = {
    width,
    height,
    scales: { x: logX ? { time: false, distr: 3, range: (u, min, max) => [min, max] } : { time: false } },
    axes: [
      {
        label: xLabel, values: (u, ticks) => ticks.map((t) => (t === null ? '' : xFmt(t))), stroke: '#495057', grid: { stroke: '#e9ecef' },
        ...(logX ? { splits: logSplits, filter: (u, splits) => splits } : {}),
      },
      { label: yLabel, values: yTicks || ((u, ticks) => ticks.map((t) => (t === null ? '' : yFmt(t)))), size: 80, stroke: '#495057', grid: { stroke: '#e9ecef' } },
    ],
    series: [
      { label: xLabel, value: (u, v) => (v === null ? '–' : xFmt(v)) },
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 1.5,
        fill: s.fill ? s.color + '40' : undefined,
        paths: stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
        points: { show: false },
        value: (u, v) => (v === null ? '–' : yFmt(v)),
      })),
    ],
    cursor: { drag: { x: true, y: false } },
    legend: { show: true },
  };
  const plot = new uPlot(opts, [x, ...series.map((s) => s.values)], container);
  container.dataset.points = String(series.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0));
  container.dataset.color = series[0].color;
  const ro = new ResizeObserver(() => {
    const w = Math.max(300, container.clientWidth);
    if (Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height });
  });
  ro.observe(container);
  return plot;
}

// histogram: {edges_us: [n+1], counts: [n]} (log-spaced bins)
export function histogramChart(container, histogram) {
  const { edges_us: edges, counts } = histogram;
  const y = counts.concat([counts[counts.length - 1]]);  // the last step spans to the last edge
  const logX = edges[0] > 0 && edges[edges.length - 1] > edges[0];
  return chart(container, {
    x: edges, series: [{ label: 'runs', values: y, color: COLORS.histogram, fill: true }],
    xLabel: 'latency', yLabel: 'runs', xFmt: fmtUs, logX, stepped: true,
  });
}

// Every timed run's latency in order. Past 20,000 runs, each point is the
// min and max of a bucket of runs (an envelope), so a spike still shows.
export function latencyChart(container, samples) {
  const n = samples.length;
  const limit = 20000;
  if (n <= limit) {
    return chart(container, {
      x: samples.map((_, i) => i), series: [{ label: 'latency', values: samples, color: COLORS.latency }],
      xLabel: 'run', yLabel: 'latency', yFmt: fmtUs,
    });
  }
  const per = Math.ceil(n / (limit / 2));
  const x = [], lo = [], hi = [];
  for (let i = 0; i < n; i += per) {
    let a = Infinity, b = -Infinity;
    for (let j = i; j < Math.min(n, i + per); j++) { a = Math.min(a, samples[j]); b = Math.max(b, samples[j]); }
    x.push(i); lo.push(a); hi.push(b);
  }
  return chart(container, {
    x, series: [{ label: `min of ${per} runs`, values: lo, color: COLORS.latency }, { label: `max of ${per} runs`, values: hi, color: COLORS.max }],
    xLabel: 'run', yLabel: 'latency', yFmt: fmtUs,
  });
}

// timeline: {t_us: [...], rss_bytes: [...]}
export function memoryChart(container, timeline) {
  return chart(container, {
    x: timeline.t_us.map((t) => t / 1e3),
    series: [{ label: 'resident set', values: timeline.rss_bytes, color: COLORS.memory, fill: true }],
    xLabel: 'time (ms)', yLabel: 'RSS', yFmt: fmtBytes, yTicks: bytesTicks,
  });
}

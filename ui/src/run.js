// One run: its numbers, latency histogram and timeline, memory timeline,
// and, when `rtml profile` stored them, the per-operator table and the
// flame graph of perf's stacks.
import * as api from './api.js';
import { histogramChart, latencyChart, memoryChart } from './charts.js';
import { flameGraph, parseFolded } from './flame.js';
import { code, el, emptyState, errorBox, fmtBytes, fmtDate, fmtNum, fmtPct, fmtUs, NA } from './format.js';
import { sortableTable } from './table.js';

const stat = (label, value, hint) => el('div', { class: 'stat', title: hint }, el('span', { class: 'label' }, label), el('span', { class: 'value' + (value === NA ? ' na' : '') }, value));

export function runHeader(detail) {
  const r = detail.run;
  const host = detail.host || {};
  return el('div', { class: 'run-head' },
    el('h1', {}, r.model, ' ', el('span', { class: 'badge backend' }, r.backend), ' ',
      r.status === 'ok' ? el('span', { class: 'badge ok' }, 'ok') : el('span', { class: 'badge error' }, 'error')),
    el('p', { class: 'muted' }, `run #${detail.id} · report #${detail.report_id} · ${fmtDate(detail.created)} · `,
      `${host.hostname || 'unknown host'}${host.target ? ' (target ' + host.target + ')' : ''} · ${host.arch || ''} · ${host.cpu_model || ''}`,
      r.backend_info && r.backend_info.runtime ? ` · ${r.backend_info.runtime}` : ''));
}

// The run's 404 as a page of its own; other errors go up.
export async function loadRun(id) {
  try {
    return await api.run(id);
  } catch (e) {
    if (e.status === 404) e.unknownRun = true;
    throw e;
  }
}

export function unknownRun(target, id, e) {
  target.append(errorBox(`Run ${id} is not in this database`, e),
    el('p', {}, el('a', { href: '#/' }, '← All runs'), ' (the list shows the ids there are)'));
}

export async function runView(target, idText, { isCurrent }) {
  if (!/^[0-9]+$/.test(idText || '')) {
    target.append(errorBox('Not a run id', `“${idText || ''}” is not a run id: run ids are whole numbers (the list shows them).`), el('p', {}, el('a', { href: '#/' }, '← All runs')));
    return;
  }
  const id = Number(idText);
  let detail;
  try {
    detail = await loadRun(id);
  } catch (e) {
    if (!isCurrent()) return;
    if (e.unknownRun) return unknownRun(target, id, e);
    throw e;
  }
  if (!isCurrent()) return;
  const r = detail.run;
  target.dataset.title = `${r.model} on ${r.backend}`;
  target.append(el('p', { class: 'back' }, el('a', { href: '#/' }, '← All runs'), ' · ', el('a', { href: `#/compare?a=${id}` }, 'Compare with another run…')));
  target.append(runHeader(detail));
  if (r.status !== 'ok') target.append(errorBox('This run failed', r.error || 'no message'));

  const lat = r.latency_us || {};
  const mem = r.memory || {};
  const acc = r.accuracy;
  const accuracyText = acc ? (acc.passed ? 'passed' : 'FAILED') + (acc.top1 !== null && acc.top1 !== undefined ? ` · top-1 ${(100 * acc.top1).toFixed(1)} %` : '') : NA;
  if (r.emulated) {
    // rtml bench --target: instructions on QEMU's board, flash and RAM; QEMU has no timing model.
    const e = r.emulated;
    target.append(el('section', { class: 'stats' },
      stat('target', `${r.target} (${e.core})`), stat('kernels', e.kernels),
      stat('instructions / inference', fmtNum(e.instructions.median), 'executed instructions under QEMU: not a time'),
      stat('flash', fmtBytes(e.flash.total_bytes)), stat('weights', fmtBytes(e.flash.weights_bytes)),
      stat('kernel code', fmtBytes(e.flash.kernel_library_bytes)), stat('RAM', fmtBytes(e.ram.total_bytes)),
      stat('arena', fmtBytes(e.ram.arena_bytes)), stat('stack', fmtBytes(e.ram.stack_bytes), 'measured by painting the stack'),
      stat('accuracy', accuracyText)));
    target.append(el('p', { class: 'muted' }, 'QEMU counts executed instructions and has no timing model, so this run has no latencies. ',
      code(`rtml profile MODEL --target ${r.target}`), ' shows the instructions of each step.'));
    if (detail.profiles.some((p) => p.kind === 'profile')) {
      const profile = await api.profileJSON(id, 'profile').catch((err) => ({ error: err }));
      if (!isCurrent()) return;
      target.append(el('h2', {}, 'Profile'));
      if (profile.error) target.append(errorBox('Could not load the profile', String(profile.error.message || profile.error)));
      else renderProfile(target, profile);
    }
    return;
  }
  target.append(el('section', { class: 'stats' },
    stat('median', fmtUs(lat.median)), stat('p99', fmtUs(lat.p99)), stat('mean', fmtUs(lat.mean)),
    stat('min', fmtUs(lat.min)), stat('max', fmtUs(lat.max)), stat('jitter', fmtUs(lat.jitter), 'mean absolute difference between consecutive runs'),
    stat('init', fmtUs(r.init_us), 'open + prepare'), stat('first run', fmtUs(r.first_run_us)),
    stat('timed runs', fmtNum(r.timed_runs)), stat('peak RSS', fmtBytes(mem.rss_peak_bytes)),
    stat('allocs / run', fmtNum(r.heap ? r.heap.allocations_per_run : null)),
    stat('accuracy', accuracyText),
    r.realtime ? stat('deadline misses', fmtNum(r.realtime.deadline_misses)) : null));

  // Profiles first (the memory timeline may come from one).
  const kinds = new Set(detail.profiles.map((p) => p.kind));
  const [profile, folded] = await Promise.all([
    kinds.has('profile') ? api.profileJSON(id, 'profile').catch((e) => ({ error: e })) : null,
    kinds.has('folded') ? api.profileText(id, 'folded').catch((e) => ({ error: e })) : null,
  ]);
  if (!isCurrent()) return;

  // Charts.
  const charts = el('section', { class: 'charts' });
  target.append(el('h2', {}, 'Latency and memory'), charts);
  const panel = (title, id) => {
    const body = el('div', { class: 'chart-body', id });
    charts.append(el('div', { class: 'panel' }, el('h3', {}, title), body));
    return body;
  };
  const hist = panel('Latency histogram', 'chart-histogram');
  const time = panel('Latency over time', 'chart-latency');
  const memory = panel('Memory (resident set)', 'chart-memory');
  if (r.histogram && r.histogram.counts && r.histogram.counts.length) histogramChart(hist, r.histogram);
  else hist.append(emptyState('No histogram', r.status === 'ok' ? 'This run has no timed runs.' : 'The run failed before timing.'));
  if (Array.isArray(r.samples_us) && r.samples_us.length) latencyChart(time, r.samples_us);
  else time.append(emptyState('No per-run latencies stored', 'Bench with ', code('--samples'), ' to keep every run’s latency and see it over time.'));
  const timeline = (mem.timeline && mem.timeline.t_us && mem.timeline.t_us.length) ? { t: mem.timeline, from: 'the benchmark' }
    : (profile && !profile.error && profile.memory && profile.memory.timeline && profile.memory.timeline.t_us && profile.memory.timeline.t_us.length) ? { t: profile.memory.timeline, from: 'the profiled runs' } : null;
  if (timeline) {
    memoryChart(memory, timeline.t);
    memory.append(el('p', { class: 'muted small' }, `sampled during ${timeline.from}`));
  } else {
    memory.append(emptyState('No memory timeline', 'This run holds only its peak and mean RSS (',
      fmtBytes(mem.rss_peak_bytes), ' / ', fmtBytes(mem.rss_mean_bytes), '); runs stored by a newer rtml bench, or rtml profile, carry the timeline.'));
  }

  // Profile.
  target.append(el('h2', {}, 'Profile'));
  if (!detail.profiles.length) {
    target.append(emptyState('No profile for this run',
      'Profile the model to see where the time goes: ', code(`rtml profile MODEL --backend ${r.backend} --perf --db ...`), ' stores the run with its per-operator times and perf’s call stacks.'));
    return;
  }
  target.append(el('p', { class: 'muted' }, 'Stored: ', detail.profiles.map((p, i) => [i ? ', ' : '', el('a', { href: api.profileURL(id, p.kind), download: `run${id}-${p.kind}${p.kind === 'folded' ? '.txt' : '.json'}` }, p.kind), ` (${fmtBytes(p.bytes)})`])));
  if (profile && profile.error) target.append(errorBox('The operator profile could not be read', profile.error));
  else if (profile) renderProfile(target, profile);
  else target.append(emptyState('No operator profile', 'Only ', [...kinds].join(', '), ' stored for this run.'));

  target.append(el('h3', {}, 'Flame graph (perf call stacks)'));
  const perf = profile && !profile.error ? profile.perf : undefined;
  if (folded && folded.error) {
    target.append(errorBox('The folded stacks could not be read', folded.error));
  } else if (folded) {
    const parsed = parseFolded(folded);
    if (!parsed.total) {
      target.append(emptyState('perf recorded no samples', 'The profiled runs may have been too short: profile for longer (more --runs).'));
    } else {
      if (perf && perf.ok) target.append(el('p', { class: 'muted' }, `${fmtNum(parsed.total)} samples of ${perf.event} at ${fmtNum(perf.frequency_hz)} Hz, call graph ${perf.call_graph}, ${perf.tool}`));
      else target.append(el('p', { class: 'muted' }, `${fmtNum(parsed.total)} samples`));
      if (parsed.skipped) target.append(el('p', { class: 'muted' }, `${parsed.skipped} lines were not “stack count” and were skipped.`));
      const box = el('div', { id: 'flame', class: 'flame-box' });
      target.append(box);
      flameGraph(box, parsed);
    }
  } else if (perf && perf.ok === false) {
    target.append(errorBox('perf did not run', perf.error || 'no message'), perf.notes && perf.notes.length ? el('p', { class: 'muted' }, perf.notes.join('; ')) : null);
  } else {
    target.append(emptyState('No perf stacks in this profile', 'Profile with ', code('--perf'), ' (Linux perf, package linux-perf) to record call stacks.'));
  }
}

const us = (v) => fmtUs(v);
const n = (v) => fmtNum(v);
const pct = (v) => fmtPct(v);

function renderProfile(target, p) {
  const c = p.counters || {};
  // rtml profile --target: shares of the executed instructions (QEMU), not of time.
  const share = c.level === 'emulated' ? '% instr.' : '% time';
  const per = c.per_run || {};
  target.append(el('section', { class: 'stats' },
    stat('profiled runs', fmtNum(p.runs)), stat('mean', fmtUs(p.total_us && p.total_us.mean)),
    stat('ops', fmtUs(p.ops_us), 'sum of the per-step means'), stat('overhead with step clocks', fmtUs(p.overhead_us), 'mean inference minus the ops'),
    stat('engine overhead', fmtUs(p.engine_overhead && p.engine_overhead.overhead_us),
      'plain-run median minus the step medians less an empty clock window'),
    stat('counters', c.level || NA), stat('IPC', c.ipc === null || c.ipc === undefined ? NA : c.ipc.toFixed(2)),
    stat('cycles / run', fmtNum(per.cycles)), stat('instructions / run', fmtNum(per.instructions)),
    stat('cache misses / run', fmtNum(per.cache_misses)), stat('branch misses / run', fmtNum(per.branch_misses)),
    stat('task clock / run', per.task_clock_ns === null || per.task_clock_ns === undefined ? NA : fmtUs(per.task_clock_ns / 1000))));
  if (c.notes && c.notes.length) target.append(el('p', { class: 'muted small' }, 'Counters: ', c.notes.join('; ')));

  const ops = Array.isArray(p.ops) ? p.ops : [];
  target.append(el('h3', {}, `Operators (${ops.length})`));
  if (!ops.length) {
    target.append(emptyState('No operators in this profile'));
  } else {
    const ctr = (k) => (o) => (o.counters ? o.counters[k] : null);
    target.append(el('div', { class: 'scroll' }, sortableTable([
      { key: 'index', label: '#', num: true },
      { key: 'node', label: 'node' },
      { key: 'op_type', label: 'op' },
      { key: 'kernel', label: 'kernel', fmt: (v) => v ?? NA },
      { key: 'calls', label: 'calls', num: true, fmt: n },
      { key: 'mean_us', label: 'mean', num: true, fmt: us },
      { key: 'median_us', label: 'median', num: true, fmt: us },
      { key: 'total_us', label: 'total', num: true, fmt: us },
      { key: 'percent', label: share, num: true, fmt: pct },
      { key: 'cumulative_percent', label: 'cum. %', num: true, fmt: pct },
      { key: 'flops', label: 'FLOPs', num: true, fmt: n },
      { key: 'gflops', label: 'GFLOP/s', num: true, fmt: (v) => fmtNum(v, 3) },
      { key: 'output_bytes', label: 'output', num: true, fmt: fmtBytes },
      { key: 'cycles', label: 'cycles', num: true, value: ctr('cycles'), fmt: n },
      { key: 'instructions', label: 'instr.', num: true, value: ctr('instructions'), fmt: n },
      { key: 'cache_misses', label: 'cache miss', num: true, value: ctr('cache_misses'), fmt: n },
      { key: 'branch_misses', label: 'branch miss', num: true, value: ctr('branch_misses'), fmt: n },
      { key: 'task_clock_ns', label: 'task clock', num: true, value: ctr('task_clock_ns'), fmt: (v) => (v === null || v === undefined ? NA : fmtUs(v / 1000)) },
    ], ops, { sort: 'index', desc: false, id: 'ops-table' })));
  }
  const byType = Array.isArray(p.by_type) ? p.by_type : [];
  if (byType.length) {
    target.append(el('h3', {}, 'By operator type'));
    target.append(el('div', { class: 'scroll' }, sortableTable([
      { key: 'op_type', label: 'op' },
      { key: 'nodes', label: 'nodes', num: true, fmt: n },
      { key: 'calls', label: 'calls', num: true, fmt: n },
      { key: 'mean_us', label: 'mean', num: true, fmt: us },
      { key: 'total_us', label: 'total', num: true, fmt: us },
      { key: 'percent', label: share, num: true, fmt: pct },
      { key: 'flops', label: 'FLOPs', num: true, fmt: n },
      { key: 'gflops', label: 'GFLOP/s', num: true, fmt: (v) => fmtNum(v, 3) },
    ], byType, { sort: 'percent', desc: true, id: 'bytype-table' })));
  }
  const threads = Array.isArray(p.threads) ? p.threads : [];
  if (threads.length) {
    target.append(el('h3', {}, 'Threads'));
    target.append(el('div', { class: 'scroll' }, sortableTable([
      { key: 'tid', label: 'tid', num: true },
      { key: 'name', label: 'name' },
      { key: 'cpu_us', label: 'CPU time', num: true, fmt: us },
      { key: 'utilisation', label: 'utilisation', num: true, fmt: (v) => (v === null || v === undefined ? NA : (100 * v).toFixed(0) + ' %') },
    ], threads, { sort: 'cpu_us', desc: true, id: 'threads-table' })));
  }
}

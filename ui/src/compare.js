// Two runs side by side: the noise-aware verdict of `rtml compare`, a delta
// table of the latency statistics, per-operator means matched by node, and
// a differential flame graph.
import * as api from './api.js';
import { diffFlameGraph, parseFolded } from './flame.js';
import { code, el, emptyState, errorBox, fmtBytes, fmtDate, fmtNum, fmtSignedPct, fmtUs, NA } from './format.js';
import { sortableTable } from './table.js';

function picker(target, a, b) {
  const ia = el('input', { type: 'number', min: 1, id: 'cmp-a', value: a || '', placeholder: 'run id', 'aria-label': 'run A' });
  const ib = el('input', { type: 'number', min: 1, id: 'cmp-b', value: b || '', placeholder: 'run id', 'aria-label': 'run B' });
  target.append(el('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); if (ia.value && ib.value) location.hash = '#/compare' + api.query({ a: ia.value, b: ib.value }); } },
    el('label', {}, 'Run A (before) ', ia), el('label', {}, 'Run B (after) ', ib), el('button', { type: 'submit', class: 'primary' }, 'Compare')));
}

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

function change(a, b) {
  if (!isNum(a) || !isNum(b)) return { d: null, pct: null };
  return { d: b - a, pct: a !== 0 ? ((b - a) / a) * 100 : null };
}

function deltaCell(a, b, fmt, lowerIsBetter = true) {
  const { d, pct } = change(a, b);
  if (d === null) return [el('td', { class: 'num na' }, NA), el('td', { class: 'num na' }, NA)];
  const cls = d === 0 ? '' : (d < 0) === lowerIsBetter ? 'better' : 'worse';
  return [el('td', { class: 'num ' + cls }, (d > 0 ? '+' : '') + fmt(d)), el('td', { class: 'num ' + cls }, fmtSignedPct(pct))];
}

function verdictBox(cmp, notes) {
  if (!cmp) return null;
  const box = el('div', { class: 'verdict', id: 'verdict' });
  if (cmp.kind !== 'compared') {
    box.append(el('strong', {}, `Not compared: ${cmp.kind}`));
    if (cmp.error_a) box.append(el('p', {}, 'A failed: ' + cmp.error_a));
    if (cmp.error_b) box.append(el('p', {}, 'B failed: ' + cmp.error_b));
  } else {
    const line = (name, m) => {
      const cls = m.verdict === 'faster' ? 'better' : m.verdict === 'slower' ? 'worse' : 'same';
      return el('p', {}, el('span', { class: 'verdict-word ' + cls, 'data-metric': name }, `${name}: ${m.verdict}`),
        ` ${fmtUs(m.before)} → ${fmtUs(m.after)} (${fmtSignedPct(m.change_pct)})`,
        el('span', { class: 'muted' }, ` · noise band ${fmtUs(m.noise_us)}, threshold ${fmtUs(m.threshold_us)}` +
          (m.p_value !== null ? `, Mann-Whitney p = ${m.p_value.toExponential(1)}` : '') + (m.reason ? ` · ${m.reason}` : '')));
    };
    box.append(line('median', cmp.median), line('p99', cmp.p99));
  }
  for (const n of notes) box.append(el('p', { class: 'muted small' }, n));
  return box;
}

const METRICS = [
  ['min', (r) => r.latency_us?.min, fmtUs], ['mean', (r) => r.latency_us?.mean, fmtUs], ['median', (r) => r.latency_us?.median, fmtUs],
  ['p90', (r) => r.latency_us?.p90, fmtUs], ['p99', (r) => r.latency_us?.p99, fmtUs], ['p99.9', (r) => r.latency_us?.p999, fmtUs],
  ['max', (r) => r.latency_us?.max, fmtUs], ['stddev', (r) => r.latency_us?.stddev, fmtUs], ['jitter', (r) => r.latency_us?.jitter, fmtUs],
  ['init', (r) => r.init_us, fmtUs], ['first run', (r) => r.first_run_us, fmtUs],
  ['peak RSS', (r) => r.memory?.rss_peak_bytes, fmtBytes], ['allocations / run', (r) => r.heap?.allocations_per_run, fmtNum],
  ['deadline misses', (r) => r.realtime?.deadline_misses, fmtNum],
];

export async function compareView(target, { params, isCurrent }) {
  target.dataset.title = 'Compare';
  const a = params.get('a'), b = params.get('b');
  target.append(el('h1', {}, 'Compare two runs'));
  if (!a || !b) {
    target.append(emptyState('Pick two runs', 'Tick two runs in ', el('a', { href: '#/' }, 'the list'), ' and press Compare, or give their ids here.'));
    picker(target, a, b);
    return;
  }
  if (!/^[0-9]+$/.test(a) || !/^[0-9]+$/.test(b)) {
    target.append(errorBox('Not run ids', `“${a}” and “${b}” must both be run ids (whole numbers).`));
    picker(target, '', '');
    return;
  }
  let data;
  try {
    data = await api.compare(a, b);
  } catch (e) {
    if (!isCurrent()) return;
    target.append(errorBox(e.status === 404 ? 'A run is not in this database' : 'Cannot compare these runs', e));
    picker(target, a, b);
    return;
  }
  if (!isCurrent()) return;
  const A = data.a, B = data.b;
  const ra = A.run, rb = B.run;
  const who = (d, tag) => el('div', { class: 'side' }, el('span', { class: 'tag' }, tag), ' ',
    el('a', { href: `#/run/${d.id}` }, `#${d.id} ${d.run.model}`), ' ', el('span', { class: 'badge backend' }, d.run.backend),
    el('div', { class: 'muted small' }, `${fmtDate(d.created)} · ${d.host.hostname || ''}`));
  target.append(el('div', { class: 'sides' }, who(A, 'A'), el('span', { class: 'vs' }, 'vs'), who(B, 'B'),
    el('a', { class: 'small', href: '#/compare' + api.query({ a: b, b: a }) }, '⇄ swap')));
  const v = verdictBox(data.comparison, data.notes);
  if (v) target.append(v);

  target.append(el('h2', {}, 'Latency, memory, heap'));
  target.append(el('div', { class: 'scroll' }, el('table', { class: 'data', id: 'delta-table' },
    el('thead', {}, el('tr', {}, el('th', {}, 'metric'), el('th', { class: 'num' }, `A #${A.id}`), el('th', { class: 'num' }, `B #${B.id}`),
      el('th', { class: 'num' }, 'B − A'), el('th', { class: 'num' }, 'change'))),
    el('tbody', {}, METRICS.map(([label, get, fmt]) => {
      const va = get(ra), vb = get(rb);
      return el('tr', { 'data-metric': label }, el('td', {}, label), el('td', { class: 'num' + (isNum(va) ? '' : ' na') }, isNum(va) ? fmt(va) : NA),
        el('td', { class: 'num' + (isNum(vb) ? '' : ' na') }, isNum(vb) ? fmt(vb) : NA), ...deltaCell(va, vb, fmt));
    })))));

  const has = (d, kind) => d.profiles.some((p) => p.kind === kind);
  const [pa, pb, fa, fb] = await Promise.all([
    has(A, 'profile') ? api.profileJSON(A.id, 'profile').catch((e) => ({ error: e })) : null,
    has(B, 'profile') ? api.profileJSON(B.id, 'profile').catch((e) => ({ error: e })) : null,
    has(A, 'folded') ? api.profileText(A.id, 'folded').catch((e) => ({ error: e })) : null,
    has(B, 'folded') ? api.profileText(B.id, 'folded').catch((e) => ({ error: e })) : null,
  ]);
  if (!isCurrent()) return;
  const lacking = (x, y, what, how) => {
    const names = [!x ? `A (#${A.id})` : null, !y ? `B (#${B.id})` : null].filter(Boolean);
    return emptyState(`No ${what} for ${names.join(' and ')}`, how);
  };

  target.append(el('h2', {}, 'Operators (mean per call, matched by node)'));
  if (pa?.error || pb?.error) target.append(errorBox('A profile could not be read', (pa?.error || pb?.error)));
  else if (!pa || !pb) target.append(lacking(pa, pb, 'operator profile', ['Profile both runs’ models with ', code('rtml profile MODEL --db ...'), ' to compare operators.']));
  else {
    const nodesA = new Set((pa.ops || []).map((o) => o.node));
    if (!(pb.ops || []).some((o) => nodesA.has(o.node))) {
      target.append(el('p', { class: 'muted', id: 'ops-no-match' }, 'No operator of A has a node of the same name in B (different models, or backends that name their operators differently): each side is listed alone.'));
    }
    target.append(el('div', { class: 'scroll' }, opsTable(pa.ops || [], pb.ops || [])));
  }

  target.append(el('h2', {}, 'Differential flame graph'));
  if (fa?.error || fb?.error) {
    target.append(errorBox('The folded stacks could not be read', (fa?.error || fb?.error)));
  } else if (!fa || !fb) {
    target.append(lacking(fa, fb, 'perf stacks', ['Profile with ', code('rtml profile MODEL --perf --db ...'), ' to record call stacks.']));
  } else {
    const A1 = parseFolded(fa), B1 = parseFolded(fb);
    if (!A1.total || !B1.total) {
      target.append(emptyState('perf recorded no samples in ' + (!A1.total ? 'A' : 'B')));
    } else {
      target.append(el('p', { class: 'legend' }, 'Width: a frame’s average share of the samples of A and B. Colour: change in its share, ',
        el('span', { class: 'swatch grew' }), ' larger in B, ', el('span', { class: 'swatch shrank' }), ' smaller in B, ',
        el('span', { class: 'swatch same' }), ' unchanged. ', `A: ${fmtNum(A1.total)} samples, B: ${fmtNum(B1.total)}.`));
      const box = el('div', { id: 'diff-flame', class: 'flame-box' });
      target.append(box);
      diffFlameGraph(box, A1, B1);
    }
  }
}

function opsTable(opsA, opsB) {
  // The k-th step named N in A pairs with the k-th named N in B.
  const key = (ops) => {
    const seen = new Map();
    return ops.map((o) => { const k = seen.get(o.node) || 0; seen.set(o.node, k + 1); return [`${o.node}\u0000${k}`, o]; });
  };
  const mb = new Map(key(opsB));
  const rows = [];
  for (const [k, o] of key(opsA)) {
    const p = mb.get(k);
    mb.delete(k);
    rows.push(row(o, p));
  }
  for (const p of mb.values()) rows.push(row(null, p));
  function row(o, p) {
    const a = o ? o.mean_us : null, b = p ? p.mean_us : null;
    const { d, pct } = change(a, b);
    return { node: (o || p).node, op_type: (o || p).op_type, a, b, d, pct, index: o ? o.index : null };
  }
  const signed = (v) => (isNum(v) ? (v > 0 ? '+' : '') + fmtUs(v) : NA);
  return sortableTable([
    { key: 'index', label: '# in A', num: true },
    { key: 'node', label: 'node' },
    { key: 'op_type', label: 'op' },
    { key: 'a', label: 'A mean', num: true, fmt: fmtUs },
    { key: 'b', label: 'B mean', num: true, fmt: fmtUs },
    { key: 'd', label: 'B − A', num: true, fmt: signed },
    { key: 'pct', label: 'change', num: true, fmt: fmtSignedPct },
  ], rows, { sort: 'd', desc: true, id: 'ops-delta-table', rowAttrs: (r) => ({ class: isNum(r.d) && r.d !== 0 ? (r.d < 0 ? 'better' : 'worse') : null }) });
}

// The runs in the database: filters, one page at a time from the server
// (fast with thousands of runs), ticks to pick two for a comparison.
import * as api from './api.js';
import { code, el, emptyState, errorBox, fmtBytes, fmtDateShort, fmtNum, fmtUs, NA } from './format.js';

const PAGE = 50;
const SORTS = { created: 'desc', model: 'asc', backend: 'asc', median: 'asc' };
// Runs ticked for comparison, kept across pages and filters.
const picked = new Map();  // id -> "model / backend"

function hashFor(params) {
  const q = api.query(params);
  return '#/' + q;
}

export async function runsView(target, { params, isCurrent }) {
  target.dataset.title = 'Runs';
  const f = {
    model: params.get('model') || '',
    backend: params.get('backend') || '',
    since: params.get('since') || '',
    until: params.get('until') || '',
    status: params.get('status') || '',
    sort: SORTS[params.get('sort')] ? params.get('sort') : 'created',
    order: '',
    page: Math.max(1, parseInt(params.get('page') || '1', 10) || 1),
  };
  f.order = params.get('order') === 'asc' || params.get('order') === 'desc' ? params.get('order') : SORTS[f.sort];
  const go = (changes) => {
    const n = { ...f, ...changes };
    location.hash = hashFor({
      model: n.model, backend: n.backend, since: n.since, until: n.until, status: n.status,
      sort: n.sort === 'created' ? '' : n.sort,
      order: n.order === SORTS[n.sort] ? '' : n.order,
      page: n.page > 1 ? n.page : '',
    });
  };

  const started = performance.now();
  const [facets, page] = await Promise.all([
    api.facets(),
    api.runs({ model: f.model, backend: f.backend, since: f.since, until: f.until, status: f.status, sort: f.sort, order: f.order, limit: PAGE, offset: (f.page - 1) * PAGE }),
  ]);
  if (!isCurrent()) return;

  target.append(el('h1', {}, 'Runs'));
  if (facets.runs === 0) {
    target.append(emptyState('No runs in this database yet.',
      'Store some with ', code(`rtml bench MODEL --db ${facets.db}`), ', then reload this page. ',
      code('rtml profile MODEL --perf --db ' + facets.db), ' adds a run with its operator profile and flame graph.'));
    return;
  }

  // Filters: typing in the model box waits a moment before asking the server.
  const model = el('input', { type: 'search', id: 'f-model', placeholder: 'model name contains…', value: f.model, 'aria-label': 'model' });
  let timer = null;
  model.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => go({ model: model.value.trim(), page: 1 }), 300); });
  model.addEventListener('keydown', (e) => { if (e.key === 'Enter') { clearTimeout(timer); go({ model: model.value.trim(), page: 1 }); } });
  const select = (id, label, values, current, key) => el('select', { id, 'aria-label': label, onchange: (e) => go({ [key]: e.target.value, page: 1 }) },
    el('option', { value: '' }, `any ${label}`), values.map((v) => el('option', { value: v, selected: v === current }, v)));
  const date = (id, label, current, key) => el('label', {}, label + ' ', el('input', { type: 'date', id, value: current, onchange: (e) => go({ [key]: e.target.value, page: 1 }) }));
  const list = el('datalist', { id: 'models' }, facets.models.map((m) => el('option', { value: m })));
  model.setAttribute('list', 'models');
  const filtered = f.model || f.backend || f.since || f.until || f.status;
  target.append(el('form', { class: 'filters', onsubmit: (e) => e.preventDefault() },
    model, list,
    select('f-backend', 'backend', facets.backends, f.backend, 'backend'),
    select('f-status', 'status', ['ok', 'error'], f.status, 'status'),
    date('f-since', 'from', f.since, 'since'),
    date('f-until', 'to', f.until, 'until'),
    filtered ? el('button', { type: 'button', class: 'small', onclick: () => { location.hash = '#/'; } }, 'Clear filters') : null));

  const first = page.total === 0 ? 0 : page.offset + 1;
  const last = page.offset + page.runs.length;
  const ms = Math.round(performance.now() - started);
  const compareBtn = el('button', { type: 'button', id: 'compare-btn', class: 'primary' });
  const pickedNote = el('span', { class: 'picked' });
  const updatePicked = () => {
    const ids = [...picked.keys()];
    compareBtn.textContent = ids.length === 2 ? `Compare ${ids[0]} with ${ids[1]}` : `Compare (tick ${2 - Math.min(ids.length, 2)} more)`;
    compareBtn.disabled = ids.length !== 2;
    pickedNote.textContent = ids.length ? 'Ticked: ' + ids.map((id) => `#${id} ${picked.get(id)}`).join(', ') : '';
    if (ids.length) pickedNote.append(' ', el('button', { type: 'button', class: 'link', onclick: () => { picked.clear(); for (const c of target.querySelectorAll('input.pick')) c.checked = false; updatePicked(); } }, 'untick all'));
  };
  compareBtn.addEventListener('click', () => {
    const [a, b] = [...picked.keys()];
    location.hash = '#/compare' + api.query({ a, b });
  });
  target.append(el('div', { class: 'summary-line' },
    el('span', { id: 'run-total', 'data-total': page.total }, page.total === facets.runs ? `${fmtNum(page.total)} runs` : `${fmtNum(page.total)} of ${fmtNum(facets.runs)} runs match`),
    el('span', { class: 'muted' }, ` · showing ${fmtNum(first)}–${fmtNum(last)} · ${ms} ms`),
    el('span', { class: 'spacer' }), pickedNote, compareBtn));
  updatePicked();

  if (page.total === 0) {
    target.append(emptyState('No runs match these filters.', el('a', { href: '#/' }, 'Clear the filters'), ' to see all runs.'));
    return;
  }

  const sortHeader = (key, label, num) => {
    const active = f.sort === key;
    return el('th', { class: num ? 'num' : null, 'aria-sort': active ? (f.order === 'desc' ? 'descending' : 'ascending') : 'none', 'data-key': key },
      el('button', { type: 'button', onclick: () => go({ sort: key, order: active ? (f.order === 'desc' ? 'asc' : 'desc') : SORTS[key], page: 1 }) },
        label, el('span', { class: 'arrow' }, active ? (f.order === 'desc' ? '▼' : '▲') : '')));
  };
  const plain = (label, num) => el('th', { class: num ? 'num' : null }, label);
  const cell = (v, cls) => el('td', { class: (cls || '') + (v === NA ? ' na' : '') || null }, v);
  const table = el('table', { class: 'data', id: 'runs-table' },
    el('thead', {}, el('tr', {}, plain(''), plain('id', true), sortHeader('created', 'created (UTC)'), sortHeader('model', 'model'), sortHeader('backend', 'backend'),
      plain('status'), sortHeader('median', 'median', true), plain('p99', true), plain('init', true), plain('peak RSS', true),
      plain('allocs/run', true), plain('top-1', true), plain('profiles', true))),
    el('tbody', {}, page.runs.map((r) => {
      const box = el('input', { type: 'checkbox', class: 'pick', 'aria-label': `pick run ${r.id}`, checked: picked.has(r.id) });
      box.addEventListener('change', () => {
        if (box.checked) {
          picked.set(r.id, `${r.model} / ${r.backend}`);
          while (picked.size > 2) picked.delete(picked.keys().next().value);
          for (const c of target.querySelectorAll('input.pick')) c.checked = picked.has(Number(c.closest('tr').dataset.id));
        } else picked.delete(r.id);
        updatePicked();
      });
      return el('tr', { 'data-id': r.id, class: r.status === 'error' ? 'err' : null },
        el('td', {}, box),
        el('td', { class: 'num' }, el('a', { href: `#/run/${r.id}` }, String(r.id))),
        el('td', { title: r.created }, fmtDateShort(r.created)),
        el('td', {}, el('a', { href: `#/run/${r.id}`, class: 'model' }, r.model)),
        cell(r.backend),
        el('td', {}, r.status === 'ok' ? el('span', { class: 'badge ok' }, 'ok') : el('span', { class: 'badge error', title: r.error || '' }, 'error')),
        cell(fmtUs(r.median_us), 'num'), cell(fmtUs(r.p99_us), 'num'), cell(fmtUs(r.init_us), 'num'),
        cell(fmtBytes(r.rss_peak_bytes), 'num'), cell(fmtNum(r.allocations_per_run), 'num'),
        cell(r.top1 === null ? NA : (100 * r.top1).toFixed(1) + ' %', 'num'),
        cell(r.profiles ? String(r.profiles) : '–', 'num'));
    })));
  target.append(el('div', { class: 'scroll' }, table));

  const pages = Math.max(1, Math.ceil(page.total / PAGE));
  target.append(el('nav', { class: 'pager', 'aria-label': 'pages' },
    el('button', { type: 'button', id: 'prev-page', disabled: f.page <= 1, onclick: () => go({ page: f.page - 1 }) }, '← Previous'),
    el('span', { id: 'page-of' }, `page ${f.page} of ${pages}`),
    el('button', { type: 'button', id: 'next-page', disabled: f.page >= pages, onclick: () => go({ page: f.page + 1 }) }, 'Next →')));
  if (f.page > pages) target.append(errorBox('No such page', `There are ${pages} pages of runs.`));
}

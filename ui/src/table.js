// A table that sorts by any column on a click on its header (client side:
// for the operator tables, a few hundred rows at most). Missing values sort
// last in either direction.
import { el, NA } from './format.js';

// columns: [{key, label, num?: true, value?: row => v, fmt?: (v, row) => text|Node, title?}]
export function sortableTable(columns, rows, { sort = null, desc = true, id, caption, rowAttrs } = {}) {
  const state = { key: sort, desc };
  const table = el('table', { class: 'data sortable', id });
  if (caption) table.append(el('caption', {}, caption));
  const thead = el('thead');
  const tbody = el('tbody');
  table.append(thead, tbody);
  const valueOf = (c, r) => (c.value ? c.value(r) : r[c.key]);

  function render() {
    thead.replaceChildren(el('tr', {}, columns.map((c) => {
      const active = state.key === c.key;
      const th = el('th', {
        class: c.num ? 'num' : null,
        'aria-sort': active ? (state.desc ? 'descending' : 'ascending') : 'none',
        'data-key': c.key,
        title: c.title,
      }, el('button', {
        type: 'button',
        onclick: () => {
          if (state.key === c.key) state.desc = !state.desc;
          else { state.key = c.key; state.desc = !!c.num; }  // numbers: biggest first
          render();
        },
      }, c.label, el('span', { class: 'arrow' }, active ? (state.desc ? '▼' : '▲') : '')));
      return th;
    })));
    let sorted = rows;
    if (state.key !== null) {
      const c = columns.find((x) => x.key === state.key);
      const missing = (v) => v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v));
      sorted = rows.slice().sort((a, b) => {
        const va = valueOf(c, a), vb = valueOf(c, b);
        if (missing(va) || missing(vb)) return missing(va) - missing(vb);
        const d = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
        return state.desc ? -d : d;
      });
    }
    tbody.replaceChildren(...sorted.map((r) => el('tr', rowAttrs ? rowAttrs(r) : {}, columns.map((c) => {
      const v = valueOf(c, r);
      const shown = c.fmt ? c.fmt(v, r) : (v === null || v === undefined ? NA : v);
      return el('td', { class: (c.num ? 'num' : '') + (shown === NA ? ' na' : '') || null, 'data-key': c.key }, shown);
    }))));
  }
  render();
  return table;
}

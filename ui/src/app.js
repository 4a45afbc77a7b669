// rtml ui: hash routes to views.
//   #/                 the runs (#/?model=&backend=&since=&until=&status=&sort=&order=&page=)
//   #/run/ID           one run: numbers, charts, operator table, flame graph
//   #/compare?a=ID&b=ID  two runs side by side
import { facets } from './api.js';
import { el, errorBox } from './format.js';
import { runsView } from './runs.js';
import { runView } from './run.js';
import { compareView } from './compare.js';

const view = document.getElementById('view');
let generation = 0;

function parseHash() {
  const h = location.hash.replace(/^#/, '') || '/';
  const [path, q = ''] = h.split('?');
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(q) };
}

async function route() {
  const my = ++generation;
  const { parts, params } = parseHash();
  const page = parts[0] || 'runs';
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === page || (page === 'run' && a.dataset.nav === 'runs'));
  const target = el('div', { class: 'page', 'data-view': page });
  view.replaceChildren(target);
  // A view that finishes after the user moved on must not draw: isCurrent() says.
  const ctx = { params, isCurrent: () => my === generation };
  try {
    if (page === 'runs') await runsView(target, ctx);
    else if (page === 'run') await runView(target, parts[1], ctx);
    else if (page === 'compare') await compareView(target, ctx);
    else target.append(errorBox('No such page', `#/${parts.join('/')} is not a page of rtml ui.`), el('p', {}, el('a', { href: '#/' }, '← All runs')));
  } catch (e) {
    if (ctx.isCurrent()) target.replaceChildren(errorBox('Something went wrong', e), el('p', {}, el('a', { href: '#/' }, '← All runs')));
  }
  document.title = (target.dataset.title ? target.dataset.title + ' — ' : '') + 'rtml ui';
}

window.addEventListener('hashchange', route);
facets().then((f) => { document.getElementById('db-path').textContent = f.db; }).catch(() => {});
route();

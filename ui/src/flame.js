// Flame graphs of perf's folded stacks ("frame;frame;leaf COUNT" per line),
// drawn as SVG, the root on top and callees below. Hover shows a frame's
// samples; a click zooms into it (its callers stay above, faded); clicking
// the root, or Reset, zooms out. The differential graph merges two profiles:
// a frame's width is its average share of the two, its colour the change
// in its share of all samples (red: more of B's time, blue: less).
import { el, fmtNum } from './format.js';

const ROW = 18;
const SVG_NS = 'http://www.w3.org/2000/svg';

function newNode(name) {
  return { name, value: 0, self: 0, children: new Map() };
}

// -> {root, total, skipped}: skipped counts lines that are not "stack COUNT".
export function parseFolded(text) {
  const root = newNode('all');
  let skipped = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^(.*\S)\s+(\d+(?:\.\d+)?)$/.exec(line);
    if (!m) { skipped++; continue; }
    const count = Number(m[2]);
    if (!(count > 0)) continue;
    root.value += count;
    let node = root;
    for (const f of m[1].split(';')) {
      let child = node.children.get(f);
      if (!child) { child = newNode(f); node.children.set(f, child); }
      child.value += count;
      node = child;
    }
    node.self += count;
  }
  return { root, total: root.value, skipped };
}

// One tree of both profiles: {name, a, b, children}, shares of each total.
export function mergeFolded(pa, pb) {
  const merge = (na, nb, name) => {
    const node = { name, a: na ? na.value / pa.total : 0, b: nb ? nb.value / pb.total : 0, children: new Map() };
    const names = new Set([...(na ? na.children.keys() : []), ...(nb ? nb.children.keys() : [])]);
    for (const n of names) node.children.set(n, merge(na && na.children.get(n), nb && nb.children.get(n), n));
    return node;
  };
  return merge(pa.root, pb.root, 'all');
}

function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
  return h >>> 0;
}

function warm(name) {
  if (name === 'all') return '#ced4da';
  if (/^\[unknown\]|^\[/.test(name)) return '#dee2e6';
  const h = hash(name);
  return `hsl(${8 + (h % 42)}, ${70 + (h >> 8) % 20}%, ${58 + (h >> 16) % 12}%)`;
}

const tooltip = () => document.getElementById('tooltip');

function showTip(ev, lines) {
  const t = tooltip();
  if (!t) return;
  t.replaceChildren(...lines.map((l, i) => el(i === 0 ? 'strong' : 'div', {}, l)));
  t.hidden = false;
  const pad = 14;
  const r = t.getBoundingClientRect();
  let x = ev.clientX + pad, y = ev.clientY + pad;
  if (x + r.width > window.innerWidth) x = ev.clientX - r.width - pad;
  if (y + r.height > window.innerHeight) y = ev.clientY - r.height - pad;
  t.style.left = x + 'px';
  t.style.top = y + 'px';
}

function hideTip() {
  const t = tooltip();
  if (t) t.hidden = true;
}

// Draws `root` (nodes: {name, w (layout weight), children: Map|[]}) into container.
// colorOf(node) and tipOf(node) -> [title, ...lines]. Returns {zoom(name)}.
function render(container, root, { colorOf, tipOf }) {
  const wrap = el('div', { class: 'flame-wrap' });
  const bar = el('div', { class: 'flame-bar' });
  const crumb = el('span', { class: 'crumb' });
  const reset = el('button', { type: 'button', class: 'small', onclick: () => draw(root) }, 'Reset zoom');
  bar.append(reset, crumb);
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', 'flame');
  const svgBox = el('div', { class: 'flame-scroll' });
  svgBox.append(svg);
  wrap.append(bar, svgBox);
  container.replaceChildren(wrap);
  const parents = new Map();
  const kids = (n) => (n.children instanceof Map ? [...n.children.values()] : n.children);
  (function index(n) { for (const c of kids(n)) { parents.set(c, n); index(c); } })(root);

  let nodes = [];
  function draw(focus) {
    hideTip();
    const W = Math.max(300, svgBox.clientWidth || 900);
    nodes = [];
    const frames = [];
    // Callers of the focus: full width, faded.
    const path = [];
    for (let n = focus; n; n = parents.get(n)) path.unshift(n);
    path.forEach((n, depth) => frames.push({ n, x: 0, w: W, depth, faded: n !== focus }));
    const base = path.length - 1;
    (function layout(n, x, w, depth) {
      let cx = x;
      const children = kids(n).slice().sort((p, q) => (p.name < q.name ? -1 : p.name > q.name ? 1 : 0));
      for (const c of children) {
        const cw = n.w > 0 ? (w * c.w) / n.w : 0;
        if (cw >= 0.5) {
          frames.push({ n: c, x: cx, w: cw, depth: depth + 1, faded: false });
          layout(c, cx, cw, depth + 1);
        }
        cx += cw;
      }
    })(focus, 0, W, base);
    const depth = frames.reduce((d, f) => Math.max(d, f.depth), 0);
    svg.setAttribute('width', W);
    svg.setAttribute('height', (depth + 1) * ROW);
    svg.setAttribute('viewBox', `0 0 ${W} ${(depth + 1) * ROW}`);
    const parts = [];
    for (const f of frames) {
      const i = nodes.push(f.n) - 1;
      const g = document.createElementNS(SVG_NS, 'g');
      g.setAttribute('class', 'frame' + (f.faded ? ' faded' : ''));
      g.setAttribute('transform', `translate(${f.x.toFixed(2)},${f.depth * ROW})`);
      g.dataset.i = i;
      g.dataset.name = f.n.name;
      if (f.n.delta !== undefined) g.dataset.delta = (100 * f.n.delta).toFixed(3);
      const rect = document.createElementNS(SVG_NS, 'rect');
      rect.setAttribute('width', Math.max(0.5, f.w - 0.5).toFixed(2));
      rect.setAttribute('height', ROW - 1);
      rect.setAttribute('rx', 2);
      rect.setAttribute('fill', colorOf(f.n));
      g.append(rect);
      const chars = Math.floor((f.w - 8) / 6.6);
      if (chars >= 3) {
        const text = document.createElementNS(SVG_NS, 'text');
        text.setAttribute('x', 4);
        text.setAttribute('y', 12.5);
        text.textContent = f.n.name.length <= chars ? f.n.name : f.n.name.slice(0, chars - 1) + '…';
        g.append(text);
      }
      parts.push(g);
    }
    svg.replaceChildren(...parts);
    container.dataset.frames = String(frames.length);
    container.dataset.focus = focus.name;
    crumb.textContent = focus === root ? 'Click a frame to zoom in.' : 'Zoomed into ' + path.map((n) => n.name).join(' › ');
    reset.disabled = focus === root;
  }

  const nodeOf = (ev) => {
    const g = ev.target.closest && ev.target.closest('g.frame');
    return g ? nodes[Number(g.dataset.i)] : null;
  };
  svg.addEventListener('mousemove', (ev) => {
    const n = nodeOf(ev);
    if (n) showTip(ev, tipOf(n, parents.get(n))); else hideTip();
  });
  svg.addEventListener('mouseleave', hideTip);
  svg.addEventListener('click', (ev) => {
    const n = nodeOf(ev);
    if (n) draw(n);
  });
  draw(root);
  let lastW = container.clientWidth;
  new ResizeObserver(() => {
    if (Math.abs(container.clientWidth - lastW) > 4) { lastW = container.clientWidth; draw(root); }
  }).observe(container);
  return {
    zoom(name) {
      const found = [...parents.keys()].find((n) => n.name === name);
      if (found) draw(found);
    },
  };
}

export function flameGraph(container, parsed) {
  const total = parsed.total;
  const setW = (n) => { n.w = n.value; for (const c of n.children.values()) setW(c); };
  setW(parsed.root);
  return render(container, parsed.root, {
    colorOf: (n) => warm(n.name),
    tipOf: (n, parent) => [
      n.name,
      `${fmtNum(n.value)} samples, ${((100 * n.value) / total).toFixed(2)} % of all`,
      parent ? `${((100 * n.value) / parent.value).toFixed(1)} % of its caller ${parent.name}` : 'every sample',
      `self: ${fmtNum(n.self)} samples (${((100 * n.self) / total).toFixed(2)} %)`,
    ],
  });
}

// Differential: pa "before" (A), pb "after" (B), both from parseFolded.
export function diffFlameGraph(container, pa, pb) {
  const root = mergeFolded(pa, pb);
  let maxAbs = 0;
  (function walk(n) {
    n.w = (n.a + n.b) / 2;
    n.delta = n.b - n.a;
    if (n !== root) maxAbs = Math.max(maxAbs, Math.abs(n.delta));
    for (const c of n.children.values()) walk(c);
  })(root);
  const colorOf = (n) => {
    if (maxAbs === 0 || n === root || n.delta === 0) return '#dee2e6';
    const i = Math.min(1, Math.abs(n.delta) / maxAbs);
    const light = Math.round(88 - 38 * Math.sqrt(i));
    return n.delta > 0 ? `hsl(0, 80%, ${light}%)` : `hsl(214, 80%, ${light}%)`;
  };
  const pct = (v) => (100 * v).toFixed(2) + ' %';
  const api = render(container, root, {
    colorOf,
    tipOf: (n) => [
      n.name,
      `A: ${pct(n.a)} of samples${n.a === 0 ? ' (absent)' : ''}`,
      `B: ${pct(n.b)} of samples${n.b === 0 ? ' (absent)' : ''}`,
      `change: ${n.delta >= 0 ? '+' : ''}${(100 * n.delta).toFixed(2)} points`,
    ],
  });
  container.dataset.maxDelta = String(maxAbs);
  return api;
}

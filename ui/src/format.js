// Numbers for people, and small DOM helpers. Missing values read "n/a".

export const NA = 'n/a';
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

export function fmtUs(v) {
  if (!isNum(v)) return NA;
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + ' s';
  if (Math.abs(v) >= 1e3) return (v / 1e3).toFixed(2) + ' ms';
  if (Math.abs(v) >= 100) return v.toFixed(0) + ' µs';
  if (Math.abs(v) >= 10) return v.toFixed(1) + ' µs';
  if (Math.abs(v) < 0.1 && v !== 0) return v.toFixed(3) + ' µs';
  return v.toFixed(2) + ' µs';
}

export function fmtBytes(v) {
  if (!isNum(v)) return NA;
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let x = v;
  while (Math.abs(x) >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return (i === 0 ? x.toFixed(0) : x.toFixed(1)) + ' ' + units[i];
}

export function fmtNum(v, digits = 3) {
  if (!isNum(v)) return NA;
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  return Number(v.toPrecision(digits)).toString();
}

export function fmtPct(v, digits = 1) {
  return isNum(v) ? v.toFixed(digits) + ' %' : NA;
}

export function fmtSignedPct(v) {
  if (!isNum(v)) return NA;
  return (v > 0 ? '+' : '') + v.toFixed(1) + ' %';
}

export function fmtDate(iso) {
  if (!iso) return NA;
  return iso.replace('T', ' ').replace(/Z$/, ' UTC');
}

// Shorter, for tables whose header says UTC.
export function fmtDateShort(iso) {
  if (!iso) return NA;
  return iso.replace('T', ' ').replace(/Z$/, '').slice(0, 16);
}

// el('div', {class: 'x', onclick: f}, child, 'text', ...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// A message in place of something that has nothing to show, saying why and what to do.
export function emptyState(title, ...hint) {
  return el('div', { class: 'empty' }, el('strong', {}, title), hint.length ? el('p', {}, ...hint) : null);
}

export function errorBox(title, err) {
  return el('div', { class: 'error-box', role: 'alert' }, el('strong', {}, title),
    el('p', {}, err && err.message ? err.message : String(err)));
}

export const code = (text) => el('code', {}, text);

// Small DOM helpers. Text always goes through textContent: API data is
// never parsed as HTML.

// h builds an element: h('a', {href: '#/x', class: 'c', onclick: fn}, 'text', child, ...).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

const SVG = 'http://www.w3.org/2000/svg';

// s builds an SVG element.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// replace empties el and appends children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// fmtTime renders an RFC 3339 time as "2026-11-26 10:00:02Z" (UTC).
export function fmtTime(t) {
  if (!t || t.startsWith('0001-')) return '';
  const d = new Date(t);
  if (isNaN(d)) return t;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// badge is a severity/status/decision label with a class per value.
export function badge(kind, value) {
  return h('span', {class: `badge ${kind}-${String(value || 'none').replace(/[^a-z0-9_-]/gi, '_')}`}, value || '—');
}

let flashTimer;

// flash shows a message in the status bar (kind: info, ok, error).
export function flash(msg, kind = 'info') {
  const el = document.getElementById('flash');
  el.textContent = msg;
  el.className = `flash ${kind}`;
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 10000 : 4000);
}

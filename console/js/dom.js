// DOM helpers: elements from plain values (text is always text, never HTML), tables, messages.
import { t } from './i18n.js';

/** An element: props (class, on*, attributes, properties) and children (nodes, strings, arrays; null skipped). */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** A table: columns [{ key, label, render?, num? }], rows of objects; wrapped so that it scrolls on a phone. */
export function table(columns, rows, opts = {}) {
  const head = h('tr', null, columns.map((c) => h('th', { class: c.num ? 'num' : null }, c.label)));
  const body = rows.map((r) => h('tr', { class: opts.rowClass ? opts.rowClass(r) : null }, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.render ? c.render(r) : fmt(r[c.key])))));
  return h('div', { class: 'table-wrap' }, h('table', { class: opts.class ?? null, 'data-testid': opts.testid ?? null }, h('thead', null, head), h('tbody', null, body.length ? body : h('tr', null, h('td', { colspan: columns.length, class: 'empty' }, opts.empty ?? t('common.none'))))));
}

export function fmt(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString() : v.toFixed(4);
  return String(v);
}

export const num = (v, d = 4) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '—');
export const when = (ms) => (typeof ms === 'number' && ms > 0 ? new Date(ms).toLocaleString() : '—');
export const bytes = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);

/** A coded error where the user looks: the code large, the message beside it. */
export function errorBox(e, title) {
  const code = e?.code ?? 'ERROR';
  return h('div', { class: 'error-box', role: 'alert', 'data-testid': 'error' }, h('strong', null, title ?? t('common.error')), ' ', h('code', null, code), h('div', { class: 'error-message' }, e?.message ?? String(e)));
}

export function okBox(text) {
  return h('div', { class: 'ok-box', role: 'status' }, text);
}

/** A page section with a heading. */
export function section(title, ...kids) {
  return h('section', { class: 'card' }, h('h2', null, title), ...kids);
}

/** A labelled form field. */
export function field(label, input) {
  return h('label', { class: 'field' }, h('span', null, label), input);
}

/** A status badge (completed, failed, running, valid, revoked, …). */
export function badge(status) {
  return h('span', { class: `badge badge-${String(status).replace(/[^a-z-]/g, '')}` }, t(`status.${status}`, {}, status));
}

/** Replace a container's content. */
export function show(el, ...kids) {
  el.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
}

// Small helpers shared by the pages: times (browser zone, UTC on hover), durations, JSON, YAML.
import { h } from './lib/preact.js';
import htm from './lib/htm.js';

export const html = htm.bind(h);

const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});

// A <time> in the browser's zone; its title (hover) is the UTC time.
export function Time({ value }) {
  if (!value) return html`<span class="muted">—</span>`;
  const d = new Date(value);
  if (isNaN(d)) return value;
  return html`<time datetime=${d.toISOString()} title=${`${d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`}>${timeFormat.format(d)}</time>`;
}

export function duration(ms) {
  if (ms === undefined || ms === null || isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  if (ms < 3600000) return `${Math.floor(ms / 60000)} m ${Math.round((ms % 60000) / 1000)} s`;
  return `${Math.floor(ms / 3600000)} h ${Math.round((ms % 3600000) / 60000)} m`;
}

export function Json({ value, label }) {
  if (value === undefined) return html`<span class="muted">—</span>`;
  return html`<pre class="json" aria-label=${label || 'JSON'} tabindex="0">${JSON.stringify(value, null, 2)}</pre>`;
}

export function Status({ value }) {
  return html`<span class=${`status s-${value}`}>${(value || 'unknown').replace('_', ' ')}</span>`;
}

export const STATUSES = ['pending', 'running', 'paused', 'waiting', 'completed', 'failed', 'cancelled', 'timed_out'];
export const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timed_out']);

const FIRST_KEYS = ['apiVersion', 'kind', 'metadata', 'id', 'name', 'version', 'type', 'dependsOn', 'input', 'steps'];

// JSON value -> YAML text (for showing definitions; strings quoted only when needed).
export function toYaml(value, indent = '') {
  const scalar = (v) => {
    if (v === null) return 'null';
    if (typeof v !== 'string') return String(v);
    if (v === '' || /^[\s#&*!|>'"%@`{[\]},?:-]|: | #|\n|^(true|false|null|yes|no|~)$|^[\d.+-]/i.test(v) || /:$/.test(v))
      return JSON.stringify(v);
    return v;
  };
  if (Array.isArray(value)) {
    if (!value.length) return '[]';
    return value.map((v) => {
      if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) {
        const inner = toYaml(v, indent + '  ');
        return `${indent}- ${inner.slice(indent.length + 2)}`;
      }
      const inner = v && typeof v === 'object' ? `\n${toYaml(v, indent + '  ')}` : ` ${scalar(v)}`;
      return `${indent}-${Array.isArray(v) && v.length ? inner : inner}`;
    }).join('\n');
  }
  if (value && typeof value === 'object') {
    // The store keeps definitions as jsonb (keys sorted): put the keys people look for first.
    const rank = (k) => { const i = FIRST_KEYS.indexOf(k); return i < 0 ? FIRST_KEYS.length : i; };
    const keys = Object.keys(value).sort((a, b) => rank(a) - rank(b));
    if (!keys.length) return `${indent}{}`;
    return keys.map((k) => {
      const v = value[k];
      const key = scalar(k);
      if (v && typeof v === 'object' && (Array.isArray(v) ? v.length : Object.keys(v).length))
        return `${indent}${key}:\n${toYaml(v, indent + '  ')}`;
      if (v && typeof v === 'object') return `${indent}${key}: ${Array.isArray(v) ? '[]' : '{}'}`;
      return `${indent}${key}: ${scalar(v)}`;
    }).join('\n');
  }
  return indent + scalar(value);
}

// "3f2c9a1e…90ea"; a sub-workflow child (<parent>.<step>.<attempt>) keeps its step and attempt.
export function shortId(id) {
  if (!id) return id;
  const dot = id.indexOf('.');
  if (dot > 0) return `${id.slice(0, 8)}…${id.slice(dot)}`;
  return id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

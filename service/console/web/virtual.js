// A virtualised list: only the rows in view (plus a margin) are in the DOM, so 10,000 events or
// timeline rows render without freezing the page. Rows have one fixed height.
import { useState, useRef, useEffect } from './lib/hooks.js';
import { html } from './util.js';

export function VirtualList({ items, rowHeight, height = 360, renderRow, label, className = '' }) {
  const [top, setTop] = useState(0);
  const ref = useRef(null);
  const total = items.length * rowHeight;
  const first = Math.max(0, Math.floor(top / rowHeight) - 10);
  const last = Math.min(items.length, Math.ceil((top + height) / rowHeight) + 10);
  const rows = [];
  for (let i = first; i < last; i++)
    rows.push(html`<div class="vrow" role="listitem" style=${`top:${i * rowHeight}px;height:${rowHeight}px`} key=${i}>${renderRow(items[i], i)}</div>`);
  return html`<div ref=${ref} class=${`vlist ${className}`} role="list" aria-label=${label} tabindex="0"
      style=${`height:${Math.min(height, Math.max(total, rowHeight)) + 2}px`}
      data-rows=${items.length}
      onScroll=${(e) => setTop(e.currentTarget.scrollTop)}>
    <div style=${`height:${total}px;position:relative`}>${rows}</div>
  </div>`;
}

// Timeline rows from an execution's events: one row per step path, its attempts as bars and its
// retry (backoff) waits as hatched segments on one time axis.
export function timelineRows(events) {
  const rows = new Map();
  const row = (step) => {
    if (!rows.has(step)) rows.set(step, { step, spans: [], status: 'pending' });
    return rows.get(step);
  };
  let t0 = Infinity, t1 = -Infinity;
  const open = new Map();
  for (const e of events) {
    const t = Date.parse(e.time);
    if (!isNaN(t)) { t0 = Math.min(t0, t); t1 = Math.max(t1, t); }
    if (!e.step) continue;
    const r = row(e.step);
    const key = `${e.step}#${e.attempt || 0}`;
    switch (e.type) {
      case 'StepStarted': open.set(key, { kind: 'attempt', attempt: e.attempt, from: t, to: null, status: 'running' }); r.status = 'running'; break;
      case 'StepCompleted':
      case 'StepFailed': {
        const span = open.get(key) || { kind: 'attempt', attempt: e.attempt, from: t };
        span.to = t;
        span.status = e.type === 'StepCompleted' ? 'succeeded' : 'failed';
        span.error = e.data?.error;
        r.spans.push(span);
        open.delete(key);
        r.status = span.status;
        break;
      }
      case 'StepRetryScheduled':
        r.spans.push({ kind: 'wait', from: t, to: t + (e.data?.delayMs || 0), status: 'wait' });
        t1 = Math.max(t1, t + (e.data?.delayMs || 0));
        r.status = 'retrying';
        break;
      case 'StepSkipped': r.status = 'skipped'; r.spans.push({ kind: 'mark', from: t, to: t, status: 'skipped' }); break;
      default: break;
    }
  }
  for (const [key, span] of open) { span.to = null; row(key.split('#')[0]).spans.push(span); }
  return { rows: [...rows.values()], t0: isFinite(t0) ? t0 : 0, t1: isFinite(t1) ? t1 : 0 };
}

// Overview: started / completed / failed per minute, executions in flight, consumer lag and dead
// letters pending, from the service's /metrics (sampled every 5 s while the page is open; rates
// are the counters' differences over time) and the executions counts.
import { useState, useEffect, useRef } from './lib/hooks.js';
import { metrics, get } from './api.js';
import { html } from './util.js';

const SAMPLE_MS = 5000;
const KEEP = 60;  // samples (5 minutes)

function sum(ms, name, pred = () => true) {
  return ms.filter((m) => m.name === name && pred(m.labels)).reduce((a, m) => a + m.value, 0);
}

function Spark({ points, label }) {
  const w = 220, h = 44;
  if (points.length < 2) return html`<svg class="spark" width=${w} height=${h} role="img" aria-label=${`${label}: collecting`}></svg>`;
  const max = Math.max(1, ...points);
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${(i / (points.length - 1)) * w},${h - 2 - (p / max) * (h - 4)}`).join(' ');
  return html`<svg class="spark" width=${w} height=${h} viewBox=${`0 0 ${w} ${h}`} role="img" aria-label=${`${label}, last ${points.length} samples, max ${max.toFixed(1)}`}><path d=${d} /></svg>`;
}

export function OverviewPage() {
  const [samples, setSamples] = useState([]);
  const [counts, setCounts] = useState(null);
  const [error, setError] = useState(null);
  const history = useRef([]);
  useEffect(() => {
    let stop = false;
    const tick = async () => {
      try {
        const ms = await metrics();
        const s = {
          t: Date.now(),
          started: sum(ms, 'flowd_executions_started_total'),
          completed: sum(ms, 'flowd_executions_finished_total', (l) => l.status === 'completed'),
          failed: sum(ms, 'flowd_executions_finished_total', (l) => l.status !== 'completed'),
          inFlight: sum(ms, 'flowd_executions_in_flight'),
          lag: sum(ms, 'flowd_kafka_consumer_lag'),
          dlq: sum(ms, 'flowd_dlq_size'),
        };
        history.current = [...history.current, s].slice(-KEEP);
        if (!stop) { setSamples(history.current); setError(null); }
        const c = await get('executions/counts?since=24h');
        if (!stop) setCounts(c);
      } catch (e) { if (!stop) setError(e); }
    };
    tick();
    const t = setInterval(() => { if (!document.hidden) tick(); }, SAMPLE_MS);
    return () => { stop = true; clearInterval(t); };
  }, []);

  const last = samples[samples.length - 1];
  const rate = (k) => samples.slice(1).map((s, i) => ((s[k] - samples[i][k]) * 60000) / Math.max(1, s.t - samples[i].t));
  const perMinute = (k) => {
    const r = rate(k);
    return r.length ? r[r.length - 1] : null;
  };
  const card = (title, value, spark, note) => html`<div class="card" role="group" aria-label=${title}>
    <h2>${title}</h2><div class="big" data-metric=${title}>${value === null || value === undefined ? '…' : Math.round(value * 10) / 10}</div>
    ${spark}${note && html`<p class="muted small">${note}</p>`}</div>`;
  return html`<section class="panel" aria-labelledby="ov-title">
    <h1 id="ov-title">Overview</h1>
    ${error && html`<p class="error-text" role="alert">${error.message}</p>`}
    <div class="cards">
      ${card('Started / min', perMinute('started'), html`<${Spark} points=${rate('started')} label="started per minute" />`, 'this instance, from /metrics')}
      ${card('Completed / min', perMinute('completed'), html`<${Spark} points=${rate('completed')} label="completed per minute" />`)}
      ${card('Failed / min', perMinute('failed'), html`<${Spark} points=${rate('failed')} label="failed per minute" />`, 'failed, cancelled or timed out')}
      ${card('In flight', last?.inFlight, html`<${Spark} points=${samples.map((s) => s.inFlight)} label="in flight" />`, 'executions running on this instance')}
      ${card('Consumer lag', last?.lag, html`<${Spark} points=${samples.map((s) => s.lag)} label="consumer lag" />`, 'trigger records not yet consumed')}
      ${card('Dead letters pending', last?.dlq, null, html`waiting for a decision: <a href="#/dlq">dead letters</a>`)}
    </div>
    ${counts && html`<h2>Last 24 hours (all instances)</h2>
      <div class="counts">${Object.entries(counts.counts).map(([s, n]) => html`<a class=${`count s-${s}`} href=${`#/executions?status=${s}`}>${s.replace('_', ' ')} <b>${n}</b></a>`)}</div>`}
  </section>`;
}

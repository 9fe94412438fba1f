// Schedules: the list (GET /schedules) and one schedule — its settings, the next 10 runs in its
// zone and in UTC, the tick history and the audit trail — with pause / unpause (with a note) and
// backfill of a past window, each behind the confirmation dialog.
import { useState, useEffect } from './lib/hooks.js';
import { get, post } from './api.js';
import { html, Time, Json, shortId } from './util.js';
import { Confirm } from './confirm.js';

const OVERLAPS = ['skip', 'allow', 'bufferOne', 'bufferAll', 'cancelOther'];
const OUTCOMES = ['fired', 'skipped', 'buffered', 'missed', 'failed'];
const COUNTS = ['ticks', 'fired', 'skipped', 'buffered', 'alreadyDone', 'failed'];

const path = (name, rest = '') => `schedules/${encodeURIComponent(name)}${rest}`;
const workflowOf = (s) => `${s.workflow}@${s.version ?? 'latest'}`;

function State({ s }) {
  return html`<span class=${`status ${s.paused ? 's-paused' : 's-active'}`} data-state=${s.paused ? 'paused' : 'active'}>${s.paused ? 'paused' : 'active'}</span>`;
}

function Outcome({ value }) {
  return html`<span class=${`status s-${OUTCOMES.includes(value) ? value : 'unknown'}`}>${value}</span>`;
}

// "2026-12-05T02:30:00+01:00" -> "Sat 2026-12-05 02:30:00 +01:00": the wall time as the API wrote
// it (not re-read through the browser's zone), with the weekday cron expressions often name; on a
// phone it wraps between the date and the time only.
function wall(text) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T([\d:]+)(.*)$/.exec(text || '');
  if (!m) return text;
  const day = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).toLocaleDateString('en', { weekday: 'short', timeZone: 'UTC' });
  const zone = m[5] === 'Z' ? 'Z' : m[5] ? ` ${m[5]}` : '';
  return html`<span class="nowrap">${day} ${m[1]}-${m[2]}-${m[3]}</span> <span class="nowrap">${m[4]}${zone}</span>`;
}

// A datetime-local value (the browser's zone) -> RFC 3339 UTC, whole seconds; '' when empty.
function toUtc(local) {
  if (!local) return '';
  const d = new Date(local);
  return isNaN(d) ? '' : d.toISOString().replace(/\.\d+Z$/, 'Z');
}
// A Date -> a datetime-local value in the browser's zone (minutes).
function toLocal(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function SchedulesPage() {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { get('schedules').then((r) => setItems(r.items)).catch(setError); }, []);
  return html`<section class="panel" aria-labelledby="sched-title">
    <h1 id="sched-title">Schedules</h1>
    ${error && html`<p class="error-text" role="alert">${error.message}</p>`}
    ${!items && !error && html`<p class="loading" aria-busy="true">Loading…</p>`}
    ${items && html`<div class="table-wrap"><table class="list sched">
      <caption class="sr-only">Schedules, by name</caption>
      <thead><tr><th scope="col">Schedule</th><th scope="col" class="secondary">Workflow</th><th scope="col" class="secondary">Cron</th>
        <th scope="col" class="secondary">Time zone</th><th scope="col">State</th><th scope="col">Next run</th>
        <th scope="col" class="secondary">Last run</th><th scope="col" class="secondary">Source</th>
        <th scope="col" class="secondary">Overlap</th><th scope="col" class="secondary">Missed</th></tr></thead>
      <tbody>
      ${items.map((s) => html`<tr data-name=${s.name}>
        <td><a href=${`#/schedules/${encodeURIComponent(s.name)}`}>${s.name}</a>
          <div class="muted small phone-only">${workflowOf(s)} · <code class="nowrap">${s.schedule}</code> ${s.timezone}</div></td>
        <td class="secondary">${s.workflow}<span class="muted">@${s.version ?? 'latest'}</span></td>
        <td class="secondary"><code class="nowrap">${s.schedule}</code></td>
        <td class="secondary">${s.timezone}</td>
        <td><${State} s=${s} />${s.paused && s.note && html`<div class="muted small" title="pause note">${s.note}</div>`}</td>
        <td><${Time} value=${s.nextRun} /></td>
        <td class="secondary">${s.lastRun ? html`<${Time} value=${s.lastRun.fireTime} /> <${Outcome} value=${s.lastRun.outcome} />` : html`<span class="muted">never</span>`}</td>
        <td class="secondary" data-col="source">${s.source}</td>
        <td class="secondary">${s.overlap}</td>
        <td class="secondary">${s.missedTicks}</td>
      </tr>`)}
      ${!items.length && html`<tr><td colspan="10" class="muted">No schedules. Add a cron trigger to a workflow, or create one with flowctl schedules.</td></tr>`}
      </tbody></table></div>`}
  </section>`;
}

export function SchedulePage({ name, canAct, notify }) {
  const [s, setS] = useState(null);
  const [next, setNext] = useState(null);
  const [ticks, setTicks] = useState(null);  // the longer history, once asked for
  const [error, setError] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [backfill, setBackfill] = useState(false);
  const [report, setReport] = useState(null);

  const load = async () => {
    try {
      const [one, n] = await Promise.all([get(path(name)), get(path(name, '/next?n=10'))]);
      setS(one); setNext(n); setError(null);
      if (ticks) setTicks((await get(path(name, '/ticks?limit=100'))).items);
    } catch (e) { setError(e); }
  };
  useEffect(() => { load(); }, [name]);
  const more = async () => {
    try { setTicks((await get(path(name, '/ticks?limit=100'))).items); } catch (e) { setError(e); }
  };

  if (error && !s) return html`<section class="panel"><p class="error-text" role="alert">${error.message}</p></section>`;
  if (!s) return html`<section class="panel"><p class="loading" aria-busy="true">Loading ${name}…</p></section>`;

  const pause = (verb) => setConfirm({
    verb, subject: 'schedule', reasonLabel: 'Note (shown with the schedule)',
    text: verb === 'pause'
      ? 'Pause this schedule? No tick fires until it is unpaused; running executions go on.'
      : 'Unpause this schedule? The fire times that passed while it was paused do not run (backfill runs them).',
    run: async ({ reason }) => {
      await post(path(name, `/${verb}`), reason ? { note: reason } : {});
      notify(`${name} ${verb}d`);
      load();
    },
  });
  const shownTicks = ticks || s.recentTicks || [];

  return html`<section class="panel schedule" aria-labelledby="sched-title">
    <header class="exec-head">
      <h1 id="sched-title">Schedule <code>${s.name}</code></h1>
      <${State} s=${s} />
    </header>
    ${s.paused && html`<p class="past-note" data-testid="pause-note">Paused${s.note ? `: ${s.note}` : ''}</p>`}
    <dl class="facts">
      <dt>Workflow</dt><dd><a href=${`#/workflows/${encodeURIComponent(s.workflow)}`}>${workflowOf(s)}</a></dd>
      <dt>Source</dt><dd data-testid="source">${s.source}${s.definitionVersion ? html` <span class="muted">(declared by v${s.definitionVersion})</span>` : ''}</dd>
      <dt>Cron</dt><dd><code>${s.schedule}</code></dd>
      <dt>Time zone</dt><dd>${s.timezone}</dd>
      <dt>Overlap</dt><dd>${s.overlap}${s.buffered ? html` <span class="muted">(${s.buffered} buffered)</span>` : ''}</dd>
      <dt>Pause on failure</dt><dd>${s.pauseOnFailure ? 'yes' : 'no'}</dd>
      <dt>Catch-up</dt><dd>${s.catchupWindow} window, at most ${s.maxCatchup}</dd>
      <dt>Jitter</dt><dd>${s.jitter}</dd>
      ${s.startAt && html`<dt>Starts</dt><dd><${Time} value=${s.startAt} /></dd>`}
      ${s.endAt && html`<dt>Ends</dt><dd><${Time} value=${s.endAt} /></dd>`}
      <dt>Next run</dt><dd><${Time} value=${s.nextRun} /></dd>
      <dt>Last run</dt><dd>${s.lastRun ? html`<${Time} value=${s.lastRun.fireTime} /> <${Outcome} value=${s.lastRun.outcome} />` : html`<span class="muted">never</span>`}</dd>
      ${s.running && html`<dt>Running</dt><dd><a href=${`#/executions/${encodeURIComponent(s.running)}`} title=${s.running}>${shortId(s.running)}</a></dd>`}
      <dt>Missed ticks</dt><dd>${s.missedTicks}</dd>
      <dt>Created</dt><dd><${Time} value=${s.createdAt} /></dd>
      <dt>Updated</dt><dd><${Time} value=${s.updatedAt} /></dd>
    </dl>
    ${s.input !== null && s.input !== undefined && html`<h2>Input</h2><${Json} value=${s.input} label="schedule input" />`}
    ${canAct && html`<div class="actions" role="toolbar" aria-label="schedule actions">
      ${s.paused ? html`<button onClick=${() => pause('unpause')}>Unpause</button>` : html`<button onClick=${() => pause('pause')}>Pause</button>`}
      <button aria-expanded=${backfill} aria-controls="backfill" onClick=${() => setBackfill(!backfill)}>Backfill…</button>
    </div>`}
    ${error && html`<p class="error-text" role="alert">${error.message}</p>`}
    ${canAct && backfill && html`<${BackfillForm} s=${s} setConfirm=${setConfirm} onDone=${(r) => { setReport(r); load(); }} />`}
    <div aria-live="polite">${report && html`<${BackfillReport} r=${report} />`}</div>

    <h2>Next 10 runs</h2>
    ${s.paused && html`<p class="muted small">Paused: these fire only once it is unpaused.</p>`}
    <div class="table-wrap"><table class="list sched next-runs">
      <caption class="sr-only">The next 10 fire times, in the schedule's zone and in UTC</caption>
      <thead><tr><th scope="col">In ${next.timezone}</th><th scope="col">UTC</th></tr></thead>
      <tbody>${next.items.map((t) => html`<tr>
        <td data-col="local"><time datetime=${t.utc}>${wall(t.local)}</time></td>
        <td data-col="utc"><time datetime=${t.utc}>${wall(t.utc)}</time></td></tr>`)}
      ${!next.items.length && html`<tr><td colspan="2" class="muted">No more fire times (past its end).</td></tr>`}</tbody>
    </table></div>

    <h2>Ticks <span class="muted">(${ticks || shownTicks.length < 20 ? shownTicks.length : `the newest ${shownTicks.length}`})</span></h2>
    <${Ticks} items=${shownTicks} />
    ${!ticks && shownTicks.length >= 20 && html`<button onClick=${more}>Show the last 100 ticks</button>`}

    <h2>Audit trail</h2>
    <${Events} items=${s.events || []} />
    ${confirm && html`<${Confirm} ...${confirm} onClose=${() => setConfirm(null)} />`}
  </section>`;
}

function Ticks({ items }) {
  return html`<div class="table-wrap"><table class="list sched ticks">
    <caption class="sr-only">Handled ticks, newest first</caption>
    <thead><tr><th scope="col">Fire time</th><th scope="col">Outcome</th><th scope="col">Execution</th>
      <th scope="col" class="secondary">Detail</th><th scope="col" class="secondary">Handled</th></tr></thead>
    <tbody>${items.map((t) => html`<tr data-outcome=${t.outcome} data-backfill=${t.backfill}>
      <td><${Time} value=${t.fireTime} />${t.backfill && html` <span class="tag" title="run by a backfill">backfill</span>`}</td>
      <td><${Outcome} value=${t.outcome} /></td>
      <td>${t.executionId ? html`<a href=${`#/executions/${encodeURIComponent(t.executionId)}`} title=${t.executionId}>${shortId(t.executionId)}</a>` : html`<span class="muted">—</span>`}</td>
      <td class="secondary">${t.detail || ''}</td>
      <td class="secondary"><${Time} value=${t.at} /></td></tr>`)}
    ${!items.length && html`<tr><td colspan="5" class="muted">No tick yet.</td></tr>`}</tbody>
  </table></div>`;
}

function Events({ items }) {
  return html`<div class="table-wrap"><table class="list sched audit">
    <caption class="sr-only">The schedule's audit trail, oldest first (the last 50)</caption>
    <thead><tr><th scope="col">Event, by</th><th scope="col" class="secondary">When</th><th scope="col">Data</th></tr></thead>
    <tbody>${items.map((e) => html`<tr data-type=${e.type}>
      <td>${e.type}<div class="muted small actor" title="actor">${e.actor}</div><div class="muted small phone-only"><${Time} value=${e.at} /></div></td>
      <td class="secondary"><${Time} value=${e.at} /></td>
      <td>${e.data && Object.keys(e.data).length ? html`<details><summary><code class="oneline">${JSON.stringify(e.data)}</code></summary>
        <${Json} value=${e.data} label=${`data of ${e.type} #${e.position}`} /></details>` : html`<span class="muted">—</span>`}</td></tr>`)}
    ${!items.length && html`<tr><td colspan="3" class="muted">No events.</td></tr>`}</tbody>
  </table></div>`;
}

// The backfill form: a window in the browser's zone (sent as UTC) and an optional overlap policy
// for this backfill only; it asks for confirmation, then hands the report up.
function BackfillForm({ s, setConfirm, onDone }) {
  const now = new Date();
  const [from, setFrom] = useState(toLocal(new Date(now - 86400000)));
  const [to, setTo] = useState(toLocal(now));
  const [overlap, setOverlap] = useState('');
  const [problem, setProblem] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    const body = { from: toUtc(from), to: toUtc(to), ...(overlap ? { overlap } : {}) };
    if (!body.from || !body.to) { setProblem('Give both ends of the window.'); return; }
    if (body.from > body.to) { setProblem('"From" is after "to".'); return; }
    setProblem(null);
    setConfirm({
      verb: 'backfill', subject: 'schedule', reasonLabel: null,
      text: html`Run every fire time of ${s.name} from <${Time} value=${body.from} /> to <${Time} value=${body.to} /> with overlap${' '}
        <strong>${overlap || s.overlap}</strong>? A fire time that already has a tick is not run again.`,
      run: async () => onDone(await post(path(s.name, '/backfill'), body)),
    });
  };
  return html`<form id="backfill" class="backfill" onSubmit=${submit} aria-label="backfill" novalidate>
    <label>From (your time zone)<input type="datetime-local" name="from" value=${from} onInput=${(e) => setFrom(e.target.value)} required /></label>
    <label>To (your time zone)<input type="datetime-local" name="to" value=${to} max=${toLocal(now)} onInput=${(e) => setTo(e.target.value)} required /></label>
    <label>Overlap<select name="overlap" value=${overlap} onChange=${(e) => setOverlap(e.target.value)}>
      <option value="">the schedule's (${s.overlap})</option>${OVERLAPS.map((o) => html`<option value=${o}>${o}</option>`)}</select></label>
    <button class="primary" type="submit">Run backfill…</button>
    ${problem && html`<p class="error-text" role="alert">${problem}</p>`}
  </form>`;
}

function BackfillReport({ r }) {
  return html`<div class="backfill-report">
    <strong>Backfill done:</strong>
    ${COUNTS.map((k) => html` <span class="count-item">${k === 'alreadyDone' ? 'already done' : k} <b data-count=${k}>${r[k]}</b></span>`)}
  </div>`;
}

// One execution: status, input, output, the step graph, the timeline of attempts and backoff
// waits, every step's output and error inline, the event history with each event's JSON, the
// time-travel slider (POST /replay, state as of event N), live updates (the SSE stream) and the
// operator actions (pause, resume with input, cancel, rerun) behind a confirmation.
import { useState, useEffect, useRef, useMemo, useCallback } from './lib/hooks.js';
import { get, post, follow } from './api.js';
import { html, Time, Json, Status, duration, TERMINAL, shortId } from './util.js';
import { StepGraph } from './graph.js';
import { VirtualList, timelineRows } from './virtual.js';
import { Confirm } from './confirm.js';

// Every event, in pages of 1,000 read four at a time (the execution's version says how many
// there are); onPage(all so far) lets the page draw while the rest loads.
async function loadEvents(id, version, onPage) {
  const PAGE = 1000;
  const read = (after) => get(`executions/${encodeURIComponent(id)}/events?after=${after}&limit=${PAGE}`);
  let all = [];
  let after = 0;
  while (after < version) {
    const afters = [];
    for (let a = after; a < version && afters.length < 4; a += PAGE) afters.push(a);
    const pages = await Promise.all(afters.map(read));
    for (const p of pages) all = all.concat(p.items);
    after = afters[afters.length - 1] + PAGE;
    if (after < version) onPage(all);
  }
  // Events appended since the version was read.
  for (;;) {
    const last = all.length ? all[all.length - 1].version : 0;
    const more = await read(last);
    all = all.concat(more.items);
    if (more.nextAfter === undefined) return all;
  }
}

export function Timeline({ events }) {
  const { rows, t0, t1 } = useMemo(() => timelineRows(events), [events]);
  const now = Date.now();
  const end = Math.max(t1, rows.some((r) => r.spans.some((s) => s.to === null)) ? now : t1, t0 + 1);
  const span = end - t0;
  const pct = (t) => `${(((t ?? now) - t0) / span) * 100}%`;
  const wid = (a, b) => `${Math.max(0.4, (((b ?? now) - a) / span) * 100)}%`;
  if (!rows.length) return html`<p class="muted">No step has run yet.</p>`;
  return html`<div class="timeline">
    <div class="axis" aria-hidden="true"><span>0</span><span>${duration(span / 2)}</span><span>${duration(span)}</span></div>
    <${VirtualList} items=${rows} rowHeight=${26} height=${Math.min(420, rows.length * 26)} label="timeline of steps"
      renderRow=${(r) => html`<div class="tl-row">
        <span class="tl-step" title=${r.step}>${r.step}</span>
        <span class="tl-track">${r.spans.map((s) => html`<span
            class=${`tl-span k-${s.kind} s-${s.status}`} style=${`left:${pct(s.from)};width:${wid(s.from, s.to)}`}
            title=${s.kind === 'wait' ? `backoff ${duration(s.to - s.from)}` : `attempt ${s.attempt || ''}: ${s.status}${s.to ? ', ' + duration(s.to - s.from) : ''}${s.error ? ' — ' + s.error.message : ''}`}></span>`)}
        </span></div>`} />
  </div>`;
}

// Steps in definition order (forEach items after their step), each with its `with`, output,
// error and the errors of earlier attempts (retried failures are in the events, not the state).
function StepDetails({ steps, definitionSteps, events, focus }) {
  const [limit, setLimit] = useState(200);
  const defs = new Map((definitionSteps || []).map((s, i) => [s.id, { step: s, order: i }]));
  const failures = useMemo(() => {
    const m = new Map();
    for (const e of events) if (e.type === 'StepFailed' && e.step) {
      if (!m.has(e.step)) m.set(e.step, []);
      m.get(e.step).push({ attempt: e.attempt, error: e.data?.error, final: e.data?.final });
    }
    return m;
  }, [events]);
  const base = (path) => path.replace(/[[.].*$/, '');
  const entries = Object.entries(steps || {}).sort(([a], [b]) => {
    const oa = defs.get(base(a))?.order ?? 1e9, ob = defs.get(base(b))?.order ?? 1e9;
    if (oa !== ob) return oa - ob;
    const na = /\[(\d+)\]/.exec(a), nb = /\[(\d+)\]/.exec(b);
    if (na && nb && base(a) === base(b) && na[1] !== nb[1]) return Number(na[1]) - Number(nb[1]);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  if (!entries.length) return html`<p class="muted">No step state yet.</p>`;
  const input = (path) => {
    const d = defs.get(path)?.step;
    if (!d) return undefined;
    if (d.switch) return { switch: d.switch.value, cases: (d.switch.cases || []).map((c) => ({ match: c.match, type: c.type, with: c.with })) };
    return d.with;
  };
  return html`<div class="steps">
    ${entries.slice(0, limit).map(([path, s]) => {
      const earlier = (failures.get(path) || []).filter((f) => !(s.error && f.final));
      const withValue = input(path);
      return html`<section class=${`step ${focus === path ? 'focus' : ''}`} id=${`step-${path}`} aria-label=${`step ${path}`}>
      <header><strong>${path}</strong> <${Status} value=${s.status} />
        <span class="muted">${s.attempts} attempt${s.attempts === 1 ? '' : 's'} · ${duration(s.durationMs)}</span>
        ${s.skipReason && html`<span class="muted"> · skipped: ${s.skipReason}</span>`}
        ${s.fallback && html`<span class="muted"> · fallback: ${s.fallback}</span>`}</header>
      <div class="io">
        ${withValue !== undefined && html`<div><h4>input (with)</h4><${Json} value=${withValue} label=${`input of ${path}`} /></div>`}
        ${s.output !== undefined && html`<div><h4>output</h4><${Json} value=${s.output} label=${`output of ${path}`} /></div>`}
        ${s.error && html`<div class="error"><h4>error</h4><${Json} value=${s.error} label=${`error of ${path}`} /></div>`}
        ${earlier.length > 0 && html`<div class="error"><h4>failed attempts</h4><ul class="attempts">${earlier.map((f) => html`<li>
          attempt ${f.attempt}: <strong>${f.error?.code}</strong> ${f.error?.message}${f.final ? '' : ' (retried)'}</li>`)}</ul></div>`}
      </div>
    </section>`;
    })}
    ${entries.length > limit && html`<button onClick=${() => setLimit(limit + 500)}>Show more steps (${entries.length - limit} left)</button>`}
  </div>`;
}

function EventHistory({ events }) {
  const [open, setOpen] = useState(null);
  return html`<div class="events">
    <${VirtualList} items=${events} rowHeight=${28} height=${Math.min(360, Math.max(events.length, 1) * 28)} label="event history"
      renderRow=${(e) => html`<button class=${`event-row ${open === e.version ? 'open' : ''}`} onClick=${() => setOpen(open === e.version ? null : e.version)}
          aria-expanded=${open === e.version} aria-label=${`event ${e.version} ${e.type}`}>
        <span class="ev-v">#${e.version}</span><span class="ev-type">${e.type}</span>
        <span class="ev-step">${e.step || ''}${e.attempt ? ` (attempt ${e.attempt})` : ''}</span><${Time} value=${e.time} /></button>`} />
    ${open !== null && html`<div class="event-json"><h4>event #${open}</h4><${Json} value=${events.find((e) => e.version === open)} label=${`event ${open} JSON`} /></div>`}
  </div>`;
}

function TimeTravel({ id, version, onState }) {
  const [at, setAt] = useState(null);  // null: the latest event (follows a live execution)
  const [info, setInfo] = useState(null);
  const [error, setError] = useState(null);
  const timer = useRef(null);
  const shown = at ?? version;
  useEffect(() => () => clearTimeout(timer.current), []);
  const pick = (n) => {
    clearTimeout(timer.current);
    if (n >= version) {
      setAt(null); setInfo(null); setError(null); onState(null);
      return;
    }
    setAt(n);
    timer.current = setTimeout(async () => {
      try {
        const r = await post(`executions/${encodeURIComponent(id)}/replay`, { upto: n });
        setInfo({ n, last: r.timeline[r.timeline.length - 1], status: r.state.status });
        setError(null);
        onState(r.state);
      } catch (e) { setError(e.message); }
    }, 120);
  };
  return html`<div class="travel">
    <label for="travel">Time travel: state as of event <output id="travel-at" data-at=${shown}>${shown}</output> of ${version}</label>
    <input id="travel" type="range" min="1" max=${Math.max(1, version)} value=${shown}
      onInput=${(e) => pick(Number(e.target.value))} aria-valuetext=${`event ${shown} of ${version}`} />
    <button onClick=${() => pick(version)} disabled=${at === null}>Latest</button>
    ${at !== null && info && info.n === at && html`<span class="travel-info" data-status=${info.status}>#${info.n} ${info.last?.type} ${info.last?.step || ''} → <${Status} value=${info.status} /></span>`}
    ${error && html`<span class="error-text">${error}</span>`}
  </div>`;
}

export function ExecutionPage({ id, canAct, notify }) {
  const [exec, setExec] = useState(null);
  const [events, setEvents] = useState([]);
  const [definition, setDefinition] = useState(null);
  const [past, setPast] = useState(null);  // state as of event N (time travel), null: latest
  const [error, setError] = useState(null);
  const [live, setLive] = useState(false);
  const [focus, setFocus] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const refresh = useRef(null);

  const reload = useCallback(async () => {
    try { setExec(await get(`executions/${encodeURIComponent(id)}`)); } catch (e) { setError(e); }
  }, [id]);

  useEffect(() => {
    let stop = () => {};
    let cancelled = false;
    setExec(null); setEvents([]); setPast(null); setError(null); setDefinition(null);
    (async () => {
      try {
        const e = await get(`executions/${encodeURIComponent(id)}`);
        if (cancelled) return;
        setExec(e);
        get(`workflows/${encodeURIComponent(e.workflow)}/versions/${e.workflowVersion}`).then((d) => !cancelled && setDefinition(d)).catch(() => {});
        const history = await loadEvents(id, e.version, (some) => !cancelled && setEvents(some));
        if (cancelled) return;
        setEvents(history);
        if (!TERMINAL.has(e.status)) {
          setLive(true);
          const last = history.length ? history[history.length - 1].version : 0;
          const queued = [];
          stop = follow(id, last, {
            onEvent: (ev) => {
              queued.push(ev);
              if (refresh.current) return;
              refresh.current = setTimeout(() => {
                refresh.current = null;
                const batch = queued.splice(0);
                setEvents((old) => {
                  const seen = old.length ? old[old.length - 1].version : 0;
                  return old.concat(batch.filter((b) => b.version > seen));
                });
                reload();
              }, 150);
            },
            onEnd: () => { setLive(false); setTimeout(reload, 200); },
            onError: () => {},
          });
        }
      } catch (err) { if (!cancelled) setError(err); }
    })();
    return () => { cancelled = true; stop(); clearTimeout(refresh.current); refresh.current = null; };
  }, [id]);

  if (error) return html`<section class="panel"><h1>Execution ${id}</h1><p class="error-text" role="alert">${error.message}</p>
    ${error.hint && html`<p class="muted">${error.hint}</p>`}</section>`;
  if (!exec) return html`<p class="loading" aria-busy="true">Loading execution ${id}…</p>`;

  const shown = past || exec;
  const shownEvents = past ? events.filter((e) => e.version <= past.version) : events;
  const definitionSteps = definition?.definition?.spec?.steps || [];
  const ended = TERMINAL.has(exec.status);
  const act = (verb) => setConfirm({
    verb,
    withInput: verb === 'resume',
    run: async ({ reason, input }) => {
      const body = {};
      if (reason) body.reason = reason;
      if (input !== undefined) body.input = input;
      if (verb === 'rerun') {
        const r = await post(`executions/${encodeURIComponent(id)}/rerun`, {});
        notify(`Rerun started: ${r.id}`);
        location.hash = `#/executions/${encodeURIComponent(r.id)}`;
      } else {
        const r = await post(`executions/${encodeURIComponent(id)}/${verb}`, body);
        notify(`${verb} queued (command ${r.commandId})`);
        setTimeout(reload, 300);
      }
    },
  });

  return html`<section class="panel execution" aria-labelledby="exec-title">
    <header class="exec-head">
      <h1 id="exec-title">Execution <code class="exec-id">${id}</code></h1>
      <${Status} value=${exec.status} />
      ${live && html`<span class="live" aria-live="polite" title="following the event stream">● live</span>`}
    </header>
    <dl class="facts">
      <dt>Workflow</dt><dd><a href=${`#/workflows/${encodeURIComponent(exec.workflow)}`}>${exec.workflow}@${exec.workflowVersion}</a></dd>
      <dt>Started</dt><dd><${Time} value=${exec.startedAt} /></dd>
      <dt>Ended</dt><dd><${Time} value=${exec.endedAt} /></dd>
      <dt>Duration</dt><dd>${duration(exec.durationMs)}</dd>
      <dt>Events</dt><dd data-testid="version">${exec.version}</dd>
      ${exec.dedupeKey && html`<dt>Dedupe key</dt><dd>${exec.dedupeKey}</dd>`}
      ${exec.parent && html`<dt>Parent</dt><dd><a href=${`#/executions/${encodeURIComponent(exec.parent)}`}>${shortId(exec.parent)}</a></dd>`}
      ${exec.retryOf && html`<dt>Rerun of</dt><dd><a href=${`#/executions/${encodeURIComponent(exec.retryOf)}`}>${shortId(exec.retryOf)}</a></dd>`}
      ${exec.waitingFor && html`<dt>Waiting for</dt><dd>${exec.waitingFor}</dd>`}
    </dl>
    ${canAct && html`<div class="actions" role="toolbar" aria-label="execution actions">
      ${!ended && exec.status !== 'paused' && html`<button onClick=${() => act('pause')}>Pause</button>`}
      ${!ended && (exec.status === 'paused' || exec.status === 'waiting') && html`<button onClick=${() => act('resume')}>Resume</button>`}
      ${!ended && html`<button class="danger" onClick=${() => act('cancel')}>Cancel</button>`}
      <button onClick=${() => act('rerun')}>Rerun</button>
    </div>`}
    ${exec.error && html`<div class="error-box" role="alert"><strong>${exec.error.code}</strong> ${exec.error.message}${exec.failedStep ? ` (step ${exec.failedStep})` : ''}</div>`}

    <${TimeTravel} id=${id} version=${exec.version} onState=${setPast} />
    ${past && html`<p class="past-note" role="status">Showing the state as of event ${past.version}: status <${Status} value=${past.status} /></p>`}

    <h2>Step graph</h2>
    <${StepGraph} steps=${definitionSteps} state=${shown} events=${shownEvents} executionId=${id}
      onSelect=${(s) => { setFocus(s); document.getElementById(`step-${s}`)?.scrollIntoView({ block: 'nearest' }); }} />

    <h2>Timeline</h2>
    <${Timeline} events=${shownEvents} />

    <div class="two">
      <div><h2>Input</h2><${Json} value=${shown.input} label="execution input" /></div>
      <div><h2>Output</h2><${Json} value=${shown.output} label="execution output" /></div>
    </div>

    <h2>Steps</h2>
    <${StepDetails} steps=${shown.steps} definitionSteps=${definitionSteps} events=${shownEvents} focus=${focus} />

    <h2>Event history <span class="muted">(${events.length})</span></h2>
    <${EventHistory} events=${events} />
    ${confirm && html`<${Confirm} ...${confirm} onClose=${() => setConfirm(null)} />`}
  </section>`;
}

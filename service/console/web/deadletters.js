// Dead letters: the list (filters, counts by state, the API's page tokens, re-read every few
// seconds on the first page) and the bulk retry (a dry run first, then the pages one by one with
// a progress bar). One letter's page is deadletter.js.
import { useState, useEffect, useRef } from './lib/hooks.js';
import { get, post, query } from './api.js';
import { html, Time, Status } from './util.js';
import { Confirm } from './confirm.js';

const PAGE = 50;
export const DLQ_STATES = ['pending', 'retrying', 'resolved', 'discarded', 'archived'];
const KINDS = ['execution', 'trigger'];
const PREVIEW_PAGES = 10;  // a dry run plans every letter: count at most 10,000, then say "or more"

function toIso(local) { return local ? new Date(local).toISOString() : ''; }

export function DeadLettersPage({ params, canAct, notify }) {
  const [filters, setFilters] = useState({
    workflow: params.get('workflow') || '', errorCode: params.get('errorCode') || '',
    kind: params.get('kind') || '', state: params.has('state') ? params.get('state') : 'pending',
  });
  const [page, setPage] = useState({ items: null, next: null });
  const [tokens, setTokens] = useState(['']);  // page tokens of the pages seen (back button)
  const [stats, setStats] = useState(null);
  const [error, setError] = useState(null);
  const [updated, setUpdated] = useState(null);
  const generation = useRef(0);

  const load = async (token, quiet) => {
    const gen = ++generation.current;
    try {
      const [r, s] = await Promise.all([get(`dlq${query({ ...filters, limit: PAGE, pageToken: token })}`), get('dlq/stats')]);
      if (gen !== generation.current) return;
      setPage({ items: r.items, next: r.nextPageToken || null }); setStats(s); setError(null); setUpdated(new Date());
    } catch (e) { if (!quiet && gen === generation.current) setError(e); }
  };

  useEffect(() => { setTokens(['']); load(''); }, [filters]);
  useEffect(() => {
    if (tokens.length !== 1) return undefined;
    const t = setInterval(() => { if (!document.hidden) load('', true); }, 5000);
    return () => clearInterval(t);
  }, [tokens, filters]);

  const set = (k) => (e) => setFilters({ ...filters, [k]: e.target.value });
  const go = (token, back) => {
    const next = back ? tokens.slice(0, -1) : [...tokens, token];
    setTokens(next);
    load(next[next.length - 1]);
  };
  // The filters' choices are the letters' own values (stats: the 50 most frequent).
  const keys = (group, current) => {
    const k = (stats?.[group] || []).map((g) => g.key).filter(Boolean);
    return current && !k.includes(current) ? [current, ...k] : k;
  };

  return html`<section class="panel" aria-labelledby="dlq-title">
    <h1 id="dlq-title">Dead letters</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()} aria-label="filters">
      <label>Workflow<select name="workflow" value=${filters.workflow} onChange=${set('workflow')}>
        <option value="">all</option>${keys('byWorkflow', filters.workflow).map((w) => html`<option value=${w}>${w}</option>`)}</select></label>
      <label>Error code<select name="errorCode" value=${filters.errorCode} onChange=${set('errorCode')}>
        <option value="">all</option>${keys('byErrorCode', filters.errorCode).map((c) => html`<option value=${c}>${c}</option>`)}</select></label>
      <label>Kind<select name="kind" value=${filters.kind} onChange=${set('kind')}>
        <option value="">all</option>${KINDS.map((k) => html`<option value=${k}>${k}</option>`)}</select></label>
      <label>State<select name="state" value=${filters.state} onChange=${set('state')}>
        <option value="">all</option>${DLQ_STATES.map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
    </form>
    ${stats && html`<div class="counts" role="group" aria-label="dead letters by state (all workflows)">
      <button class=${`count ${filters.state === '' ? 'active' : ''}`} aria-pressed=${filters.state === ''}
        onClick=${() => setFilters({ ...filters, state: '' })}>all <b data-count="total">${stats.total}</b></button>
      ${DLQ_STATES.map((s) => html`<button class=${`count s-${s} ${filters.state === s ? 'active' : ''}`} aria-pressed=${filters.state === s}
        onClick=${() => setFilters({ ...filters, state: s })}>${s} <b data-count=${s}>${stats.byState?.[s] || 0}</b></button>`)}
      ${stats.oldestPending && html`<span class="muted small oldest">oldest pending: <a href=${`#/dlq/${stats.oldestPending.id}`}>#${stats.oldestPending.id}</a>, <${Time} value=${stats.oldestPending.createdAt} /></span>`}
    </div>`}
    ${error && html`<p class="error-text" role="alert">${error.message}</p>`}
    ${page.items === null ? html`<p class="loading" aria-busy="true">Loading…</p>` : html`
    <div class="table-wrap"><table class="list dlq-list">
      <caption class="sr-only">Dead letters, newest first</caption>
      <thead><tr><th scope="col">Id</th><th scope="col">State</th><th scope="col">Kind</th><th scope="col">Workflow</th>
        <th scope="col">Error code</th><th scope="col">Message</th><th scope="col">Failed step</th>
        <th scope="col">Attempts</th><th scope="col">Last failure</th></tr></thead>
      <tbody>
      ${page.items.map((d) => html`<tr data-id=${d.id}>
        <td><a href=${`#/dlq/${d.id}`} aria-label=${`dead letter ${d.id}`}>#${d.id}</a></td>
        <td><${Status} value=${d.state} /></td>
        <td>${d.kind}</td>
        <td>${d.workflow ? html`${d.workflow}${d.workflowVersion ? html`<span class="muted">@${d.workflowVersion}</span>` : ''}` : html`<span class="muted">—</span>`}</td>
        <td><code>${d.errorCode}</code></td>
        <td class="truncate" title=${d.errorMessage}>${d.errorMessage}</td>
        <td>${d.failedStep || ''}</td>
        <td>${d.attempts}</td>
        <td><${Time} value=${d.lastFailedAt} /></td>
      </tr>`)}
      ${!page.items.length && html`<tr><td colspan="9" class="muted">No dead letters match.</td></tr>`}
      </tbody></table></div>
    <nav class="pager" aria-label="pages">
      <button disabled=${tokens.length < 2} onClick=${() => go(null, true)}>← Newer</button>
      <span>page ${tokens.length}${tokens.length === 1 ? html` · <span class="live" title="re-read every 5 s">live</span>` : ''}</span>
      <button disabled=${!page.next} onClick=${() => go(page.next)}>Older →</button>
      ${updated && html`<span class="muted small">updated <${Time} value=${updated.toISOString()} /></span>`}
    </nav>`}
    ${canAct && html`<${BulkRetry} workflows=${keys('byWorkflow')} codes=${keys('byErrorCode')} initial=${filters}
      notify=${notify} onDone=${() => load(tokens[tokens.length - 1], true)} />`}
  </section>`;
}

// The bulk retry: POST /dlq/retry one page at a time (only pending letters are retried). The dry
// run reads every page to count what matches; the real run labels its retries with one batch and
// follows nextPageToken until the last page, or until Stop.
function BulkRetry({ workflows, codes, initial, notify, onDone }) {
  const [form, setForm] = useState({ workflow: initial.workflow, errorCode: initial.errorCode, since: '' });
  const [preview, setPreview] = useState(null);  // {filter, ids, matched, errors}
  const [run, setRun] = useState(null);  // {total, retried, errors, done, stopped, batch, messages}
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const stop = useRef(false);
  useEffect(() => () => { stop.current = true; }, []);  // leaving the page stops a run after its page

  const filter = () => {
    const f = {};
    if (form.workflow) f.workflow = form.workflow;
    if (form.errorCode) f.errorCode = form.errorCode;
    if (form.since) f.since = toIso(form.since);
    return f;
  };
  const set = (k) => (e) => { setForm({ ...form, [k]: e.target.value }); setPreview(null); setRun(null); };

  const dryRun = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null); setRun(null);
    try {
      const f = filter();
      const ids = [], errors = [];
      let token = '', pages = 0;
      do {
        const r = await post('dlq/retry', { ...f, dryRun: true, limit: 1000, pageToken: token || undefined });
        for (const x of r.retried) ids.push(x.deadLetterId);
        errors.push(...r.errors);
        token = r.nextPageToken || '';
      } while (token && ++pages < PREVIEW_PAGES);
      setPreview({ filter: f, ids, errors, matched: ids.length + errors.length, more: !!token });
    } catch (err) { setError(err); }
    setBusy(false);
  };

  const start = async (reason) => {
    const f = preview.filter;
    const batch = `console-${new Date().toISOString().replace(/[-:.]/g, '')}`;
    stop.current = false;
    let state = { total: preview.matched, more: preview.more, retried: 0, errors: 0, done: false, stopped: false, batch, messages: [] };
    setRun(state);
    let token = '';
    try {
      do {
        const r = await post('dlq/retry', { ...f, batch, reason: reason || 'bulk retry from the console', limit: 100, pageToken: token || undefined });
        state = { ...state, retried: state.retried + r.retried.length, errors: state.errors + r.errors.length,
          messages: state.messages.concat(r.errors.map((x) => `#${x.id}: ${x.code} ${x.message}`)).slice(0, 20) };
        setRun(state);
        token = r.nextPageToken || '';
      } while (token && !stop.current);
      state = { ...state, done: true, stopped: !!token };
    } catch (err) {
      state = { ...state, done: true, stopped: true, messages: [...state.messages, err.message] };
    }
    setRun(state);
    setPreview(null);
    notify(`Bulk retry ${batch}: ${state.retried} retried, ${state.errors} errors`);
    onDone();
  };

  const n = preview?.ids.length || 0;
  const pct = run ? Math.round(((run.retried + run.errors) / Math.max(1, run.total)) * 100) : 0;
  return html`<section class="bulk" aria-labelledby="bulk-title">
    <h2 id="bulk-title">Bulk retry</h2>
    <p class="muted small">Retries every pending letter the filter matches, each as a new execution with its own input, a page at a time.</p>
    <form class="filters" onSubmit=${dryRun} aria-label="bulk retry filter">
      <label>Workflow<select name="bulk-workflow" value=${form.workflow} onChange=${set('workflow')}>
        <option value="">any</option>${workflows.map((w) => html`<option value=${w}>${w}</option>`)}</select></label>
      <label>Error code<select name="bulk-errorCode" value=${form.errorCode} onChange=${set('errorCode')}>
        <option value="">any</option>${codes.map((c) => html`<option value=${c}>${c}</option>`)}</select></label>
      <label>Failed since<input type="datetime-local" name="bulk-since" value=${form.since} onInput=${set('since')} /></label>
      <div class="bulk-buttons">
        <button type="submit" disabled=${busy || (run && !run.done)} data-action="preview">Preview (dry run)</button>
        ${preview && n > 0 && !run && html`<button type="button" class="primary" data-action="bulk-retry" onClick=${() => setConfirm(true)}>Retry ${n}${preview.more ? '+' : ''} letter${n === 1 ? '' : 's'}</button>`}
        ${run && !run.done && html`<button type="button" onClick=${() => { stop.current = true; }}>Stop after this page</button>`}
      </div>
    </form>
    ${error && html`<p class="error-text" role="alert">${error.message}${error.hint ? ` (${error.hint})` : ''}</p>`}
    ${preview && html`<div class="preview" role="status" data-matched=${n}>
      <p><strong>${n}${preview.more ? ' or more' : ''}</strong> pending letter${n === 1 ? '' : 's'} would be retried${preview.errors.length ? html`; <strong>${preview.errors.length}</strong> would be refused` : ''}.</p>
      ${n > 0 && html`<p class="small">${preview.ids.slice(0, 40).map((id, i) => html`${i ? ', ' : ''}<a href=${`#/dlq/${id}`}>#${id}</a>`)}${n > 40 ? ` and ${n - 40} more` : ''}</p>`}
      ${preview.errors.length > 0 && html`<ul class="attempts">${preview.errors.slice(0, 10).map((x) => html`<li><a href=${`#/dlq/${x.id}`}>#${x.id}</a> <strong>${x.code}</strong> ${x.message}</li>`)}</ul>`}
    </div>`}
    ${run && html`<div class="progress" aria-live="polite" data-done=${run.done}>
      <progress max=${Math.max(run.total, run.retried + run.errors)} value=${run.retried + run.errors} aria-label="bulk retry progress">${pct}%</progress>
      <p>${run.done ? (run.stopped ? 'Stopped: ' : 'Done: ') : 'Retrying: '}<strong data-retried=${run.retried}>${run.retried}</strong> retried, <strong data-errors=${run.errors}>${run.errors}</strong> errors of ${run.total}${run.more ? '+' : ''} <span class="muted small">(batch ${run.batch})</span></p>
      ${run.messages.length > 0 && html`<ul class="attempts error-text">${run.messages.map((m) => html`<li>${m}</li>`)}</ul>`}
    </div>`}
    ${confirm && html`<${Confirm} verb="retry" title="Retry dead letters" label=${`Retry ${n}${preview?.more ? '+' : ''} letters`}
      text=${`Start ${n} new execution${n === 1 ? '' : 's'}, one per pending letter that matches? Letters that arrive meanwhile and match are retried too.`}
      run=${async ({ reason }) => { start(reason); }} onClose=${() => setConfirm(false)} />`}
  </section>`;
}

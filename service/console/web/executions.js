// The executions list: filters (workflow, status, time range, id or dedupe key), counts by status,
// server-side paging (the API's page tokens) and live updates (the first page re-reads itself
// every few seconds while the tab is visible).
import { useState, useEffect, useRef } from './lib/hooks.js';
import { get, query } from './api.js';
import { html, Time, Status, STATUSES, duration, shortId } from './util.js';

const PAGE = 50;

function toIso(local) { return local ? new Date(local).toISOString() : ''; }

export function ExecutionsPage({ params }) {
  const [filters, setFilters] = useState({
    workflow: params.get('workflow') || '', status: params.get('status') || '',
    since: params.get('since') || '', until: params.get('until') || '', search: params.get('q') || '',
  });
  const [text, setText] = useState(filters.search);  // the search box, committed on Enter / blur
  const [workflows, setWorkflows] = useState([]);
  const [page, setPage] = useState({ items: null, next: null });
  const [tokens, setTokens] = useState(['']);  // page tokens of the pages seen (back button)
  const [counts, setCounts] = useState(null);
  const [error, setError] = useState(null);
  const [updated, setUpdated] = useState(null);
  const generation = useRef(0);

  useEffect(() => { get('workflows?limit=500').then((w) => setWorkflows(w.items)).catch(() => {}); }, []);

  const load = async (token, quiet) => {
    const gen = ++generation.current;
    try {
      const range = { workflow: filters.workflow, since: toIso(filters.since), until: toIso(filters.until) };
      let items, next;
      const q = filters.search.trim();
      if (q) {
        // An execution id opens that execution's row; anything else is a dedupe key.
        const byKey = await get(`executions${query({ ...range, status: filters.status, dedupeKey: q })}`);
        items = byKey.items;
        if (!items.length) {
          try { items = [await get(`executions/${encodeURIComponent(q)}`)]; } catch { items = []; }
        }
      } else {
        const r = await get(`executions${query({ ...range, status: filters.status, limit: PAGE, pageToken: token })}`);
        items = r.items; next = r.nextPageToken || null;
      }
      const c = await get(`executions/counts${query(range)}`);
      if (gen !== generation.current) return;
      setPage({ items, next }); setCounts(c); setError(null); setUpdated(new Date());
    } catch (e) { if (!quiet && gen === generation.current) setError(e); }
  };

  useEffect(() => { setTokens(['']); load(''); }, [filters]);
  useEffect(() => {
    if (tokens.length !== 1) return undefined;
    const t = setInterval(() => { if (!document.hidden) load('', true); }, 3000);
    return () => clearInterval(t);
  }, [tokens, filters]);

  const set = (k) => (e) => setFilters({ ...filters, [k]: e.target.value });
  const go = (token, back) => {
    const next = back ? tokens.slice(0, -1) : [...tokens, token];
    setTokens(next);
    load(next[next.length - 1]);
  };

  return html`<section class="panel" aria-labelledby="list-title">
    <h1 id="list-title">Executions</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()} aria-label="filters">
      <label>Workflow<select name="workflow" value=${filters.workflow} onChange=${set('workflow')}>
        <option value="">all</option>${workflows.map((w) => html`<option value=${w.name}>${w.name}</option>`)}</select></label>
      <label>Status<select name="status" value=${filters.status} onChange=${set('status')}>
        <option value="">all</option>${STATUSES.map((s) => html`<option value=${s}>${s.replace('_', ' ')}</option>`)}</select></label>
      <label>Started after<input type="datetime-local" name="since" value=${filters.since} onInput=${set('since')} /></label>
      <label>Started before<input type="datetime-local" name="until" value=${filters.until} onInput=${set('until')} /></label>
      <label class="grow">Id or dedupe key<input type="search" name="q" placeholder="execution id or dedupe key (Enter)" value=${text}
        onInput=${(e) => setText(e.target.value)} onChange=${set('search')} /></label>
    </form>
    ${counts && html`<div class="counts" role="group" aria-label="counts by status">
      <button class=${`count ${filters.status === '' ? 'active' : ''}`} onClick=${() => setFilters({ ...filters, status: '' })}>
        all <b data-count="total">${counts.total}</b></button>
      ${STATUSES.map((s) => html`<button class=${`count s-${s} ${filters.status === s ? 'active' : ''}`} aria-pressed=${filters.status === s}
        onClick=${() => setFilters({ ...filters, status: filters.status === s ? '' : s })}>${s.replace('_', ' ')} <b data-count=${s}>${counts.counts[s] || 0}</b></button>`)}
    </div>`}
    ${error && html`<p class="error-text" role="alert">${error.message}</p>`}
    ${page.items === null ? html`<p class="loading" aria-busy="true">Loading…</p>` : html`
    <div class="table-wrap"><table class="list">
      <caption class="sr-only">Executions, newest first</caption>
      <thead><tr><th scope="col">Execution</th><th scope="col">Workflow</th><th scope="col">Status</th>
        <th scope="col">Current step</th><th scope="col">Started</th><th scope="col">Duration</th></tr></thead>
      <tbody>
      ${page.items.map((x) => html`<tr data-id=${x.id} class=${x.parent ? 'child' : ''}>
        <td><a href=${`#/executions/${encodeURIComponent(x.id)}`} title=${x.id}>${x.parent ? '↳ ' : ''}${shortId(x.id)}</a>
          ${x.dedupeKey && html`<div class="muted small" title="dedupe key">${x.dedupeKey}</div>`}</td>
        <td>${x.workflow}<span class="muted">@${x.workflowVersion}</span></td>
        <td><${Status} value=${x.status} /></td>
        <td>${x.currentStep?.step || ''}</td>
        <td><${Time} value=${x.startedAt} /></td>
        <td>${x.endedAt ? duration(Date.parse(x.endedAt) - Date.parse(x.startedAt)) : html`<span class="muted">running</span>`}</td>
      </tr>`)}
      ${!page.items.length && html`<tr><td colspan="6" class="muted">No executions match.</td></tr>`}
      </tbody></table></div>
    <nav class="pager" aria-label="pages">
      <button disabled=${tokens.length < 2} onClick=${() => go(null, true)}>← Newer</button>
      <span>page ${tokens.length}${tokens.length === 1 ? html` · <span class="live" title="re-read every 3 s">live</span>` : ''}</span>
      <button disabled=${!page.next} onClick=${() => go(page.next)}>Older →</button>
      ${updated && html`<span class="muted small">updated <${Time} value=${updated.toISOString()} /></span>`}
    </nav>`}
  </section>`;
}

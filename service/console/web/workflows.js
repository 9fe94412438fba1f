// Workflows: each workflow's versions, its definition (as YAML) and step graph, and a start form
// built from spec.input (JSON Schema), checked in the browser before it is sent; the server
// checks again and its problems are shown as they come.
import { useState, useEffect } from './lib/hooks.js';
import { get, post } from './api.js';
import { html, Time, toYaml } from './util.js';
import { StepGraph } from './graph.js';

export function WorkflowsPage({ name, canAct }) {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { get('workflows?limit=500').then((r) => setList(r.items)).catch(setError); }, []);
  return html`<div class="split">
    <nav class="panel side" aria-label="workflows">
      <h1>Workflows</h1>
      ${error && html`<p class="error-text" role="alert">${error.message}</p>`}
      ${list && html`<ul class="plain">${list.map((w) => html`<li>
        <a href=${`#/workflows/${encodeURIComponent(w.name)}`} aria-current=${w.name === name ? 'page' : undefined}>${w.name}</a>
        <span class="muted small"> v${w.latestVersion} · ${w.versions} version${w.versions === 1 ? '' : 's'}</span></li>`)}</ul>`}
    </nav>
    ${name ? html`<${Workflow} key=${name} name=${name} canAct=${canAct} />` : html`<section class="panel"><p class="muted">Pick a workflow.</p></section>`}
  </div>`;
}

function Workflow({ name, canAct }) {
  const [wf, setWf] = useState(null);
  const [version, setVersion] = useState(null);
  const [shown, setShown] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get(`workflows/${encodeURIComponent(name)}`).then((w) => { setWf(w); setShown(w); setVersion(w.version); }).catch(setError);
  }, [name]);
  const pick = async (v) => {
    setVersion(v);
    try { setShown(await get(`workflows/${encodeURIComponent(name)}/versions/${v}`)); } catch (e) { setError(e); }
  };
  if (error) return html`<section class="panel"><p class="error-text" role="alert">${error.message}</p></section>`;
  if (!wf || !shown) return html`<section class="panel"><p class="loading">Loading ${name}…</p></section>`;
  const spec = shown.definition.spec || {};
  return html`<section class="panel" aria-labelledby="wf-title">
    <h1 id="wf-title">${name}</h1>
    ${shown.description && html`<p>${shown.description}</p>`}
    <label class="inline">Version <select value=${version} onChange=${(e) => pick(Number(e.target.value))} aria-label="version">
      ${(wf.versions || []).map((v) => html`<option value=${v.version}>v${v.version} — ${new Date(v.createdAt).toLocaleString()}</option>`)}
    </select></label>
    <span class="muted small"> created <${Time} value=${shown.createdAt} /> · <a href=${`#/executions?workflow=${encodeURIComponent(name)}`}>its executions</a></span>
    <h2>Step graph</h2>
    <${StepGraph} steps=${spec.steps || []} />
    ${canAct && html`<h2>Start an execution</h2><${StartForm} name=${name} version=${version} schema=${spec.input || {}} />`}
    <h2>Definition</h2>
    <pre class="yaml" tabindex="0" aria-label="definition YAML">${toYaml(shown.definition)}</pre>
  </section>`;
}

// Problems of `value` against the subset of JSON Schema a form can show (type, required, enum,
// bounds, lengths, pattern); [] when it passes.
export function check(schema, value, path = '') {
  const out = [];
  if (!schema || typeof schema !== 'object') return out;
  const where = path || 'input';
  const t = schema.type;
  const typeOf = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);
  if (t) {
    const types = Array.isArray(t) ? t : [t];
    const actual = typeOf(value);
    const ok = types.some((x) => x === actual || (x === 'number' && actual === 'integer'));
    if (!ok) { out.push(`${where}: must be ${types.join(' or ')}`); return out; }
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) out.push(`${where}: must be one of ${schema.enum.join(', ')}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) out.push(`${where}: must be ≥ ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) out.push(`${where}: must be ≤ ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) out.push(`${where}: at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) out.push(`${where}: at most ${schema.maxLength} characters`);
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) out.push(`${where}: must match ${schema.pattern}`);
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const r of schema.required || []) if (!(r in value)) out.push(`${path}/${r}: required`);
    for (const [k, s] of Object.entries(schema.properties || {})) if (k in value) out.push(...check(s, value[k], `${path}/${k}`));
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => out.push(...check(schema.items, v, `${path}/${i}`)));
  if (Array.isArray(value) && schema.minItems !== undefined && value.length < schema.minItems) out.push(`${where}: at least ${schema.minItems} items`);
  return out;
}

function StartForm({ name, version, schema }) {
  const props = schema.properties || {};
  const simple = (s) => ['string', 'number', 'integer', 'boolean'].includes(s?.type) && !s.enum?.some((e) => typeof e === 'object');
  const [values, setValues] = useState({});
  const [raw, setRaw] = useState('');
  const [dedupe, setDedupe] = useState('');
  const [problems, setProblems] = useState([]);
  const [result, setResult] = useState(null);
  const fields = Object.entries(props);
  const required = new Set(schema.required || []);
  const freeForm = !fields.length;

  const build = () => {
    if (freeForm) return raw.trim() ? JSON.parse(raw) : {};
    const input = {};
    for (const [k, s] of fields) {
      const v = values[k];
      if (v === undefined || v === '') continue;
      if (!simple(s)) input[k] = JSON.parse(v);
      else if (s.type === 'number' || s.type === 'integer') input[k] = Number(v);
      else if (s.type === 'boolean') input[k] = v === true || v === 'true';
      else input[k] = v;
    }
    return input;
  };
  const submit = async (e) => {
    e.preventDefault();
    setResult(null);
    let input;
    try { input = build(); } catch (err) { setProblems([`not JSON: ${err.message}`]); return; }
    const found = check({ type: 'object', ...schema }, input);
    setProblems(found);
    if (found.length) return;
    try {
      const r = await post('executions', { workflow: name, version, input, ...(dedupe ? { dedupeKey: dedupe } : {}) });
      setResult(r);
    } catch (err) { setProblems([err.message, ...((err.details && err.details.problems) || []).map((p) => (typeof p === 'string' ? p : p.text || p.message))]); }
  };
  return html`<form class="start" onSubmit=${submit} aria-label=${`start ${name}`} novalidate>
    ${freeForm && html`<label>Input (JSON)<textarea name="input" rows="5" value=${raw} onInput=${(e) => setRaw(e.target.value)} placeholder="{}"></textarea></label>`}
    ${fields.map(([k, s]) => {
      const id = `in-${k}`;
      const label = html`<span class="field-name">${k}${required.has(k) ? html`<span aria-hidden="true"> *</span>` : ''} <span class="muted small">${s.type || 'JSON'}${simple(s) ? '' : ', as JSON'}${s.description ? ' — ' + s.description : ''}${required.has(k) ? ' (required)' : ''}</span></span>`;
      const on = (e) => setValues({ ...values, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
      if (s.enum && simple(s)) return html`<label for=${id}>${label}<select id=${id} name=${k} required=${required.has(k)} onChange=${on}>
        <option value=""></option>${s.enum.map((x) => html`<option value=${x}>${x}</option>`)}</select></label>`;
      if (s.type === 'boolean') return html`<label class="check" for=${id}><input id=${id} type="checkbox" name=${k} onChange=${on} />${label}</label>`;
      if (simple(s)) return html`<label for=${id}>${label}<input id=${id} name=${k} required=${required.has(k)} aria-required=${required.has(k)}
        type=${s.type === 'string' ? 'text' : 'number'} step=${s.type === 'integer' ? 1 : 'any'} onInput=${on} /></label>`;
      return html`<label for=${id}>${label}<textarea id=${id} name=${k} rows="3" aria-required=${required.has(k)} onInput=${on}></textarea></label>`;
    })}
    <label>Dedupe key (optional)<input name="dedupeKey" value=${dedupe} onInput=${(e) => setDedupe(e.target.value)} /></label>
    ${problems.length > 0 && html`<ul class="problems" role="alert">${problems.map((p) => html`<li>${p}</li>`)}</ul>`}
    <button class="primary" type="submit">Start ${name}@${version}</button>
    ${result && html`<p role="status">Started <a href=${`#/executions/${encodeURIComponent(result.id)}`}>${result.id}</a>${result.duplicate ? ' (already existed for that dedupe key)' : ''}</p>`}
  </form>`;
}

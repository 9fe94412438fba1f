// One dead letter: the failure (code, message, the failed step with its error and input), the
// input, the source record of a trigger letter, the retries, the audit trail and the failed
// execution's timeline; and the operator actions (retry: same input, edited input or a merge
// patch, from the failed step, onto another version; republish; discard; archive), each behind a
// confirmation and sent to the API, which decides (a reader's token gets no buttons at all).
import { useState, useEffect } from './lib/hooks.js';
import { get, post } from './api.js';
import { html, Time, Json, Status, shortId } from './util.js';
import { Timeline } from './execution.js';
import { Confirm } from './confirm.js';

const execLink = (id) => html`<a href=${`#/executions/${encodeURIComponent(id)}`} title=${id}>${shortId(id)}</a>`;

// A record's value is bytes as text: pretty when it is JSON, as it is otherwise.
function RecordValue({ value }) {
  let shown = value ?? '';
  try { shown = JSON.stringify(JSON.parse(value), null, 2); } catch { /* not JSON: the text itself */ }
  return html`<pre class="json" tabindex="0" aria-label="record value">${shown}</pre>`;
}

function SourceRecord({ record }) {
  return html`<h2>Source record</h2>
    <dl class="facts">
      <dt>Topic</dt><dd><code>${record.topic}</code></dd>
      <dt>Partition / offset</dt><dd><code data-testid="coordinates">${record.partition} / ${record.offset}</code></dd>
      <dt>Key</dt><dd>${record.key === null || record.key === undefined ? html`<span class="muted">none</span>` : html`<code>${record.key}</code>`}</dd>
      <dt>Timestamp</dt><dd>${record.timestamp !== undefined ? html`<${Time} value=${new Date(record.timestamp).toISOString()} />` : '—'}</dd>
      ${record.consumerGroup && html`<dt>Consumer group</dt><dd>${record.consumerGroup}</dd>`}
    </dl>
    ${record.headers?.length > 0 && html`<div class="table-wrap"><table class="list">
      <caption class="sr-only">Record headers</caption>
      <thead><tr><th scope="col">Header</th><th scope="col">Value</th></tr></thead>
      <tbody>${record.headers.map((h) => html`<tr><td><code>${h.name}</code></td><td>${h.value ?? html`<span class="muted">null</span>`}</td></tr>`)}</tbody>
    </table></div>`}
    <h4>Value</h4><${RecordValue} value=${record.value} />`;
}

function Retries({ retries }) {
  if (!retries.length) return html`<p class="muted">Not retried yet.</p>`;
  return html`<div class="table-wrap"><table class="list stack retries">
    <caption class="sr-only">Retries of this dead letter</caption>
    <thead><tr><th scope="col">#</th><th scope="col">Mode</th><th scope="col">Execution</th><th scope="col">Version</th>
      <th scope="col">Outcome</th><th scope="col">By</th><th scope="col">Requested</th><th scope="col">Ended</th></tr></thead>
    <tbody>${retries.map((r) => html`<tr data-retry=${r.retryNumber}>
      <td data-label="retry">${r.retryNumber}</td><td>${r.mode}</td>
      <td>${r.executionId ? execLink(r.executionId) : html`<span class="muted">republished</span>`}</td>
      <td data-label="version">${r.workflowVersion ?? '—'}</td><td><${Status} value=${r.outcome} /></td>
      <td data-label="by">${r.requestedBy}${r.batch ? html` <span class="muted small">(batch ${r.batch})</span>` : ''}</td>
      <td data-label="requested"><${Time} value=${r.requestedAt} /></td><td data-label="ended"><${Time} value=${r.endedAt} /></td>
    </tr>`)}</tbody>
  </table></div>`;
}

function Audit({ audit }) {
  return html`<div class="table-wrap"><table class="list stack audit">
    <caption class="sr-only">Audit trail, oldest first</caption>
    <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Why</th><th scope="col">Details</th></tr></thead>
    <tbody>${audit.map((a) => html`<tr data-type=${a.type}>
      <td><${Time} value=${a.time} /></td><td data-label="by">${a.actor}</td><td><strong>${a.type}</strong></td>
      <td data-label="why">${a.reason || html`<span class="muted">—</span>`}</td>
      <td class="small">${a.data?.execution && html`${execLink(a.data.execution)} `}
        ${a.data && Object.keys(a.data).length > 0 && html`<details><summary>data</summary><${Json} value=${a.data} label=${`data of ${a.type}`} /></details>`}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

export function DeadLetterPage({ id, canAct, notify }) {
  const [shown, setShown] = useState(null);  // GET /dlq/{id}
  const [error, setError] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [result, setResult] = useState(null);  // the last action's outcome, kept on the page

  const reload = () => get(`dlq/${encodeURIComponent(id)}`).then((r) => { setShown(r); setError(null); }).catch(setError);
  useEffect(() => { reload(); }, [id]);
  // A retry runs: re-read until it ends, so state and outcome follow it.
  useEffect(() => {
    if (shown?.deadLetter.state !== 'retrying') return undefined;
    const t = setInterval(() => { if (!document.hidden) reload(); }, 2000);
    return () => clearInterval(t);
  }, [shown?.deadLetter.state]);

  if (error && !shown) return html`<section class="panel"><h1>Dead letter ${id}</h1><p class="error-text" role="alert">${error.message}</p>
    ${error.hint && html`<p class="muted">${error.hint}</p>`}</section>`;
  if (!shown) return html`<p class="loading" aria-busy="true">Loading dead letter ${id}…</p>`;

  const d = shown.deadLetter;
  const step = shown.failedStep;
  const isExecution = d.kind === 'execution';
  const open = d.state === 'pending';
  // The retries this letter offers: the dialog's title, text and inputs, and the body they add.
  const noun = isExecution ? 'input' : 'value';
  let valueText = d.record?.value ?? '';
  try { valueText = JSON.stringify(JSON.parse(valueText), null, 2); } catch { /* not JSON: as it is */ }
  const offers = [
    { action: 'retry', button: 'Retry', body: {},
      text: isExecution ? `Start a new execution of ${d.workflow} with the same input?` : 'Decode and route the original record again, with today\'s definitions?' },
    { action: 'retry-input', button: `Retry with edited ${noun}`, body: {}, title: `with edited ${noun}`,
      text: isExecution ? 'Start a new execution with the input below (checked against the workflow\'s input schema).' : 'Route the record again with the value below instead of its original value.',
      withInput: { label: isExecution ? 'Input (JSON)' : 'Record value (JSON)', value: isExecution ? JSON.stringify(d.input ?? {}, null, 2) : valueText, required: true, patch: true, noun } },
    isExecution && { action: 'retry-step', button: 'Retry from the failed step', body: { fromFailedStep: true }, title: 'from the failed step',
      text: `Start a new execution that reuses the outputs of the steps that completed and goes on from ${d.failedStep || 'the failed step'}?` },
    { action: 'retry-version', button: 'Retry onto version…', label: 'Retry onto this version', body: {}, title: 'onto another version',
      text: `Start a new execution with the same input on another stored version of ${d.workflow || 'the workflow'}.`,
      fields: [{ name: 'version', label: 'Workflow version', type: 'number', min: 1, value: String(d.workflowVersion || 1) }] },
    d.kind === 'trigger' && d.record && { action: 'republish', verb: 'republish', button: 'Republish the record', body: { republish: true },
      text: `Put the original record back on ${d.record.topic} (same key, value, headers and partition)?` },
  ].filter(Boolean);
  const retry = (a) => setConfirm({
    verb: a.verb || 'retry', label: a.label || a.button, title: `${a.verb === 'republish' ? 'Republish' : 'Retry'} dead letter #${d.id}${a.title ? ' ' + a.title : ''}`,
    text: a.text, withInput: a.withInput, fields: a.fields,
    run: async ({ reason, input, patch, values }) => {
      const body = { ...a.body };
      if (reason) body.reason = reason;
      if (input !== undefined) body.input = input;
      if (patch !== undefined) body.patch = patch;
      if (values?.version) body.version = Number(values.version);
      const r = await post(`dlq/${encodeURIComponent(id)}/retry`, body);
      const text = r.alreadyRequested ? `A retry was already under way (retry ${r.retryNumber})`
        : r.executionId ? `${a.button.replace('…', '')}: retry ${r.retryNumber} started` : `Republish queued (retry ${r.retryNumber})`;
      setResult({ text, execution: r.executionId });
      notify(r.executionId ? `${text}: ${r.executionId}` : text);
      reload();
    },
  });
  const close = (verb, reason) => setConfirm({
    verb, reason, danger: verb === 'discard', title: `${verb === 'discard' ? 'Discard' : 'Archive'} dead letter #${d.id}`,
    text: verb === 'discard'
      ? 'Discard this dead letter? It leaves the queue as dropped on purpose; the reason goes into the audit trail.'
      : 'Archive this dead letter? It leaves the queue and is kept for the record.',
    run: async ({ reason: why }) => {
      const r = await post(`dlq/${encodeURIComponent(id)}/${verb}`, why ? { reason: why } : {});
      setResult({ text: `Dead letter #${r.id} is ${r.state}` });
      notify(`Dead letter #${r.id} ${r.state}`);
      reload();
    },
  });

  return html`<section class="panel deadletter" aria-labelledby="dl-title">
    <header class="exec-head">
      <h1 id="dl-title">Dead letter #${d.id}</h1>
      <${Status} value=${d.state} /><span class="muted">${d.kind}</span>
      <a class="small" href="#/dlq">all dead letters</a>
    </header>
    <div class="error-box" role="alert" data-testid="failure"><strong data-testid="error-code">${d.errorCode}</strong> <span data-testid="error-message">${d.errorMessage}</span>${d.failedStep ? ` (step ${d.failedStep})` : ''}</div>
    <dl class="facts">
      <dt>Workflow</dt><dd>${d.workflow ? html`<a href=${`#/workflows/${encodeURIComponent(d.workflow)}`}>${d.workflow}${d.workflowVersion ? `@${d.workflowVersion}` : ''}</a>` : '—'}</dd>
      ${(isExecution || d.executionId) && html`<dt>Execution</dt><dd>${d.executionId ? execLink(d.executionId) : '—'}</dd>`}
      <dt>Attempts</dt><dd>${d.attempts}</dd>
      <dt>Retries</dt><dd data-testid="retries">${d.retries}</dd>
      <dt>First failure</dt><dd><${Time} value=${d.firstFailedAt} /></dd>
      <dt>Last failure</dt><dd><${Time} value=${d.lastFailedAt} /></dd>
      ${d.retryExecutionId && html`<dt>Latest retry</dt><dd>${execLink(d.retryExecutionId)}</dd>`}
      ${d.resolution && html`<dt>Resolution</dt><dd>${d.resolution}</dd>`}
      ${d.traceId && html`<dt>Trace</dt><dd><code>${d.traceId}</code></dd>`}
      ${d.publishedAt && html`<dt>On flowd.dlq</dt><dd><${Time} value=${d.publishedAt} /></dd>`}
    </dl>
    ${canAct && html`<div class="actions" role="toolbar" aria-label="dead letter actions">
      ${open && offers.map((a) => html`<button data-action=${a.action} onClick=${() => retry(a)}>${a.button}</button>`)}
      ${(open || d.state === 'retrying') && html`<button class="danger" data-action="discard" onClick=${() => close('discard', 'required')}>Discard</button>`}
      ${d.state !== 'archived' && html`<button data-action="archive" onClick=${() => close('archive', 'optional')}>Archive</button>`}
    </div>`}
    ${d.state === 'retrying' && html`<p class="muted" role="status">A retry runs; this page follows it.</p>`}
    <div class="result" role="status" aria-live="polite">${result && html`<p data-testid="action-result">${result.text}${result.execution ? html`: ${execLink(result.execution)}` : ''}</p>`}</div>

    ${step && html`<h2>Failed step <code>${step.id}</code> <span class="muted small">${step.type || ''} · ${step.attempts} attempt${step.attempts === 1 ? '' : 's'} in the failed execution</span></h2>
      <div class="two">
        <div><h4>its error</h4><${Json} value=${step.error ?? d.lastError} label="error of the failed step" /></div>
        <div><h4>its input (with, as the definition writes it)</h4><${Json} value=${step.with} label="input of the failed step" /></div>
      </div>`}
    ${!step && d.lastError && html`<h2>Error</h2><${Json} value=${d.lastError} label="error" />`}
    ${d.input !== undefined && html`<h2>Input</h2><${Json} value=${d.input} label="input" />`}
    ${d.record && html`<${SourceRecord} record=${d.record} />`}

    <h2>Retries <span class="muted">(${shown.retries.length})</span></h2>
    <${Retries} retries=${shown.retries} />

    <h2>Audit trail</h2>
    <${Audit} audit=${shown.audit} />

    ${shown.timeline && html`<h2>Execution timeline</h2>
      <p class="small">The failed execution ${execLink(d.executionId)} — <a href=${`#/executions/${encodeURIComponent(d.executionId)}`}>open it</a> for its graph and events.</p>
      <${Timeline} events=${shown.timeline.map((t) => ({ ...t, data: { error: t.error } }))} />`}
    ${confirm && html`<${Confirm} ...${confirm} onClose=${() => setConfirm(null)} />`}
  </section>`;
}

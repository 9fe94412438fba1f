// The confirmation dialog of an operator action: says what will happen, takes a reason (and, for
// resume, the input a waiting step needs as JSON) and runs the action only when confirmed.
// Other pages pass their own subject, text and reason label (null: no reason field).
import { useState, useRef, useEffect } from './lib/hooks.js';
import { html } from './util.js';

const TEXT = {
  pause: 'Pause this execution? Running steps finish; nothing new starts until it is resumed.',
  resume: 'Resume this execution? A waiting step gets the input below.',
  cancel: 'Cancel this execution? It ends as cancelled and cannot be resumed.',
  rerun: 'Start a new execution with the same workflow version and input?',
};

export function Confirm({ verb, withInput, run, onClose, subject = 'execution', text,
  reasonLabel = verb === 'rerun' ? null : 'Reason (recorded with the command)' }) {
  const [reason, setReason] = useState('');
  const [input, setInput] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const ref = useRef(null);
  useEffect(() => { ref.current?.showModal?.(); }, []);
  const submit = async (e) => {
    e.preventDefault();
    let parsed;
    if (withInput && input.trim()) {
      try { parsed = JSON.parse(input); } catch (err) { setError(`The input is not JSON: ${err.message}`); return; }
    }
    setBusy(true);
    try { await run({ reason, input: parsed }); onClose(); } catch (err) { setError(err.message); setBusy(false); }
  };
  const Verb = verb[0].toUpperCase() + verb.slice(1);
  return html`<dialog ref=${ref} class="confirm" aria-labelledby="confirm-title" onCancel=${onClose}>
    <form onSubmit=${submit}>
      <h2 id="confirm-title">${Verb} ${subject}</h2>
      <p>${text || TEXT[verb]}</p>
      ${reasonLabel && html`<label>${reasonLabel}<input name="reason" value=${reason} onInput=${(e) => setReason(e.target.value)} /></label>`}
      ${withInput && html`<label>Input for the waiting step (JSON, optional)<textarea name="input" rows="4" value=${input} onInput=${(e) => setInput(e.target.value)}></textarea></label>`}
      ${error && html`<p class="error-text" role="alert">${error}</p>`}
      <div class="dialog-buttons">
        <button type="button" onClick=${onClose}>Keep it</button>
        <button type="submit" class=${verb === 'cancel' ? 'danger' : 'primary'} disabled=${busy} data-confirm=${verb}>${Verb}</button>
      </div>
    </form>
  </dialog>`;
}

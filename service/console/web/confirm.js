// The confirmation dialog of an operator action: says what will happen, takes a reason (and, when
// the action needs it, JSON input or a few plain fields) and runs the action only when confirmed.
// Execution actions pass only a verb; other pages pass their own title, text and fields.
import { useState, useRef, useEffect } from './lib/hooks.js';
import { html } from './util.js';

const TEXT = {
  pause: 'Pause this execution? Running steps finish; nothing new starts until it is resumed.',
  resume: 'Resume this execution? A waiting step gets the input below.',
  cancel: 'Cancel this execution? It ends as cancelled and cannot be resumed.',
  rerun: 'Start a new execution with the same workflow version and input?',
};

const capital = (s) => s[0].toUpperCase() + s.slice(1);

// withInput: true (the optional input of a waiting step) or {label, value, required, patch, noun}
// (patch: offer "a JSON merge patch of it" beside "the new <noun>", default "input").
// reason: 'optional', 'required' or 'none'; reasonLabel names that field instead of "Reason
// (recorded with the command)" (a schedule's pause takes a note); subject replaces "execution" in
// the default title. fields: [{name, label, type, value, min}], given to
// run as `values`. run({reason, input, patch, values}) throws to keep the dialog open with its
// message (and the API's hint).
export function Confirm({ verb, title, subject = 'execution', text, label, danger, reason: reasonMode, reasonLabel,
  withInput, fields = [], run, onClose }) {
  const mode = reasonMode || (reasonLabel === null || verb === 'rerun' ? 'none' : 'optional');
  const json = withInput === true ? { label: 'Input for the waiting step (JSON, optional)' } : withInput;
  const [reason, setReason] = useState('');
  const [input, setInput] = useState(json?.value ?? '');
  const [asPatch, setAsPatch] = useState(false);
  const [values, setValues] = useState(Object.fromEntries(fields.map((f) => [f.name, f.value ?? ''])));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const ref = useRef(null);
  useEffect(() => { ref.current?.showModal?.(); }, []);
  const submit = async (e) => {
    e.preventDefault();
    if (mode === 'required' && !reason.trim()) { setError('A reason is required.'); return; }
    let parsed;
    if (json && (input.trim() || json.required)) {
      try { parsed = JSON.parse(input); } catch (err) { setError(`The input is not JSON: ${err.message}`); return; }
      if (asPatch && (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))) {
        setError('A JSON merge patch is an object: {"field": "new value"}, null removes a field.');
        return;
      }
    }
    setBusy(true);
    try {
      await run({ reason: reason.trim(), input: asPatch ? undefined : parsed, patch: asPatch ? parsed : undefined, values });
      onClose();
    } catch (err) {
      setError(err.hint ? `${err.message} (${err.hint})` : err.message);
      setBusy(false);
    }
  };
  // A patch starts empty and the new input starts as the old one, unless the text was edited.
  const pick = (patch) => {
    setAsPatch(patch);
    if (patch && input === (json.value ?? '')) setInput('{}');
    if (!patch && input === '{}') setInput(json.value ?? '');
  };
  const button = label || capital(verb);
  return html`<dialog ref=${ref} class="confirm" aria-labelledby="confirm-title" onCancel=${onClose}>
    <form onSubmit=${submit}>
      <h2 id="confirm-title">${title || `${capital(verb)} ${subject}`}</h2>
      <p>${text || TEXT[verb]}</p>
      ${mode !== 'none' && html`<label>${reasonLabel || `Reason (recorded with the command${mode === 'required' ? ', required' : ''})`}<input name="reason"
        required=${mode === 'required'} value=${reason} onInput=${(e) => setReason(e.target.value)} /></label>`}
      ${json && json.patch && html`<fieldset class="choice"><legend>Send the JSON below as</legend>
        <label class="check"><input type="radio" name="as" value="input" checked=${!asPatch} onChange=${() => pick(false)} /> the new ${json.noun || 'input'}</label>
        <label class="check"><input type="radio" name="as" value="patch" checked=${asPatch} onChange=${() => pick(true)} /> a JSON merge patch of the ${json.noun || 'input'} (RFC 7386)</label>
      </fieldset>`}
      ${json && html`<label>${json.label}<textarea name="input" rows=${json.value ? 8 : 4} spellcheck="false" value=${input} onInput=${(e) => setInput(e.target.value)}></textarea></label>`}
      ${fields.map((f) => html`<label>${f.label}<input name=${f.name} type=${f.type || 'text'} min=${f.min} required
        value=${values[f.name]} onInput=${(e) => setValues({ ...values, [f.name]: e.target.value })} /></label>`)}
      ${error && html`<p class="error-text" role="alert">${error}</p>`}
      <div class="dialog-buttons">
        <button type="button" onClick=${onClose}>Keep it</button>
        <button type="submit" class=${(danger ?? verb === 'cancel') ? 'danger' : 'primary'} disabled=${busy} data-confirm=${verb}>${button}</button>
      </div>
    </form>
  </dialog>`;
}

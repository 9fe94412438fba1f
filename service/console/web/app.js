// The console's shell: the hash router (#/, #/executions, #/executions/<id>, #/workflows/<name>,
// #/dlq, #/dlq/<id>), the navigation, the token prompt, and what the token may do (GET
// /api/v1/whoami: canAct false hides every action button; a 403 on an action hides them too).
import { render } from './lib/preact.js';
import { useState, useEffect, useCallback } from './lib/hooks.js';
import { get, auth } from './api.js';
import { html } from './util.js';
import { OverviewPage } from './overview.js';
import { ExecutionsPage } from './executions.js';
import { ExecutionPage } from './execution.js';
import { WorkflowsPage } from './workflows.js';
import { DeadLettersPage } from './deadletters.js';
import { DeadLetterPage } from './deadletter.js';
import { SchedulesPage, SchedulePage } from './schedules.js';

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, q] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(q || '') };
}

function TokenPrompt({ onDone, failed }) {
  const [value, setValue] = useState('');
  return html`<section class="panel token" aria-labelledby="token-title">
    <h1 id="token-title">Sign in to flowd</h1>
    <p>This flowd asks for an API token (http.token). It is kept in this browser tab only.</p>
    ${failed && html`<p class="error-text" role="alert">That token was not accepted.</p>`}
    <form onSubmit=${(e) => { e.preventDefault(); auth.token = value.trim(); onDone(); }}>
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" value=${value} onInput=${(e) => setValue(e.target.value)} autofocus />
      <button class="primary" type="submit">Continue</button>
    </form>
  </section>`;
}

function App() {
  const [route, setRoute] = useState(parseHash());
  const [who, setWho] = useState(undefined);  // undefined: checking; null: needs a token
  const [failed, setFailed] = useState(false);
  const [toast, setToast] = useState(null);
  const [menu, setMenu] = useState(false);

  const check = useCallback(async () => {
    try { setWho(await get('whoami')); setFailed(false); } catch (e) {
      if (e.status === 401) { setFailed(!!auth.token); setWho(null); } else setWho({ role: 'unknown', canAct: false, error: e.message });
    }
  }, []);
  useEffect(() => {
    const onHash = () => { setRoute(parseHash()); setMenu(false); };
    window.addEventListener('hashchange', onHash);
    onHash();  // a hash set between the first render and this effect fired no event we heard
    const onAuth = () => setWho(null);
    auth.listeners.add(onAuth);
    const onForbidden = () => setWho((w) => (w ? { ...w, canAct: false } : w));
    auth.forbiddenListeners.add(onForbidden);
    check();
    return () => { window.removeEventListener('hashchange', onHash); auth.listeners.delete(onAuth); auth.forbiddenListeners.delete(onForbidden); };
  }, []);
  useEffect(() => { if (toast) { const t = setTimeout(() => setToast(null), 5000); return () => clearTimeout(t); } return undefined; }, [toast]);

  const notify = (text) => setToast(text);
  const { parts, params } = route;
  const canAct = !!who?.canAct;
  let page;
  if (who === undefined) page = html`<p class="loading" aria-busy="true">Connecting…</p>`;
  else if (who === null) page = html`<${TokenPrompt} failed=${failed} onDone=${check} />`;
  else if (parts[0] === 'executions' && parts[1]) page = html`<${ExecutionPage} key=${parts[1]} id=${parts[1]} canAct=${canAct} notify=${notify} />`;
  else if (parts[0] === 'executions') page = html`<${ExecutionsPage} key=${params.toString()} params=${params} />`;
  else if (parts[0] === 'dlq' && parts[1]) page = html`<${DeadLetterPage} key=${parts[1]} id=${parts[1]} canAct=${canAct} notify=${notify} />`;
  else if (parts[0] === 'dlq') page = html`<${DeadLettersPage} key=${params.toString()} params=${params} canAct=${canAct} notify=${notify} />`;
  else if (parts[0] === 'workflows') page = html`<${WorkflowsPage} name=${parts[1]} canAct=${canAct} />`;
  else if (parts[0] === 'schedules' && parts[1]) page = html`<${SchedulePage} key=${parts[1]} name=${parts[1]} canAct=${canAct} notify=${notify} />`;
  else if (parts[0] === 'schedules') page = html`<${SchedulesPage} />`;
  else page = html`<${OverviewPage} />`;
  const nav = (href, label, active) => html`<a href=${href} aria-current=${active ? 'page' : undefined}>${label}</a>`;
  const section = parts[0] || '';
  return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/">flowd</a>
      <button class="menu" aria-expanded=${menu} aria-controls="nav" onClick=${() => setMenu(!menu)}>Menu</button>
      <nav id="nav" class=${menu ? 'open' : ''} aria-label="main">
        ${nav('#/', 'Overview', section === '')}
        ${nav('#/executions', 'Executions', section === 'executions')}
        ${nav('#/workflows', 'Workflows', section === 'workflows')}
        ${nav('#/dlq', 'Dead letters', section === 'dlq')}
        ${nav('#/schedules', 'Schedules', section === 'schedules')}
      </nav>
      <span class="who" data-role=${who?.role || ''}>${who ? `${who.name ? who.name + ' · ' : ''}${who.role}${canAct ? '' : ' (read only)'}` : ''}
        ${auth.token && html` <button class="link" onClick=${() => { auth.token = ''; setWho(null); }}>Sign out</button>`}</span>
    </header>
    <main id="main" tabindex="-1">${page}</main>
    <div class="toast" role="status" aria-live="polite">${toast}</div>`;
}

const root = document.getElementById('app');
root.textContent = '';  // the boot message
render(html`<${App} />`, root);

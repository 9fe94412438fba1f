// The console's only backend: flowd's HTTP API (/api/v1) with the bearer token the user gave.
// The token lives in sessionStorage (this tab only) and goes in the Authorization header; event
// streams are read with fetch() too, because EventSource cannot send headers.

const TOKEN_KEY = 'flowd.token';

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || String(status);
    this.hint = e.hint || '';
    this.details = e.details;
  }
}

export const auth = {
  get token() { return sessionStorage.getItem(TOKEN_KEY) || ''; },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  listeners: new Set(),
  forbiddenListeners: new Set(),
  // Called when the API answers 401: the page shows the token prompt.
  unauthorized() { for (const f of this.listeners) f(); },
  // Called when an action answers 403: the token may read but not act; the actions disappear.
  forbidden() { for (const f of this.forbiddenListeners) f(); },
};

function headers(extra = {}) {
  const h = { Accept: 'application/json', ...extra };
  if (auth.token) h.Authorization = `Bearer ${auth.token}`;
  return h;
}

export async function request(method, path, body, { signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path.startsWith('/') ? path : `/api/v1/${path}`, init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = { text }; }
  if (res.status === 401) auth.unauthorized();
  if (res.status === 403 && method !== 'GET') auth.forbidden();
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body ?? {}, opts);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Prometheus text -> [{name, labels, value}].
export async function metrics() {
  const res = await fetch('/metrics', { headers: headers({ Accept: 'text/plain' }) });
  if (res.status === 401) auth.unauthorized();
  if (!res.ok) throw new ApiError(res.status, null);
  const out = [];
  for (const line of (await res.text()).split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const l of m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

// Follows GET /executions/{id}/events/stream from `after`: onEvent(event) per stored and live
// event in version order, onEnd(status) at the terminal event. Reconnects (after the last version
// seen) when the connection drops while the execution runs. Returns a function that stops it.
export function follow(id, after, { onEvent, onEnd, onError }) {
  const controller = new AbortController();
  let last = after;
  let stopped = false;
  (async () => {
    while (!stopped) {
      try {
        const res = await fetch(`/api/v1/executions/${encodeURIComponent(id)}/events/stream?after=${last}`,
          { headers: headers({ Accept: 'text/event-stream' }), signal: controller.signal });
        if (res.status === 401) auth.unauthorized();
        if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let type = 'message';
            const data = [];
            for (const line of frame.split('\n')) {
              if (line.startsWith('event:')) type = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (!data.length) continue;
            const payload = JSON.parse(data.join('\n'));
            if (type === 'end') {
              stopped = true;
              onEnd && onEnd(payload.status);
            } else {
              last = Math.max(last, payload.version || last);
              onEvent(payload);
            }
          }
        }
      } catch (e) {
        if (stopped || controller.signal.aborted) return;
        onError && onError(e);
        if (e instanceof ApiError && e.status < 500) return;
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return () => { stopped = true; controller.abort(); };
}

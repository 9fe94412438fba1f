// The web console in a real browser against a real flowd: Debian's chromium headless driven
// through the DevTools protocol (puppeteer-core), flowd with PostgreSQL and its embedded Kafka
// broker, a bearer token. Every wait is on a condition (a selector, a page state, an API answer),
// never a fixed sleep. Screenshots of each page go to --screenshots (the build folder);
// scripts/console-screenshots copies them to docs/console/.
//
//   node console_test.mjs --bin build/bin --root . --screenshots build/tests/console/screenshots
//
// Environment: FLOWD_TEST_DATABASE_URL (a server where it may create a database; else it starts
// one with scripts/pg, instance "test"), FLOWD_CHROMIUM (default /usr/bin/chromium).
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const root = path.resolve(args.root || '.');
const bin = path.resolve(args.bin || path.join(root, 'build/bin'));
const shots = path.resolve(args.screenshots || path.join(root, 'build/console-screenshots'));
const chromium = process.env.FLOWD_CHROMIUM || '/usr/bin/chromium';
const TOKEN = 'console-test-token';
// A second, real token with the role reader: whoami answers canAct false and the server refuses
// its actions (FLOWD_HTTP_TOKENS holds names, roles and SHA-256 digests, never the tokens).
const READER_TOKEN = 'console-reader-token';
const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

let passed = 0, failed = 0;
const figures = [];
function ok(name) { passed++; console.log(`ok: ${name}`); }
function fail(name, why) { failed++; console.log(`FAIL: ${name}: ${why}`); }
async function check(name, fn) {
  try { await fn(); ok(name); } catch (e) { fail(name, e && e.stack ? e.stack.split('\n').slice(0, 4).join(' | ') : e); }
}
function assert(cond, message) { if (!cond) throw new Error(message); }
// JSON with sorted keys (the store keeps jsonb, whose key order is its own).
const canonical = (v) => JSON.stringify(v, (k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
function eq(a, b, what) { if (canonical(a) !== canonical(b)) throw new Error(`${what}: ${canonical(a)} != ${canonical(b)}`); }

async function until(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
    await new Promise((r) => setTimeout(r, 50));  // polling interval of a condition, not a wait for time
  }
}

// --- preconditions ------------------------------------------------------------------------------
const modules = path.join(root, 'service/console/node_modules');
if (!fs.existsSync(path.join(modules, 'puppeteer-core')) || !fs.existsSync(chromium)) {
  console.log(`FAIL: setup: puppeteer-core (${modules}) or ${chromium} missing: run scripts/install-deps`);
  process.exit(1);
}
const require = createRequire(path.join(root, 'service/console/package.json'));
const puppeteer = require('puppeteer-core');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flowd-console-'));
fs.mkdirSync(shots, { recursive: true });
const cleanups = [];
async function cleanup() { for (const f of cleanups.reverse()) { try { await f(); } catch { /* best effort */ } } }
process.on('SIGTERM', () => cleanup().then(() => process.exit(1)));

// --- PostgreSQL: a fresh database --------------------------------------------------------------
let serverUrl = process.env.FLOWD_TEST_DATABASE_URL;
if (!serverUrl) {
  serverUrl = execFileSync(path.join(root, 'scripts/pg'), ['start'], { env: { ...process.env, FLOWD_PG_INSTANCE: 'test' } }).toString().trim();
}
const dbName = `flowd_console_${process.pid}_${Date.now() % 100000}`;
const psql = (url, sql) => execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql]).toString();
psql(serverUrl, `CREATE DATABASE ${dbName}`);
const dbUrl = serverUrl.replace(/\/[^/?]*(\?|$)/, `/${dbName}$1`);
cleanups.push(() => psql(serverUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));

// --- flowd ---------------------------------------------------------------------------------------
const logPath = path.join(tmp, 'flowd.log');
const log = fs.openSync(logPath, 'w');
const flowd = spawn(path.join(bin, 'flowd'), [], {
  env: {
    ...process.env,
    FLOWD_DATABASE_URL: dbUrl, FLOWD_HTTP_LISTEN: '127.0.0.1:0',
    FLOWD_HTTP_TOKENS: `console-test:operator:${sha256(TOKEN)},console-reader:reader:${sha256(READER_TOKEN)}`,
    FLOWD_KAFKA_BOOTSTRAP_FILE: path.join(tmp, 'broker'), FLOWD_ENGINE_INSTANCE_ID: 'console-test',
    FLOWD_WORKFLOWS_DIRS: path.join(root, 'tests/console/workflows'), FLOWD_LOG_FORMAT: 'json',
  },
  stdio: ['ignore', log, log],
});
cleanups.push(() => new Promise((r) => { if (flowd.exitCode !== null) return r(); flowd.once('exit', r); flowd.kill('SIGTERM'); }));
let base;
try {
  base = await until('flowd to serve', () => {
    if (flowd.exitCode !== null) throw new Error(`flowd exited ${flowd.exitCode}: ${fs.readFileSync(logPath, 'utf8').slice(-2000)}`);
    const text = fs.readFileSync(logPath, 'utf8');
    const listening = text.split('\n').find((l) => l.includes('HTTP API listening'));
    return text.includes('flowd running') && listening && JSON.parse(listening).url.replace(/\/api\/v1$/, '');
  }, 60000);
} catch (e) {
  console.log(`FAIL: flowd start: ${e.message}\n${fs.readFileSync(logPath, 'utf8').slice(-3000)}`);
  await cleanup();
  process.exit(1);
}

async function api(method, p, body) {
  const res = await fetch(`${base}/api/v1/${p}`, {
    method, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
const start = (workflow, input, extra = {}) => api('POST', 'executions', { workflow, input, ...extra });
const statusOf = async (id) => (await api('GET', `executions/${encodeURIComponent(id)}`)).status;
const ended = (s) => ['completed', 'failed', 'cancelled', 'timed_out'].includes(s);

// --- the browser ----------------------------------------------------------------------------------
const browser = await puppeteer.launch({
  executablePath: chromium,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${path.join(tmp, 'chromium')}`],
});
cleanups.push(() => browser.close());
const page = await browser.newPage();
await page.setViewport({ width: 1280, height: 900 });
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text()); });
// Failed requests by URL: an unexpected 404 or 500 is an error of the page.
page.on('response', (r) => {
  const expected = r.status() === 401 || (r.status() === 403 && forbidding) || (refusing && /\/api\/v1\/dlq\//.test(r.url())) || (r.status() === 404 && /\/api\/v1\/executions\/[^/]+$/.test(r.url()) && searching);
  if (r.status() >= 400 && !expected) consoleErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
});
let searching = false, forbidding = false, refusing = false;
const shot = async (name, fullPage = true) => {
  // The sticky header stays on top; a toast left by an earlier check would cover the page.
  const toast = (v) => page.evaluate((x) => { const t = document.querySelector('.toast'); if (t) t.style.visibility = x; }, v);
  await page.evaluate(() => window.scrollTo(0, 0));
  await toast('hidden');
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage });
  await toast('');
};
const open = async (hash) => { await page.evaluate((h) => { location.hash = h; }, hash); };

try {
  // Executions the pages show.
  const card = await start('console-demo', { orderId: 'A-1', method: 'card', items: [{ sku: 'tea' }, { sku: 'cup' }, { sku: 'pot' }] }, { dedupeKey: 'order-A-1' });
  const invoice = await start('console-demo', { orderId: 'B-2', method: 'invoice', items: [{ sku: 'mug' }] });
  const hold = await start('console-slow', { duration: '10m' });
  // Two executions that fail for good: each becomes a dead letter (the projector, within ~100 ms).
  const fails = [await start('console-fail', { orderId: 'F-1' }), await start('console-fail', { orderId: 'F-2' })];
  for (const id of [card.id, invoice.id]) await until(`${id} to end`, async () => ended(await statusOf(id)));

  await check('the page asks for the token and accepts it', async () => {
    await page.goto(`${base}/`, { waitUntil: 'load' });
    await page.waitForSelector('#token', { timeout: 15000 });
    await page.type('#token', TOKEN);
    await page.click('.token button[type=submit]');
    await page.waitForSelector('.cards .card', { timeout: 15000 });
  });

  await check('overview shows in-flight executions from /metrics', async () => {
    // The held execution is claimed by the runner a moment after its start is answered, so a
    // first sample may read 0; the overview samples every 5 s and must show it within a few.
    const inFlight = await page.waitForFunction(() => {
      const n = Number(document.querySelector('[data-metric="In flight"]')?.textContent);
      return n >= 1 ? n : false;
    }, { timeout: 30000 }).then((h) => h.jsonValue()).catch(async () =>
      page.$eval('[data-metric="In flight"]', (e) => e.textContent));
    assert(Number(inFlight) >= 1, `in flight ${inFlight}, the held execution runs`);
    // Two samples give the per-minute rates.
    await page.waitForFunction(() => document.querySelector('[data-metric="Started / min"]').textContent.trim() !== '…', { timeout: 20000 });
    await shot('overview');
  });

  await check('executions list shows every execution with counts by status', async () => {
    await open('#/executions');
    await page.waitForSelector('table.list tbody tr[data-id]', { timeout: 15000 });
    const ids = await page.$$eval('table.list tbody tr[data-id]', (rows) => rows.map((r) => r.dataset.id));
    const all = (await api('GET', 'executions?limit=500')).items.map((x) => x.id);
    eq([...ids].sort(), [...all].sort(), 'ids in the table');
    for (const id of [card.id, invoice.id, hold.id]) assert(ids.includes(id), `${id} listed`);
    assert(ids.some((id) => id.startsWith(`${invoice.id}.route`)), 'the sub-workflow child is listed');
    const counts = await api('GET', 'executions/counts');
    await page.waitForFunction((n) => document.querySelector('[data-count=total]')?.textContent === String(n), { timeout: 10000 }, counts.total);
    const running = await page.$eval('[data-count=running]', (e) => Number(e.textContent));
    eq(running, counts.counts.running, 'running count');
    await shot('executions');
  });

  await check('executions list filters by workflow and by dedupe key', async () => {
    await page.select('select[name=workflow]', 'console-slow');
    await page.waitForFunction((id) => {
      const rows = [...document.querySelectorAll('table.list tbody tr[data-id]')];
      return rows.length === 1 && rows[0].dataset.id === id;
    }, { timeout: 10000 }, hold.id);
    await page.select('select[name=workflow]', '');
    await page.type('input[name=q]', 'order-A-1');
    await page.keyboard.press('Enter');
    await page.$eval('input[name=q]', (e) => e.dispatchEvent(new Event('change', { bubbles: true })));
    await page.waitForFunction((id) => {
      const rows = [...document.querySelectorAll('table.list tbody tr[data-id]')];
      return rows.length === 1 && rows[0].dataset.id === id;
    }, { timeout: 10000 }, card.id);
  });

  await check('an execution page shows graph, timeline, steps and events', async () => {
    await open(`#/executions/${encodeURIComponent(card.id)}`);
    await page.waitForSelector('.graph .node[data-step=notify]', { timeout: 15000 });
    const exec = await api('GET', `executions/${card.id}`);
    const classes = await page.$$eval('.graph .node', (ns) => Object.fromEntries(ns.map((n) => [n.dataset.step, n.getAttribute('class')])));
    for (const step of ['fetch', 'route', 'reserve', 'notify']) {
      const want = exec.steps[step]?.status || 'not_started';
      assert(classes[step].includes(`s-${want}`), `node ${step} is ${classes[step]}, API says ${want}`);
    }
    await page.waitForFunction(() => document.querySelectorAll('.graph .node[data-step=reserve] .dot').length === 3, { timeout: 10000 });
    // The case taken is read from the events, which arrive after the state (the dots).
    await page.waitForFunction(() => document.querySelector('.graph .node[data-step=route] .node-sub')?.textContent.includes('→'), { timeout: 10000 }).catch(() => {});
    const sub = await page.$eval('.graph .node[data-step=route] .node-sub', (e) => e.textContent);
    assert(sub.includes('→ card'), `switch shows its case: ${sub}`);
    await page.waitForFunction((n) => document.querySelector('.events .vlist')?.dataset.rows === String(n), { timeout: 10000 }, exec.version);
    const waits = await page.$$eval('.tl-span.k-wait', (s) => s.length);
    assert(waits >= 1, 'the retry backoff is on the timeline');
    const inline = await page.$eval('#step-fetch', (e) => e.textContent);
    assert(inline.includes('first call fails') || inline.includes('output'), 'the step error/output is inline');
    await shot('execution');
  });

  await check('the sub-workflow child is one click away', async () => {
    await open(`#/executions/${encodeURIComponent(invoice.id)}`);
    await page.waitForSelector('.graph .node[data-step=route] a', { timeout: 15000 });
    await page.click('.graph .node[data-step=route] a');
    await page.waitForFunction((id) => document.querySelector('.exec-id')?.textContent.startsWith(`${id}.route`), { timeout: 10000 }, invoice.id);
    await page.waitForSelector('.graph .node[data-step=invoice].s-succeeded', { timeout: 10000 });
  });

  await check('the time-travel slider shows the state as of event N', async () => {
    await open(`#/executions/${encodeURIComponent(card.id)}`);
    await page.waitForSelector('#travel', { timeout: 15000 });
    const events = (await api('GET', `executions/${card.id}/events?limit=1000`)).items;
    // The event at which fetch's retry was scheduled: fetch is not done, the rest not started.
    const n = events.find((e) => e.type === 'StepRetryScheduled').version;
    const want = (await api('POST', `executions/${card.id}/replay`, { upto: n })).state;
    await page.$eval('#travel', (el, v) => {
      el.value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }, n);
    await page.waitForFunction((v, s) => document.querySelector('.travel-info')?.textContent.startsWith(`#${v} `)
      && document.querySelector('.travel-info').dataset.status === s, { timeout: 10000 }, n, want.status);
    await page.waitForSelector('.past-note', { timeout: 5000 });
    const classes = await page.$$eval('.graph .node', (ns) => Object.fromEntries(ns.map((x) => [x.dataset.step, x.getAttribute('class')])));
    for (const step of ['fetch', 'route', 'reserve', 'notify']) {
      const s = want.steps[step]?.status || 'not_started';
      assert(classes[step].includes(`s-${s}`), `as of ${n}: node ${step} is ${classes[step]}, replay says ${s}`);
    }
    assert(!classes.notify.includes('s-succeeded'), 'notify has not run at that event');
    await shot('time-travel', false);
  });

  await check('a running execution page updates live', async () => {
    const slow = await start('console-slow', { duration: '2s' });
    await open(`#/executions/${encodeURIComponent(slow.id)}`);
    await page.waitForSelector('.exec-head .live', { timeout: 15000 });
    const before = await page.$eval('[data-testid=version]', (e) => Number(e.textContent));
    await page.waitForFunction(() => document.querySelector('.exec-head .status')?.textContent === 'completed', { timeout: 30000 });
    const after = await page.$eval('[data-testid=version]', (e) => Number(e.textContent));
    const final = await api('GET', `executions/${slow.id}`);
    eq(final.status, 'completed', 'API status');
    assert(after === final.version && after > before, `events ${before} -> ${after}, API ${final.version}`);
    await page.waitForFunction((n) => document.querySelector('.events .vlist')?.dataset.rows === String(n), { timeout: 10000 }, final.version);
  });

  await check('cancel with confirmation takes effect (checked through the API)', async () => {
    await open(`#/executions/${encodeURIComponent(hold.id)}`);
    await page.waitForSelector('.actions button.danger', { timeout: 15000 });
    await shot('execution-running', false);
    await page.click('.actions button.danger');
    await page.waitForSelector('dialog.confirm[open] input[name=reason]', { timeout: 5000 });
    await page.type('dialog.confirm input[name=reason]', 'console test');
    await shot('confirm', false);
    await page.click('dialog.confirm button[data-confirm=cancel]');
    await until('the execution to be cancelled', async () => (await statusOf(hold.id)) === 'cancelled', 30000);
    const events = (await api('GET', `executions/${hold.id}/events?limit=1000`)).items;
    const cancelled = events.find((e) => e.type === 'ExecutionCancelled');
    assert(cancelled, 'ExecutionCancelled recorded');
    await page.waitForFunction(() => document.querySelector('.exec-head .status')?.textContent === 'cancelled', { timeout: 15000 });
    assert(!(await page.$('.actions button.danger')), 'no cancel button once it ended');
  });

  await check('workflows page: versions, YAML, graph; the start form validates before sending', async () => {
    await open('#/workflows/console-demo');
    await page.waitForSelector('form.start', { timeout: 15000 });
    const yaml = await page.$eval('pre.yaml', (e) => e.textContent);
    assert(yaml.includes('name: console-demo') && yaml.includes('- id: fetch'), `definition YAML shown: ${yaml.slice(0, 300)}`);
    const before = (await api('GET', 'executions/counts')).total;
    await page.click('form.start button[type=submit]');
    await page.waitForSelector('form.start .problems', { timeout: 5000 });
    const problems = await page.$eval('form.start .problems', (e) => e.textContent);
    assert(problems.includes('/orderId: required'), `problems: ${problems}`);
    eq((await api('GET', 'executions/counts')).total, before, 'nothing was sent');
    await page.type('#in-orderId', 'C-3');
    await page.select('#in-method', 'card');
    await page.type('#in-items', '[{"sku":"jar"}]');
    await page.click('form.start button[type=submit]');
    await page.waitForSelector('form.start [role=status] a', { timeout: 10000 });
    const started = await page.$eval('form.start [role=status] a', (e) => e.textContent);
    const x = await api('GET', `executions/${started}`);
    eq(x.input, { orderId: 'C-3', method: 'card', items: [{ sku: 'jar' }] }, 'input sent');
    await shot('workflow');
  });

  // --- dead letters ----------------------------------------------------------------------------
  const letters = await until('the failed executions to be dead letters', async () => {
    const items = (await api('GET', 'dlq?workflow=console-fail&state=pending')).items;
    return items.length === fails.length && items;
  });
  const letterOf = (x) => letters.find((d) => d.executionId === x.id);
  const first = letterOf(fails[0]), second = letterOf(fails[1]);

  await check('dead letters list shows the letters with counts by state; filters by state, kind and error code', async () => {
    await open('#/dlq');
    await page.waitForSelector(`table.dlq-list tbody tr[data-id="${first.id}"]`, { timeout: 15000 });
    const ids = await page.$$eval('table.dlq-list tbody tr[data-id]', (rows) => rows.map((r) => Number(r.dataset.id)));
    const pending = (await api('GET', 'dlq?state=pending&limit=500')).items.map((d) => d.id);
    eq(ids, pending, 'ids in the table (pending, newest first)');
    const row = await page.$eval(`tr[data-id="${first.id}"]`, (r) => r.textContent);
    assert(row.includes('EXTERNAL') && row.includes('console-fail@1') && row.includes('charge'), `row: ${row}`);
    const stats = await api('GET', 'dlq/stats');
    await page.waitForFunction((n) => document.querySelector('[data-count=pending]')?.textContent === String(n), { timeout: 10000 }, stats.byState.pending);
    await page.select('select[name=state]', 'resolved');
    await page.waitForFunction(() => document.querySelector('table.dlq-list tbody')?.textContent.includes('No dead letters match'), { timeout: 10000 });
    await page.select('select[name=state]', 'pending');
    await page.waitForSelector(`table.dlq-list tbody tr[data-id="${first.id}"]`, { timeout: 10000 });
    await page.select('select[name=kind]', 'trigger');
    await page.waitForFunction(() => document.querySelector('table.dlq-list tbody')?.textContent.includes('No dead letters match'), { timeout: 10000 });
    await page.select('select[name=kind]', '');
    await page.select('select[name=errorCode]', 'EXTERNAL');
    await page.waitForFunction((n) => document.querySelectorAll('table.dlq-list tbody tr[data-id]').length === n, { timeout: 10000 }, pending.length);
    await page.select('select[name=errorCode]', '');
    await shot('deadletters');
  });

  await check('a dead letter shows its error code, message, failed step, audit and timeline', async () => {
    await page.click(`tr[data-id="${first.id}"] a`);
    await page.waitForSelector('[data-testid=error-code]', { timeout: 15000 });
    eq(await page.$eval('[data-testid=error-code]', (e) => e.textContent), 'EXTERNAL', 'error code');
    eq(await page.$eval('[data-testid=error-message]', (e) => e.textContent), 'the payment gateway refused the charge', 'message');
    const text = await page.$eval('.deadletter', (e) => e.textContent);
    assert(text.includes('Failed step charge') && text.includes('F-1'), 'the failed step and the input are shown');
    await page.waitForSelector('table.audit tr[data-type=Created]', { timeout: 5000 });
    await page.waitForSelector('.timeline .tl-row', { timeout: 5000 });
    const link = await page.$eval('.deadletter .facts a[href^="#/executions/"]', (a) => a.getAttribute('href'));
    eq(link, `#/executions/${encodeURIComponent(fails[0].id)}`, 'the execution link');
    await shot('deadletter');
  });

  await check('bulk retry: the dry run previews how many letters match', async () => {
    await open('#/dlq');
    await page.waitForSelector('form[aria-label="bulk retry filter"]', { timeout: 15000 });
    await page.select('select[name=bulk-workflow]', 'console-fail');
    await page.click('button[data-action=preview]');
    await page.waitForSelector('.preview[data-matched]', { timeout: 15000 });
    const want = await api('POST', 'dlq/retry', { workflow: 'console-fail', dryRun: true, limit: 1000 });
    const shown = await page.$eval('.preview', (e) => Number(e.dataset.matched));
    eq(shown, want.retried.length, 'letters matched (the API\'s dry run)');
    eq(shown, 2, 'both letters are pending');
    const retries = (await api('GET', `dlq/${first.id}`)).retries.length;
    eq(retries, 0, 'a dry run retries nothing');
    await page.waitForSelector('button[data-action=bulk-retry]', { timeout: 5000 });
    const label = await page.$eval('button[data-action=bulk-retry]', (e) => e.textContent);
    eq(label, 'Retry 2 letters', 'the retry button says how many');
  });

  await check('retry with confirmation starts a new execution (checked through the API)', async () => {
    await open(`#/dlq/${first.id}`);
    await page.waitForSelector('.actions button[data-action=retry]', { timeout: 15000 });
    await page.click('.actions button[data-action=retry]');
    await page.waitForSelector('dialog.confirm[open] button[data-confirm=retry]', { timeout: 5000 });
    await page.type('dialog.confirm input[name=reason]', 'console test retry');
    await page.click('dialog.confirm button[data-confirm=retry]');
    await page.waitForSelector('[data-testid=action-result] a', { timeout: 15000 });
    const shown = await page.$eval('[data-testid=action-result] a', (a) => a.getAttribute('title'));
    const letter = await api('GET', `dlq/${first.id}`);
    assert(letter.deadLetter.retries >= 1 && letter.retries.length >= 1, `retries ${letter.deadLetter.retries}`);
    eq(letter.retries[0].executionId, shown, 'the retry execution linked on the page');
    eq(letter.retries[0].requestedBy, 'console-test', 'the actor is the token\'s name');
    const x = await api('GET', `executions/${encodeURIComponent(shown)}`);
    eq(x.workflow, 'console-fail', 'the retry runs the workflow');
    eq(x.input, { orderId: 'F-1' }, 'with the same input');
    await page.waitForSelector(`table.retries tr[data-retry="1"] a[title="${shown}"]`, { timeout: 10000 });
  });

  await check('bulk retry runs the pages with a progress bar and a summary', async () => {
    await open('#/dlq');
    await page.waitForSelector('select[name=bulk-workflow]', { timeout: 15000 });
    await page.select('select[name=bulk-workflow]', 'console-fail');
    // The first letter's retry fails too, which puts it back to pending (attempts + 1): wait for
    // that, so the preview and the run see the same two letters.
    await until('the first letter to be pending again', async () => (await api('GET', `dlq/${first.id}`)).deadLetter.state === 'pending');
    await page.click('button[data-action=preview]');
    await page.waitForSelector('button[data-action=bulk-retry]', { timeout: 15000 });
    const n = await page.$eval('.preview', (e) => Number(e.dataset.matched));
    eq(n, 2, 'letters matched');
    await page.click('button[data-action=bulk-retry]');
    await page.waitForSelector('dialog.confirm[open] button[data-confirm=retry]', { timeout: 5000 });
    await page.click('dialog.confirm button[data-confirm=retry]');
    await page.waitForSelector('.progress[data-done=true]', { timeout: 30000 });
    const retried = await page.$eval('.progress [data-retried]', (e) => Number(e.dataset.retried));
    eq(retried, n, 'retried as many as the preview matched');
    const letter = await api('GET', `dlq/${second.id}`);
    assert(letter.retries.length >= 1 && letter.retries[0].batch?.startsWith('console-'), `second letter retried in a batch: ${JSON.stringify(letter.retries)}`);
    await shot('deadletters-bulk', false);
  });

  await check('a trigger letter shows its record; retry with an edited value is checked, then sent as a merge patch', async () => {
    // A real poison record: an envelope whose input fails console-fail's schema (orderId a number).
    execFileSync(path.join(bin, 'flowctl'), ['trigger', 'console-fail', '--input', '{"orderId":7}', '--id', 'console-poison-1'],
      { env: { ...process.env, FLOWD_KAFKA_BOOTSTRAP_FILE: path.join(tmp, 'broker') } });
    const poison = await until('the poison record to be a dead letter', async () => (await api('GET', 'dlq?kind=trigger')).items[0]);
    await open(`#/dlq/${poison.id}`);
    await page.waitForSelector('[data-testid=coordinates]', { timeout: 15000 });
    const record = await page.$eval('.deadletter', (e) => e.textContent);
    assert(record.includes(poison.record.topic) && record.includes('console-poison-1'), 'topic and key shown');
    eq(await page.$eval('[data-testid=coordinates]', (e) => e.textContent), `${poison.record.partition} / ${poison.record.offset}`, 'partition / offset');
    assert(await page.$('.actions button[data-action=republish]'), 'a trigger letter can be republished');
    assert(!(await page.$('.actions button[data-action=retry-step]')), 'no retry from the failed step for a record');
    await shot('deadletter-trigger');

    await page.click('.actions button[data-action=retry-input]');
    await page.waitForSelector('dialog.confirm[open] textarea[name=input]', { timeout: 5000 });
    const prefilled = await page.$eval('dialog.confirm textarea[name=input]', (e) => e.value);
    assert(prefilled.includes('"orderId"'), `the record's value is prefilled: ${prefilled}`);
    await shot('deadletter-retry-input', false);
    const typeInput = async (text) => {
      await page.$eval('dialog.confirm textarea[name=input]', (e) => { e.value = ''; });
      await page.type('dialog.confirm textarea[name=input]', text);
    };
    await typeInput('{"input": ');
    await page.click('dialog.confirm button[data-confirm=retry]');
    await page.waitForFunction(() => document.querySelector('dialog.confirm [role=alert]')?.textContent.includes('not JSON'), { timeout: 5000 });
    eq((await api('GET', `dlq/${poison.id}`)).retries.length, 0, 'nothing was sent');
    await page.click('dialog.confirm input[name=as][value=patch]');
    await typeInput('{"input": {"orderId": "P-7"}}');
    await page.click('dialog.confirm button[data-confirm=retry]');
    await page.waitForSelector('[data-testid=action-result] a', { timeout: 15000 });
    const letter = await api('GET', `dlq/${poison.id}`);
    eq(letter.retries.map((r) => r.mode), ['patch'], 'one retry, as a patch');
    const x = await api('GET', `executions/${encodeURIComponent(letter.retries[0].executionId)}`);
    eq(x.input, { orderId: 'P-7' }, 'the patched record started with the corrected input');
  });

  await check('discard needs a reason, and is audited with it', async () => {
    const extra = await start('console-fail', { orderId: 'F-3' });
    const letter = await until('its dead letter', async () => (await api('GET', 'dlq?workflow=console-fail&state=pending')).items.find((d) => d.executionId === extra.id));
    await open(`#/dlq/${letter.id}`);
    await page.waitForSelector('.actions button[data-action=discard]', { timeout: 15000 });
    await page.click('.actions button[data-action=discard]');
    await page.waitForSelector('dialog.confirm[open] button[data-confirm=discard]', { timeout: 5000 });
    await page.click('dialog.confirm button[data-confirm=discard]');
    eq((await api('GET', `dlq/${letter.id}`)).deadLetter.state, 'pending', 'no reason: nothing was sent');
    await page.type('dialog.confirm input[name=reason]', 'test order, not a customer');
    await page.click('dialog.confirm button[data-confirm=discard]');
    await page.waitForSelector('table.audit tr[data-type=Discarded]', { timeout: 15000 });
    const shown = await api('GET', `dlq/${letter.id}`);
    eq(shown.deadLetter.state, 'discarded', 'state');
    const audit = shown.audit.find((a) => a.type === 'Discarded');
    eq([audit.actor, audit.reason], ['console-test', 'test order, not a customer'], 'who and why');
    assert(!(await page.$('.actions button[data-action=retry]')), 'no retry once discarded');
  });

  await check('retry onto a missing version shows the API\'s error; from the failed step reuses what completed; archive', async () => {
    const extra = await start('console-fail', { orderId: 'F-4' });
    const letter = await until('its dead letter', async () => (await api('GET', 'dlq?workflow=console-fail&state=pending')).items.find((d) => d.executionId === extra.id));
    await open(`#/dlq/${letter.id}`);
    await page.waitForSelector('.actions button[data-action=retry-version]', { timeout: 15000 });
    await page.click('.actions button[data-action=retry-version]');
    await page.waitForSelector('dialog.confirm[open] input[name=version]', { timeout: 5000 });
    await page.$eval('dialog.confirm input[name=version]', (e) => { e.value = ''; });
    await page.type('dialog.confirm input[name=version]', '2');
    refusing = true;
    try {
      await page.click('dialog.confirm button[data-confirm=retry]');
      await page.waitForFunction(() => document.querySelector('dialog.confirm [role=alert]')?.textContent.includes('console-fail@2'), { timeout: 10000 });
    } finally { refusing = false; }
    eq((await api('GET', `dlq/${letter.id}`)).retries.length, 0, 'nothing was retried');
    await page.click('dialog.confirm button[type=button]');  // Keep it
    await page.waitForFunction(() => !document.querySelector('dialog.confirm'), { timeout: 5000 });

    await page.click('.actions button[data-action=retry-step]');
    await page.waitForSelector('dialog.confirm[open] button[data-confirm=retry]', { timeout: 5000 });
    await page.click('dialog.confirm button[data-confirm=retry]');
    await page.waitForSelector('[data-testid=action-result] a', { timeout: 15000 });
    const retry = (await api('GET', `dlq/${letter.id}`)).retries[0];
    eq(retry.mode, 'from-failed-step', 'mode');
    const events = (await api('GET', `executions/${encodeURIComponent(retry.executionId)}/events?limit=1000`)).items;
    assert(events.some((e) => e.type === 'StepCompleted' && e.step === 'prepare' && e.data?.reused), 'prepare carried over');

    await until('the letter to be pending again', async () => (await api('GET', `dlq/${letter.id}`)).deadLetter.state === 'pending');
    await page.waitForSelector('.actions button[data-action=archive]', { timeout: 15000 });
    await page.click('.actions button[data-action=archive]');
    await page.waitForSelector('dialog.confirm[open] button[data-confirm=archive]', { timeout: 5000 });
    await page.click('dialog.confirm button[data-confirm=archive]');
    await page.waitForSelector('table.audit tr[data-type=Archived]', { timeout: 15000 });
    eq((await api('GET', `dlq/${letter.id}`)).deadLetter.state, 'archived', 'archived');
    assert(!(await page.$('.actions button[data-action=archive]')), 'no archive button once archived');
  });

  await check('phone width: the dead letter pages fit', async () => {
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    try {
      for (const [hash, ready, name] of [['#/dlq?state=', 'table.dlq-list tbody tr[data-id]', 'deadletters-phone'],
        [`#/dlq/${first.id}`, 'table.audit tr[data-type=FailedAgain]', 'deadletter-phone']]) {
        await open(hash);
        await page.waitForSelector(ready, { timeout: 15000 });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert(overflow <= 1, `${hash}: page wider than the phone by ${overflow}px`);
        await shot(name);
      }
    } finally {
      await page.setViewport({ width: 1280, height: 900 });
    }
  });

  await check('phone width: the execution page fits and the menu opens', async () => {
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await open(`#/executions/${encodeURIComponent(card.id)}`);
    await page.waitForSelector('.graph .node[data-step=notify]', { timeout: 15000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `page wider than the phone by ${overflow}px`);
    await shot('execution-phone');
    await page.click('button.menu');
    await page.waitForSelector('#nav.open a', { visible: true, timeout: 5000 });
    await page.setViewport({ width: 1280, height: 900 });
  });

  await check('keyboard: the step graph nodes are focusable and Enter selects a step', async () => {
    await page.waitForSelector('.graph .node[data-step=reserve]');
    await page.$eval('.graph .node[data-step=reserve]', (n) => n.focus());
    eq(await page.evaluate(() => document.activeElement?.dataset?.step), 'reserve', 'focused node');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#step-reserve.focus', { timeout: 5000 });
    const labelled = await page.$$eval('.graph .node', (ns) => ns.every((n) => n.getAttribute('aria-label')));
    assert(labelled, 'every node has an aria-label');
  });

  await check('large data: 100,000 executions page quickly, 10,000 events render virtualised', async () => {
    const id = 'bulk-10k';
    const steps = 5000;
    psql(dbUrl, `
      INSERT INTO executions (id, workflow, workflow_version, version, status, terminal, started_at, ended_at)
        SELECT 'bulk-' || lpad(g::text, 6, '0'), 'console-bulk', 1, 1, 'completed', true,
               now() - interval '2 hours' + g * interval '10 ms', now() - interval '1 hour'
        FROM generate_series(1, 100000) g;
      INSERT INTO executions (id, workflow, workflow_version, version, status, terminal, started_at, ended_at)
        VALUES ('${id}', 'console-bulk', 1, ${2 * steps + 2}, 'completed', true, now() - interval '1 minute', now());
      INSERT INTO events (stream_id, stream_version, type, step, attempt, occurred_at, data)
        SELECT 'execution-${id}', 1, 'ExecutionStarted', NULL, NULL, now() - interval '1 minute',
               '{"workflow":"console-bulk","version":1,"input":{}}'::jsonb
        UNION ALL
        SELECT 'execution-${id}', 1 + g, CASE WHEN g % 2 = 1 THEN 'StepStarted' ELSE 'StepCompleted' END,
               'loop[' || ((g - 1) / 2) || ']', 1, now() - interval '1 minute' + g * interval '5 ms',
               CASE WHEN g % 2 = 1 THEN '{}'::jsonb ELSE '{"output":{},"durationMs":5}'::jsonb END
        FROM generate_series(1, ${2 * steps}) g
        UNION ALL
        SELECT 'execution-${id}', ${2 * steps + 2}, 'ExecutionCompleted', NULL, NULL, now(), '{"output":{},"durationMs":60000}'::jsonb;
      ANALYZE executions; ANALYZE events;`);
    await open('#/');
    await page.waitForSelector('.cards');
    let t = Date.now();
    await open('#/executions?workflow=console-bulk');
    await page.waitForFunction(() => document.querySelectorAll('table.list tbody tr[data-id^="bulk-"]').length === 50, { timeout: 30000 });
    const listMs = Date.now() - t;
    figures.push(`FIGURE console_list_first_page_100k ${listMs} ms`);
    await page.waitForFunction(() => Number(document.querySelector('[data-count=total]')?.textContent) >= 100001, { timeout: 30000 });
    assert(listMs < 5000, `first page of 100,000 took ${listMs} ms`);
    await page.click('.pager button:last-of-type');
    await page.waitForFunction(() => document.querySelector('.pager span')?.textContent.startsWith('page 2'), { timeout: 10000 });

    t = Date.now();
    await open(`#/executions/${id}`);
    await page.waitForFunction((n) => document.querySelector('.events .vlist')?.dataset.rows === String(n), { timeout: 60000 }, 2 * steps + 2);
    await page.waitForSelector('.timeline .vlist');
    const renderMs = Date.now() - t;
    figures.push(`FIGURE console_execution_10k_events_render ${renderMs} ms`);
    const domRows = await page.$$eval('.vrow', (r) => r.length);
    assert(domRows < 200, `${domRows} rows in the DOM: the lists are not virtualised`);
    // The page still answers: a frame is drawn within a second after scrolling the event list.
    t = Date.now();
    await page.$eval('.events .vlist', (e) => { e.scrollTop = e.scrollHeight; e.dispatchEvent(new Event('scroll')); });
    await page.waitForFunction((n) => [...document.querySelectorAll('.events .ev-v')].some((e) => e.textContent === `#${n}`), { timeout: 5000 }, 2 * steps + 2);
    figures.push(`FIGURE console_scroll_to_last_event ${Date.now() - t} ms`);
    await shot('execution-10k-events', false);
  });

  // A page of `context` (a browser context of its own: its own sessionStorage) signed in with the
  // reader token.
  async function signInAsReader(context) {
    const reader = await context.newPage();
    await reader.setViewport({ width: 1280, height: 900 });
    reader.on('pageerror', (e) => consoleErrors.push(`reader: ${e}`));
    await reader.goto(`${base}/`, { waitUntil: 'load' });
    await reader.waitForSelector('#token', { timeout: 15000 });
    await reader.type('#token', READER_TOKEN);
    await reader.click('.token button[type=submit]');
    await reader.waitForSelector('.who[data-role=reader]', { timeout: 15000 });
    return reader;
  }

  await check('actions: a real reader token sees no action buttons', async () => {
    const who = await api('GET', 'whoami');
    assert(who.canAct === true && who.role === 'operator', `whoami ${JSON.stringify(who)}`);
    await open('#/executions');
    await page.waitForSelector('.who');
    eq(await page.$eval('.who', (e) => e.dataset.role), who.role, 'role shown');
    // A second browser context (its own sessionStorage) signs in with the reader token.
    const context = await browser.createBrowserContext();
    try {
      const reader = await signInAsReader(context);
      const go = (hash) => reader.evaluate((h) => { location.hash = h; }, hash);
      await go(`#/executions/${encodeURIComponent(card.id)}`);
      await reader.waitForSelector('.graph .node[data-step=notify]', { timeout: 15000 });
      assert(!(await reader.$('.actions')), 'no action toolbar on an execution');
      await go('#/workflows/console-demo');
      await reader.waitForSelector('pre.yaml', { timeout: 15000 });
      assert(!(await reader.$('form.start')), 'no start form');
      await go(`#/dlq/${second.id}`);
      await reader.waitForSelector('[data-testid=error-code]', { timeout: 15000 });
      assert(!(await reader.$('.actions')) && !(await reader.$('.deadletter button')), 'no action buttons on a dead letter');
      await go('#/dlq');
      await reader.waitForSelector('table.dlq-list', { timeout: 15000 });
      assert(!(await reader.$('.bulk')), 'no bulk retry for a reader');
      // And the server agrees: the reader's token may not retry.
      const res = await fetch(`${base}/api/v1/dlq/${second.id}/retry`, { method: 'POST', headers: { Authorization: `Bearer ${READER_TOKEN}` } });
      eq(res.status, 403, 'a reader\'s retry');
    } finally {
      await context.close();
    }
  });

  await check('an action answered 403 hides every action button', async () => {
    const x = await start('console-slow', { duration: '10m' });
    await page.setRequestInterception(true);
    forbidding = true;
    const handler = (req) => (req.method() === 'POST' && req.url().endsWith('/pause')
      ? req.respond({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: { code: 'PERMISSION_DENIED', message: 'this token may only read' } }) })
      : req.continue());
    page.on('request', handler);
    try {
      await page.reload({ waitUntil: 'load' });
      await open(`#/executions/${encodeURIComponent(x.id)}`);
      await page.waitForSelector('.actions button', { timeout: 15000 });
      const [pause] = await page.$$('xpath/.//div[contains(@class,"actions")]/button[text()="Pause"]');
      assert(pause, 'a Pause button');
      await pause.click();
      await page.waitForSelector('dialog.confirm[open] button[data-confirm=pause]', { timeout: 5000 });
      await page.click('dialog.confirm button[data-confirm=pause]');
      await page.waitForSelector('dialog.confirm [role=alert]', { timeout: 10000 });
      await page.waitForFunction(() => !document.querySelector('.actions'), { timeout: 10000 });
      eq(await statusOf(x.id), 'running', 'nothing was paused');
    } finally {
      page.off('request', handler);
      await page.setRequestInterception(false);
      forbidding = false;
      await api('POST', `executions/${x.id}/cancel`, { reason: 'test cleanup' });
    }
  });

  // --- schedules (#/schedules): tests/console/workflows/console-nightly.yaml's cron trigger --------
  // Types a window into the backfill form's datetime-local inputs, in the browser's zone.
  const setWindow = (from, to) => page.evaluate((f, t) => {
    const p = (n) => String(n).padStart(2, '0');
    const local = (ms) => { const d = new Date(ms); return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`; };
    for (const [name, v] of [['from', local(f)], ['to', local(t)]]) {
      const el = document.querySelector(`form.backfill input[name=${name}]`);
      el.value = v;
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }
    return Intl.DateTimeFormat().resolvedOptions().timeZone;
  }, +from, +to);

  await check('schedules list shows the definition schedule', async () => {
    // And one made through the API, paused at once with a note (it never fires in this test).
    await api('POST', 'schedules', { name: 'console-weekly', workflow: 'console-nightly', version: 1, schedule: '0 0 9 * * MON', timezone: 'America/New_York' });
    await api('POST', 'schedules/console-weekly/pause', { note: 'until the report is fixed' });
    // The 403 check above hid the actions for the session; a reload asks whoami again.
    await open('#/schedules');
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('table.sched tr[data-name="console-weekly"]', { timeout: 15000 });
    const rows = await page.$$eval('table.sched tbody tr[data-name]', (rs) => Object.fromEntries(rs.map((r) => [r.dataset.name, {
      source: r.querySelector('[data-col=source]').textContent, state: r.querySelector('[data-state]').dataset.state, text: r.textContent }])));
    eq(Object.keys(rows), (await api('GET', 'schedules')).items.map((x) => x.name), 'the API\'s schedules, by name');
    const row = rows['console-nightly'];
    eq([row.source, row.state], ['definition', 'active'], 'console-nightly');
    assert(row.text.includes('0 30 2 * * *') && row.text.includes('Europe/Berlin') && row.text.includes('console-nightly@latest'), `row: ${row.text}`);
    const weekly = rows['console-weekly'];
    eq([weekly.source, weekly.state], ['api', 'paused'], 'console-weekly');
    assert(weekly.text.includes('until the report is fixed') && weekly.text.includes('console-nightly@1'), `row: ${weekly.text}`);
    await shot('schedules');
  });

  await check('a schedule page shows the next 10 runs in its zone and in UTC', async () => {
    await page.click('tr[data-name="console-nightly"] a');
    await page.waitForSelector('.next-runs tbody tr', { timeout: 15000 });
    const rows = await page.$$eval('.next-runs tbody tr', (rs) => rs.map((r) => ({
      local: r.querySelector('[data-col=local]').textContent, utc: r.querySelector('[data-col=utc]').textContent })));
    eq(rows.length, 10, 'next runs');
    for (const r of rows) {
      assert(/ 02:30:00 \+0[12]:00$/.test(r.local), `local ${r.local}`);
      assert(/ 0[01]:30:00Z$/.test(r.utc), `utc ${r.utc}`);
    }
    const api10 = (await api('GET', 'schedules/console-nightly/next?n=10')).items;
    eq(await page.$$eval('.next-runs [data-col=utc] time', (ts) => ts.map((t) => t.getAttribute('datetime'))), api10.map((t) => t.utc), 'the API\'s fire times');
    eq(await page.$eval('[data-testid=source]', (e) => e.textContent.startsWith('definition')), true, 'source shown');
  });

  await check('pause (with a note) and unpause through the dialog (checked through the API)', async () => {
    const click = async (label) => {
      const [b] = await page.$$(`xpath/.//div[contains(@class,"actions")]/button[text()="${label}"]`);
      assert(b, `a ${label} button`);
      await b.click();
    };
    await click('Pause');
    await page.waitForSelector('dialog.confirm[open] input[name=reason]', { timeout: 5000 });
    await page.type('dialog.confirm input[name=reason]', 'console test: freeze');
    await page.click('dialog.confirm button[data-confirm=pause]');
    await until('the schedule to be paused', async () => (await api('GET', 'schedules/console-nightly')).paused === true, 15000);
    eq((await api('GET', 'schedules/console-nightly')).note, 'console test: freeze', 'note');
    await page.waitForSelector('.schedule [data-state=paused]', { timeout: 10000 });
    await page.waitForFunction(() => document.querySelector('[data-testid=pause-note]')?.textContent.includes('freeze'), { timeout: 10000 });
    await click('Unpause');
    await page.waitForSelector('dialog.confirm[open] button[data-confirm=unpause]', { timeout: 5000 });
    await page.click('dialog.confirm button[data-confirm=unpause]');
    await until('the schedule to be unpaused', async () => (await api('GET', 'schedules/console-nightly')).paused === false, 15000);
    await page.waitForSelector('.schedule [data-state=active]', { timeout: 10000 });
    const types = (await api('GET', 'schedules/console-nightly')).events.map((e) => e.type);
    await page.waitForFunction((n) => document.querySelectorAll('.audit tbody tr[data-type]').length === n, { timeout: 10000 }, types.length);
  });

  await check('backfill of the last 3 days through the form fires 3 (checked through the API)', async () => {
    // A browser zone that is neither UTC nor Berlin: the form's times are read in it.
    await page.emulateTimezone('America/New_York');
    try {
      await page.reload({ waitUntil: 'load' });
      await page.waitForSelector('.actions', { timeout: 15000 });
      // The window holds exactly 3 fire times (02:30 in Berlin: 01:30Z in winter, 00:30Z in summer).
      const berlinHour = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', hourCycle: 'h23' });
      const fireBefore = (ms) => {
        for (let day = 0; day < 3; day++) for (const h of [1, 0]) {
          const t = new Date(ms - day * 86400000); t.setUTCHours(h, 30, 0, 0);
          if (+t <= ms && berlinHour.format(t) === '02') return +t;
        }
        throw new Error(`no fire time before ${new Date(ms).toISOString()}`);
      };
      const now = Date.now();
      const fires = [fireBefore(now - 120000)];
      for (let i = 1; i < 3; i++) fires.push(fireBefore(fires[i - 1] - 3600000));
      const from = new Date(fires[2] - 1800000), to = new Date(Math.min(now, fires[0] + 1800000));
      const [b] = await page.$$('xpath/.//div[contains(@class,"actions")]/button[text()="Backfill…"]');
      await b.click();
      await page.waitForSelector('form.backfill input[name=from]', { timeout: 5000 });
      eq(await setWindow(from, to), 'America/New_York', 'browser zone');
      await page.select('form.backfill select[name=overlap]', 'allow');
      await page.click('form.backfill button[type=submit]');
      await page.waitForSelector('dialog.confirm[open] button[data-confirm=backfill]', { timeout: 5000 });
      await shot('schedule-backfill', false);
      await page.click('dialog.confirm button[data-confirm=backfill]');
      await page.waitForSelector('.backfill-report [data-count=fired]', { timeout: 30000 });
      const counts = await page.$$eval('.backfill-report [data-count]', (bs) => Object.fromEntries(bs.map((x) => [x.dataset.count, Number(x.textContent)])));
      eq(counts, { ticks: 3, fired: 3, skipped: 0, buffered: 0, alreadyDone: 0, failed: 0 }, 'backfill report');
      const ticks = (await api('GET', 'schedules/console-nightly/ticks?limit=100')).items.filter((t) => t.backfill);
      eq(ticks.length, 3, 'backfill ticks');
      assert(ticks.every((t) => t.outcome === 'fired' && t.executionId), `ticks ${JSON.stringify(ticks)}`);
      eq(ticks.map((t) => t.fireTime).sort(), fires.map((t) => new Date(t).toISOString().replace('.000', '')).sort(), 'fire times');
      await page.waitForFunction(() => document.querySelectorAll('.ticks tr[data-backfill=true] a[href^="#/executions/"]').length === 3, { timeout: 10000 });
      await shot('schedule');
    } finally {
      await page.emulateTimezone();
    }
  });

  await check('a backfill the API refuses shows its message in the dialog', async () => {
    await page.waitForSelector('form.backfill input[name=from]', { timeout: 5000 });
    await setWindow(Date.now() + 86400000, Date.now() + 2 * 86400000);
    await page.click('form.backfill button[type=submit]');
    await page.waitForSelector('dialog.confirm[open] button[data-confirm=backfill]', { timeout: 5000 });
    await page.click('dialog.confirm button[data-confirm=backfill]');
    await page.waitForSelector('dialog.confirm[open] [role=alert]', { timeout: 10000 });
    const text = await page.$eval('dialog.confirm [role=alert]', (e) => e.textContent);
    assert(text.includes('from is in the future'), `the API's message: ${text}`);
    await page.click('dialog.confirm button[type=button]');
    await page.waitForFunction(() => !document.querySelector('dialog.confirm'), { timeout: 5000 });
    // That 400 is the answer this check asks for, not an error of the page.
    const refused = consoleErrors.findIndex((e) => /^400 POST .*\/schedules\/console-nightly\/backfill$/.test(e));
    assert(refused >= 0, `the 400 was seen: ${consoleErrors.join(' | ')}`);
    consoleErrors.splice(refused, 1);
    eq((await api('GET', 'schedules/console-nightly/ticks?limit=100')).items.filter((t) => t.backfill).length, 3, 'backfill ticks after the refused one');
  });

  await check('phone width: the schedules pages fit', async () => {
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    try {
      for (const hash of ['#/schedules', '#/schedules/console-nightly']) {
        await open(hash);
        await page.waitForSelector(hash === '#/schedules' ? 'tr[data-name="console-nightly"]' : '.next-runs tbody tr', { timeout: 15000 });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert(overflow <= 1, `${hash} wider than the phone by ${overflow}px`);
        await shot(hash === '#/schedules' ? 'schedules-phone' : 'schedule-phone');
      }
    } finally {
      await page.setViewport({ width: 1280, height: 900 });
    }
  });

  await check('a longer history: the newest 20 ticks, the last 100 on request', async () => {
    const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
    const before = (await api('GET', 'schedules/console-nightly/ticks?limit=100')).items;
    const oldest = Math.min(...before.map((t) => Date.parse(t.fireTime)));
    const r = await api('POST', 'schedules/console-nightly/backfill', { from: iso(oldest - 25 * 86400000 - 1800000), to: iso(oldest - 3600000), overlap: 'allow' });
    assert(r.fired >= 20 && r.fired === r.ticks, `backfill ${JSON.stringify(r)}`);
    const all = (await api('GET', 'schedules/console-nightly/ticks?limit=100')).items;
    await page.reload({ waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelectorAll('.ticks tbody tr[data-outcome]').length === 20, { timeout: 15000 });
    const [more] = await page.$$('xpath/.//button[text()="Show the last 100 ticks"]');
    assert(more, 'a show-more button');
    await more.click();
    await page.waitForFunction((n) => document.querySelectorAll('.ticks tbody tr[data-outcome]').length === n, { timeout: 10000 }, all.length);
    const shown = await page.$$eval('.ticks tbody tr td:first-child time', (ts) => ts.map((t) => t.getAttribute('datetime').replace('.000', '')));
    eq(shown, all.map((t) => t.fireTime), 'ticks, newest first');
  });

  await check('a reader sees no schedule actions', async () => {
    // A real reader token in a browser context of its own, as for the other pages.
    const context = await browser.createBrowserContext();
    try {
      const reader = await signInAsReader(context);
      await reader.evaluate(() => { location.hash = '#/schedules/console-nightly'; });
      await reader.waitForSelector('.next-runs tbody tr', { timeout: 15000 });
      assert(!(await reader.$('.actions')) && !(await reader.$('form.backfill')), 'no actions for a reader');
      const res = await fetch(`${base}/api/v1/schedules/console-nightly/pause`, { method: 'POST', headers: { Authorization: `Bearer ${READER_TOKEN}` } });
      eq(res.status, 403, 'a reader\'s pause');
    } finally {
      await context.close();
    }
  });
  // --- end of schedules ------------------------------------------------------------------------------

  await check('no script errors in the page', async () => {
    const real = consoleErrors;
    assert(!real.length, real.join(' | '));
  });
} catch (e) {
  fail('unexpected', e.stack);
} finally {
  await cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
}
for (const f of figures) console.log(f);
console.log(`screenshots: ${shots}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

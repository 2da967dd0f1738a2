// The dashboard's APIs pages (issue 6 item 2), end to end in headless
// Chromium: /dashboard (calls this period, last call, pages of 20) and
// /dashboard/endpoints/{id} (fields, URLs, masked keys and webhook secrets,
// deploy history, recent calls), revealing a key or a secret and
// regenerating a key (password again, shown once, audited; the old key is
// refused by the gateway at once), and deleting an endpoint (its name typed
// exactly and the password): afterwards endpoints_get over MCP with the
// official SDK client answers not found and its keys get 401. Refusals
// (no CSRF token, wrong password, wrong name, another account's id) change
// nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  startSystem, accountWithKey, tool, psql, unique, request, BIN_DIR, DB_URL,
} from '../lib/system.mjs';
import { launch } from '../lib/browser.mjs';

const PASSWORD = 'correct horse battery';
let sys, b, owner, other, client;
const revealed = [];   // every secret the pages showed: none may reach a log

before(async () => {
  sys = await startSystem({ name: 'dash-apis' });
  b = await launch(sys);
  owner = await accountWithKey('dash-apis');
  other = await accountWithKey('dash-apis-other');
  client = new Client({ name: '3min-dashboard-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(sys.mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${owner.key}` } },
  }));
});
after(async () => {
  await client?.close();
  await b?.close();
  await sys?.stop();
});

const q = async (sql) => (await psql(sql)).join('\n');
const audit = (acct) => q(`SELECT coalesce(string_agg(action, ',' ORDER BY id), '') FROM audit_log WHERE account_id = '${acct.id}'`);

async function mcp(acct, name, args) {
  const r = await tool(sys, acct.key, name, args);
  assert.ok(!r.isError, `${name}: ${JSON.stringify(r)}`);
  return r.structuredContent;
}

// An endpoint with fields, one sandbox call and a deploy (so it has a call log and a deploy history).
async function deployedEndpoint(acct, label = 'Contact form') {
  const ep = (await mcp(acct, 'endpoints_create', {
    name: unique(label),
    fields: [{ name: 'email', type: 'string', required: true, searchable: true, validation: { format: 'email' } },
      { name: 'age', type: 'number' }],
  })).endpoint;
  await mcp(acct, 'api_call', { endpoint: ep.id, method: 'POST', body: { email: 'a@example.com', age: 3 } });
  await mcp(acct, 'endpoints_deploy', { endpoint: ep.id, note: 'first release' });
  return ep;
}

// `3min endpoint keys` with the workers' key file: {sandbox_key, production_key, sandbox_webhook_secret, ...}.
function storedKeys(email, slug) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DATABASE_URL: DB_URL, STATE_DIR: sys.stateDir };
    execFile(join(BIN_DIR, '3min'), ['endpoint', 'keys', '--email', email, '--endpoint', slug], { env },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`3min endpoint keys: ${stderr}`));
        const out = {};
        for (const line of stdout.trimEnd().split('\n')) {
          const [k, v] = line.split(' ');
          if (!k.startsWith('collaboration_key')) out[k] = v;
        }
        resolve(out);
      });
  });
}

const gateway = (slug, key) => request(sys, {
  method: 'GET', path: `/api/v1/data/${slug}`, headers: { Authorization: `Bearer ${key}` },
});

async function signedIn(acct) {
  const page = await b.newPage();
  await b.signIn(acct.email, PASSWORD, { page });
  assert.equal(new URL(page.url()).pathname, '/dashboard', await page.content());
  return page;
}

// Submits the form whose button has text `button`, filling `fields` (name -> value) inside it first.
async function submit(page, button, fields = {}) {
  const form = page.locator('form', { has: page.locator(`button:has-text("${button}")`) });
  // Key and secret actions sit in a closed <details>: open it like a person would.
  const details = page.locator('details', { has: form });
  if (await details.count() && !(await details.evaluate((el) => el.open))) await details.locator('summary').click();
  for (const [name, value] of Object.entries(fields)) await form.locator(`[name="${name}"]`).fill(value);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    form.locator(`button:has-text("${button}")`).click(),
  ]);
  await page.waitForLoadState('load');
  return resp;
}

test('/dashboard lists the account\'s endpoints with calls this period and the last call, 20 a page', async () => {
  const paused = await deployedEndpoint(owner, 'Orders');
  await q(`UPDATE endpoints SET active = false WHERE id = '${paused.id}'`);
  const draft = (await mcp(owner, 'endpoints_create', { name: unique('Newsletter') })).endpoint;
  const ep = await deployedEndpoint(owner);
  const theirs = await deployedEndpoint(other, 'Secret form');
  const page = await signedIn(owner);
  assert.match(await page.locator('tbody tr', { hasText: paused.name }).textContent(), /inactive/);
  assert.match(await page.locator('tbody tr', { hasText: draft.name }).textContent(), /draft0—/);
  const row = page.locator('tbody tr', { hasText: ep.name });
  assert.equal(await row.count(), 1);
  const cells = await row.locator('th, td').allTextContents();
  assert.equal(cells[1], ep.slug);
  assert.equal(cells[2], 'deployed (v1)');
  assert.equal(cells[3], '1', 'one call this period');
  assert.match(cells[4], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  assert.ok(!(await page.textContent('main')).includes(theirs.name), 'another account\'s endpoint is not listed');
  assert.equal(await row.locator('a').getAttribute('href'), `/dashboard/endpoints/${ep.id}`);
  await b.screenshot('dashboard', { page });

  // Pages of 20, newest first, with a next link.
  const many = await accountWithKey('dash-apis-many');
  const names = [];
  for (let i = 0; i < 22; i++) names.push((await mcp(many, 'endpoints_create', { name: unique(`Api ${i}`) })).endpoint.name);
  const p = await signedIn(many);
  const first = await p.locator('tbody th a').allTextContents();
  assert.deepEqual(first, names.slice(2).reverse());
  assert.match(await p.textContent('tbody'), /draft/);
  await p.click('a[rel=next]');
  const second = await p.locator('tbody th a').allTextContents();
  assert.deepEqual(second, names.slice(0, 2).reverse());
  assert.equal(await p.locator('a[rel=next]').count(), 0);
  const bad = await p.goto('/dashboard?cursor=not-a-cursor');
  assert.equal(bad.status(), 400);
});

test('the endpoint page: fields per environment, URLs, masked keys and secrets, deploy history, recent calls', async () => {
  const ep = await deployedEndpoint(owner, 'Signup');
  await mcp(owner, 'endpoints_update', { endpoint: ep.id, fields: [{ name: 'email', type: 'string', required: true }] });
  const page = await signedIn(owner);
  await page.goto('/dashboard');
  await page.click(`a:has-text("${ep.name}")`);
  assert.equal(new URL(page.url()).pathname, `/dashboard/endpoints/${ep.id}`);
  assert.equal(await page.textContent('h1'), ep.name);
  const main = await page.textContent('main');
  assert.match(main, /deployed \(production v1\); the sandbox has changes not deployed yet/);
  // Fields: the sandbox draft has one field, production the two deployed ones.
  const sandbox = page.locator('table', { has: page.locator('caption', { hasText: 'Sandbox' }) });
  const prod = page.locator('table', { has: page.locator('caption', { hasText: 'Production' }) });
  assert.deepEqual(await sandbox.locator('tbody th').allTextContents(), ['email']);
  assert.deepEqual(await prod.locator('tbody th').allTextContents(), ['email', 'age']);
  assert.match(await prod.locator('tbody tr').first().textContent(), /string.*yes.*yes.*"format":"email"/);
  // URLs and masked keys: never the whole secret.
  const stored = await storedKeys(owner.email, ep.slug);
  const url = `${sys.url}/api/v1/data/${ep.slug}`;
  for (const [env, prefix] of [['sandbox', 'tm_test_'], ['production', 'tm_live_']]) {
    const cells = await page.locator('#urls ~ div table tbody tr', { hasText: env }).first().locator('th, td').allTextContents();
    assert.equal(cells[1], url);
    assert.equal(cells[2], `${prefix}…${stored[`${env}_key`].slice(-4)}`);
    assert.ok(main.includes(`whsec_…${stored[`${env}_webhook_secret`].slice(-4)}`));
  }
  const html = await page.content();
  for (const v of Object.values(stored)) assert.ok(!html.includes(v), 'no secret in the page');
  // Deploy history and recent calls.
  const deploys = await page.locator('#deploys + div table tbody tr').allTextContents();
  assert.equal(deploys.length, 1);
  assert.match(deploys[0], /^v1.*UTC.*mcp.*2.*first release$/);
  const calls = await page.locator('#calls + div table tbody tr').allTextContents();
  assert.equal(calls.length, 1);
  assert.match(calls[0], /UTC\s*sandbox\s*POST\s*202 success\s*\d+ ms\s*mcp/);
  await b.screenshot('endpoint', { page });
  // On a phone, too.
  const phone = await b.newPage({ phone: true });
  await b.signIn(owner.email, PASSWORD, { page: phone });
  await phone.goto(`/dashboard/endpoints/${ep.id}`);
  assert.equal(await phone.textContent('h1'), ep.name);
});

test('reveal and regenerate: password again, shown once, audited; the old key is refused at once', async () => {
  const ep = await deployedEndpoint(owner, 'Keys');
  const stored = await storedKeys(owner.email, ep.slug);
  const page = await signedIn(owner);
  await page.goto(`/dashboard/endpoints/${ep.id}`);
  const before = await audit(owner);

  // A wrong password reveals nothing and records nothing.
  let resp = await submit(page, 'Reveal the sandbox key', { password: 'not my password' });
  assert.equal(resp.status(), 403);
  assert.match(await page.textContent('.msg'), /wrong password/);
  assert.ok(!(await page.content()).includes(stored.sandbox_key));
  assert.equal(await audit(owner), before);

  resp = await submit(page, 'Reveal the sandbox key', { password: PASSWORD });
  assert.equal(resp.status(), 303);
  assert.equal(new URL(page.url()).pathname, `/dashboard/endpoints/${ep.id}`, 'Post/Redirect/Get');
  assert.equal(await page.textContent('#shown-secret code'), stored.sandbox_key);
  assert.ok(!page.url().includes(stored.sandbox_key.slice(8)), 'never in the URL');
  // Shown once: a reload does not show it again.
  await page.reload();
  assert.equal(await page.locator('#shown-secret').count(), 0);
  assert.ok(!(await page.content()).includes(stored.sandbox_key));

  await submit(page, 'Reveal the production signing secret', { password: PASSWORD });
  assert.equal(await page.textContent('#shown-secret code'), stored.production_webhook_secret);
  revealed.push(stored.sandbox_key, stored.production_webhook_secret);

  // Nothing secret is left in the database's record of the answers.
  const answers = await q(`SELECT coalesce(string_agg(result::text, ' '), '') FROM applied_requests WHERE account_id = '${owner.id}'`);
  assert.ok(!answers.includes(stored.sandbox_key) && !answers.includes(stored.production_webhook_secret));

  // Regenerate the sandbox key: the new one is shown once and works; the old one is refused at once.
  assert.equal((await gateway(ep.slug, stored.sandbox_key)).status, 200);
  resp = await submit(page, 'Regenerate the sandbox key', { password: PASSWORD });
  assert.equal(resp.status(), 303);
  const fresh = await page.textContent('#shown-secret code');
  assert.match(fresh, /^tm_test_[A-Za-z0-9_-]{43}$/);
  revealed.push(fresh);
  assert.notEqual(fresh, stored.sandbox_key);
  assert.match(await page.textContent('#shown-secret'), /old one no longer works/);
  assert.equal((await storedKeys(owner.email, ep.slug)).sandbox_key, fresh);
  const old = await gateway(ep.slug, stored.sandbox_key);
  assert.equal(old.status, 401, old.text);
  assert.equal((await gateway(ep.slug, fresh)).status, 200);
  assert.equal((await gateway(ep.slug, stored.production_key)).status, 200, 'the other environment keeps its key');
  const masked = await page.locator('#urls ~ div table tbody tr', { hasText: 'sandbox' }).first().locator('td').nth(1).textContent();
  assert.equal(masked, `tm_test_…${fresh.slice(-4)}`);

  // A wrong password regenerates nothing.
  resp = await submit(page, 'Regenerate the production key', { password: 'wrong again' });
  assert.equal(resp.status(), 403);
  assert.equal((await storedKeys(owner.email, ep.slug)).production_key, stored.production_key);

  const actions = (await audit(owner)).slice(before.length).split(',').filter(Boolean);
  assert.deepEqual(actions, ['endpoint.key_reveal', 'endpoint.webhook_secret_reveal', 'endpoint.key_regenerate']);
  await page.goto('/audit');
  const rows = await page.locator('tbody tr').allTextContents();
  assert.match(rows[0], /endpoint\.key_regenerate.*endpoint.*"environment":"sandbox"/);
  assert.match(rows[2], /endpoint\.key_reveal/);
});

test('no CSRF token, another account\'s id, a wrong name or password: refused, nothing changes', async () => {
  const ep = await deployedEndpoint(owner, 'Guarded');
  const theirs = await deployedEndpoint(other, 'Not yours');
  const stored = await storedKeys(owner.email, ep.slug);
  const page = await signedIn(owner);
  await page.goto(`/dashboard/endpoints/${ep.id}`);
  const csrf = await b.csrf({ page });
  const before = await audit(owner);
  const live = async (id) => q(`SELECT count(*) FROM endpoints WHERE id = '${id}' AND deleted_at IS NULL`);

  // Without the CSRF token (or with a wrong one): 403 and nothing runs.
  for (const token of [undefined, 'x'.repeat(43)]) {
    for (const [action, form] of [['delete', { confirm_name: ep.name, password: PASSWORD }],
      ['regenerate', { environment: 'sandbox', password: PASSWORD }],
      ['reveal', { environment: 'sandbox', secret: 'key', password: PASSWORD }],
      ['pause', { password: PASSWORD }], ['clear-sandbox', { password: PASSWORD }]]) {
      const r = await page.request.post(`/dashboard/endpoints/${ep.id}/${action}`, {
        form: token === undefined ? form : { ...form, csrf_token: token }, maxRedirects: 0,
      });
      assert.equal(r.status(), 403, `${action}: ${await r.text()}`);
      assert.ok(!(await r.text()).includes(stored.sandbox_key));
    }
  }
  assert.equal(await live(ep.id), '1');
  assert.equal(await q(`SELECT active FROM endpoints WHERE id = '${ep.id}'`), 't');
  assert.equal(await q(`SELECT count(*) FROM records WHERE endpoint_id = '${ep.id}' AND deleted_at IS NULL`), '1');
  assert.equal((await storedKeys(owner.email, ep.slug)).sandbox_key, stored.sandbox_key);

  // Another account's endpoint: 404 for the page and every action, with this session's valid token and password.
  let r = await page.goto(`/dashboard/endpoints/${theirs.id}`);
  assert.equal(r.status(), 404);
  assert.ok(!(await page.content()).includes(theirs.name));
  for (const [action, form] of [['delete', { confirm_name: theirs.name, password: PASSWORD }],
    ['regenerate', { environment: 'sandbox', password: PASSWORD }],
    ['reveal', { environment: 'sandbox', secret: 'key', password: PASSWORD }],
    ['pause', { password: PASSWORD }], ['resume', {}], ['clear-sandbox', { password: PASSWORD }]]) {
    r = await page.request.post(`/dashboard/endpoints/${theirs.id}/${action}`, { form: { ...form, csrf_token: csrf }, maxRedirects: 0 });
    assert.equal(r.status(), 404, `${action}: ${await r.text()}`);
  }
  assert.equal(await live(theirs.id), '1');
  assert.equal(await q(`SELECT active FROM endpoints WHERE id = '${theirs.id}'`), 't');
  assert.equal(await q(`SELECT count(*) FROM records WHERE endpoint_id = '${theirs.id}' AND deleted_at IS NULL`), '1');
  // Ids that are not UUIDs never reach a query.
  for (const path of ['/dashboard/endpoints/nope', `/dashboard/endpoints/${ep.id}x`, `/dashboard/endpoints/${ep.slug}`,
    '/dashboard/endpoints/', `/dashboard/endpoints/${ep.id.toUpperCase().replace(/-/g, '')}`]) {
    r = await page.goto(path);
    assert.equal(r.status(), 404, path);
  }

  // The name typed wrong (case, spaces) or the wrong password: nothing is deleted.
  await page.goto(`/dashboard/endpoints/${ep.id}`);
  for (const [name, password, status, message] of [
    [ep.name.toUpperCase(), PASSWORD, 400, /type the endpoint's name exactly/],
    [`${ep.name} `, PASSWORD, 400, /type the endpoint's name exactly/],
    [ep.name, 'not my password', 403, /wrong password/]]) {
    const resp = await submit(page, 'Delete this endpoint', { confirm_name: name, password });
    assert.equal(resp.status(), status);
    assert.match(await page.textContent('.msg'), message);
    assert.equal(await live(ep.id), '1');
  }
  assert.equal((await gateway(ep.slug, stored.sandbox_key)).status, 200);
  assert.equal(await audit(owner), before, 'refusals are not audited as actions');
  // Signed out: back to sign-in, nothing runs.
  const anon = await b.newPage();
  r = await anon.request.post(`/dashboard/endpoints/${ep.id}/delete`, { form: { confirm_name: ep.name, password: PASSWORD }, maxRedirects: 0 });
  assert.equal(r.status(), 303);
  assert.match(r.headers().location, /\/login\?next=/);
  assert.equal(await live(ep.id), '1');
});

test('pause and resume (the gateway refuses calls at once), clear the sandbox records', async () => {
  const ep = await deployedEndpoint(owner, 'Pausable');
  const stored = await storedKeys(owner.email, ep.slug);
  const post = (key, body) => request(sys, {
    method: 'POST', path: `/api/v1/data/${ep.slug}`, body,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
  });
  assert.equal((await post(stored.sandbox_key, { email: 'c@example.com' })).status, 202);
  assert.equal((await post(stored.production_key, { email: 'd@example.com' })).status, 202);
  const page = await signedIn(owner);
  await page.goto(`/dashboard/endpoints/${ep.id}`);
  const before = await audit(owner);

  let resp = await submit(page, 'Pause this endpoint', { password: 'not my password' });
  assert.equal(resp.status(), 403);
  assert.equal(await q(`SELECT active FROM endpoints WHERE id = '${ep.id}'`), 't');
  resp = await submit(page, 'Pause this endpoint', { password: PASSWORD });
  assert.equal(resp.status(), 303);
  assert.match(await page.textContent('.ok'), /paused/);
  assert.match(await page.textContent('main'), /inactive/);
  for (const key of [stored.sandbox_key, stored.production_key]) {
    const r = await gateway(ep.slug, key);
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code ?? r.json.error, 'endpoint_inactive');
  }
  const got = await client.callTool({ name: 'endpoints_get', arguments: { endpoint: ep.id } });
  assert.equal(got.structuredContent.active, false);
  resp = await submit(page, 'Resume this endpoint');
  assert.equal(resp.status(), 303);
  assert.match(await page.textContent('.ok'), /active/);
  assert.equal((await gateway(ep.slug, stored.production_key)).status, 200);

  resp = await submit(page, 'Clear the sandbox records', { password: 'wrong' });
  assert.equal(resp.status(), 403);
  assert.equal(await q(`SELECT count(*) FROM records WHERE endpoint_id = '${ep.id}' AND environment = 'sandbox' AND deleted_at IS NULL`), '2');
  resp = await submit(page, 'Clear the sandbox records', { password: PASSWORD });
  assert.equal(resp.status(), 303);
  assert.match(await page.textContent('.ok'), /2 records deleted/);
  const sandbox = await gateway(ep.slug, stored.sandbox_key);
  assert.equal(sandbox.status, 200);
  assert.equal(sandbox.json.items.length, 0, sandbox.text);
  assert.equal(await q(`SELECT count(*) FROM records WHERE endpoint_id = '${ep.id}' AND environment = 'production' AND deleted_at IS NULL`), '1');
  const actions = (await audit(owner)).slice(before.length).split(',').filter(Boolean);
  assert.deepEqual(actions, ['endpoint.deactivate', 'endpoint.activate', 'endpoint.clear_sandbox']);
});

test('delete: endpoints_get over MCP (official SDK) answers not found, its keys get 401, archives stay', async () => {
  const ep = await deployedEndpoint(owner, 'Doomed');
  const stored = await storedKeys(owner.email, ep.slug);
  // A production record, a collaboration key, and an archive file row.
  const post = await request(sys, {
    method: 'POST', path: `/api/v1/data/${ep.slug}`, body: { email: 'b@example.com' },
    headers: { Authorization: `Bearer ${stored.production_key}`, 'Content-Type': 'application/json' },
  });
  assert.equal(post.status, 202, post.text);
  await mcp(owner, 'collaborators_create_key', { endpoint: ep.id, name: 'Partner' });
  await q(`INSERT INTO archives (id, account_id, endpoint_id, day, record_count, jsonl_path, jsonl_bytes, jsonl_sha256, csv_path, csv_bytes, csv_sha256)
    VALUES (gen_random_uuid(), '${owner.id}', '${ep.id}', '2020-01-01', 1, 'x.jsonl.gz', 1, repeat('a', 64), 'x.csv', 1, repeat('b', 64))`);
  const got = await client.callTool({ name: 'endpoints_get', arguments: { endpoint: ep.id } });
  assert.ok(!got.isError, JSON.stringify(got));

  const page = await signedIn(owner);
  await page.goto(`/dashboard/endpoints/${ep.id}`);
  const resp = await submit(page, 'Delete this endpoint', { confirm_name: ep.name, password: PASSWORD });
  assert.equal(resp.status(), 303);
  assert.equal(new URL(page.url()).pathname, '/dashboard');
  assert.match(await page.textContent('.ok'), new RegExp(`"${ep.name}" was deleted`));
  assert.equal(await page.locator('tbody tr', { hasText: ep.name }).count(), 0);

  for (const ref of [ep.id, ep.slug, ep.name]) {
    const res = await client.callTool({ name: 'endpoints_get', arguments: { endpoint: ref } });
    assert.ok(res.isError, JSON.stringify(res));
    assert.equal(JSON.parse(res.content[0].text).error.code, 'not_found');
  }
  for (const key of [stored.sandbox_key, stored.production_key]) {
    const r = await gateway(ep.slug, key);
    assert.ok([401, 404].includes(r.status), `${r.status} ${r.text}`);
  }
  assert.equal(await q(`SELECT count(*) FROM records WHERE endpoint_id = '${ep.id}'`), '0');
  assert.equal(await q(`SELECT count(*) FROM api_keys WHERE endpoint_id = '${ep.id}'`), '0');
  assert.equal(await q(`SELECT count(*) FROM collaboration_keys WHERE endpoint_id = '${ep.id}'`), '0');
  assert.equal(await q(`SELECT count(*) FROM webhooks WHERE endpoint_id = '${ep.id}'`), '0');
  assert.equal(await q(`SELECT count(*) FROM archives WHERE endpoint_id = '${ep.id}'`), '1', 'archive files stay');
  // The page is gone; the name is free again.
  const gone = await page.goto(`/dashboard/endpoints/${ep.id}`);
  assert.equal(gone.status(), 404);
  await mcp(owner, 'endpoints_create', { name: ep.name });

  await page.goto('/audit');
  const row = await page.locator('tbody tr').first().textContent();
  assert.match(row, /endpoint\.delete/);
  assert.ok(row.includes(ep.id));
  assert.match(row, /"collaboration_keys":1.*"keys":4.*"records":2/);
});

test('names are text, never markup; no revealed secret and no password reaches the edge or worker logs', async () => {
  const name = `<b>bold</b> & "quoted" ${unique('x')}`;
  const ep = (await mcp(owner, 'endpoints_create', { name })).endpoint;
  const page = await signedIn(owner);
  assert.equal(await page.locator('main b', { hasText: 'bold' }).count(), 0);
  assert.ok((await page.textContent('main')).includes(name));
  await page.goto(`/dashboard/endpoints/${ep.id}`);
  assert.equal(await page.textContent('h1'), name);
  assert.equal(await page.locator('main b', { hasText: 'bold' }).count(), 0);
  // Deleting it needs the name as typed, markup characters and all.
  const resp = await submit(page, 'Delete this endpoint', { confirm_name: name, password: PASSWORD });
  assert.equal(resp.status(), 303);
  assert.ok((await page.textContent('.ok')).includes(name));

  assert.ok(revealed.length >= 3);
  for (const p of [sys.edge, ...sys.workers]) {
    const log = readFileSync(p.logPath, 'utf8');
    for (const secret of [...revealed, PASSWORD]) assert.ok(!log.includes(secret), `${p.name} logged a secret`);
  }
});

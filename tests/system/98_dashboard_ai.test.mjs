// Settings → AI Integration and Settings → Subscription (issue 6 items 4
// and 5), end to end in headless Chromium against a real edge, workers and
// PostgreSQL: an MCP key created in the browser, shown once with the Claude
// Code and Cursor configurations, used with the official SDK client, renamed,
// regenerated and deleted (the old key refused within the edge's key cache
// bound); an OAuth grant listed and revoked (its refresh token refused at
// once, its access token within 60 s); the plan changed and cancelled, as the
// subscription tool and the gateway see it. Every destructive action needs
// the password and lands in the audit log; forms without the CSRF token and
// another account's ids change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  startSystem, createAccount, accountWithKey, createKey, keyId, legacy, psql, sleep, unique,
} from '../lib/system.mjs';
import { launch } from '../lib/browser.mjs';
import { connect, token, loopbackSource } from '../lib/oauth.mjs';

const PASSWORD = 'correct horse battery';
const KEY_CACHE_MS = 3000;                 // API_KEY_CACHE_MS of this system
const KEY_REFUSAL_MS = KEY_CACHE_MS + 5000; // the cache bound plus a round trip and slack
const REVOCATION_MS = 60000;               // what the product promises for connected apps
const SRC = loopbackSource();
let sys, b;
const clients = [];

before(async () => {
  sys = await startSystem({ name: 'dash-ai', env: { API_KEY_CACHE_MS: String(KEY_CACHE_MS) } });
  b = await launch(sys);
});
after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await b?.close();
  await sys?.stop();
});

const q = async (sql) => (await psql(sql)).join('\n');
const mcpStatus = async (bearer) => (await legacy(sys, bearer, 'tools/list', {})).status;

async function sdkClient(key) {
  const c = new Client({ name: '3min-dashboard-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(sys.mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  }));
  clients.push(c);
  return c;
}

async function callTool(c, name, args = {}) {
  const r = await c.callTool({ name, arguments: args });
  assert.ok(!r.isError, `${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent;
}

async function signedIn(email) {
  const page = await b.newPage();
  await b.signIn(email, PASSWORD, { page });
  assert.equal(new URL(page.url()).pathname, '/dashboard', await page.content());
  return page;
}

// Polls until bearer is refused with 401; asserts it happened within ms of since.
async function waitRefused(bearer, since, ms, label) {
  let status;
  while (Date.now() - since < ms) {
    status = await mcpStatus(bearer);
    if (status === 401) return;
    await sleep(200);
  }
  assert.fail(`${label}: still answered ${status} ${ms} ms after`);
}

// Submits the form holding `button` on page; resolves with the POST's response.
async function submit(page, button) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.click(button),
  ]);
  await page.waitForLoadState('load');
  return res;
}

const auditActions = async (acct) => (await q(
  `SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE account_id = '${acct.id}'`));

async function createInBrowser(page, name, scopes = ['read', 'write', 'execute']) {
  await page.goto('/settings/ai');
  await page.fill('#key_name', name);
  for (const s of ['read', 'write', 'execute']) {
    const box = page.locator(`input[name=scope][value=${s}]`);
    if (scopes.includes(s)) await box.check(); else await box.uncheck();
  }
  await submit(page, 'button:has-text("Create key")');
  assert.equal(new URL(page.url()).pathname, '/settings/ai/new-key', await page.content());
  return (await page.textContent('#key')).trim();
}

test('MCP keys: create in the browser, shown once with configurations, used by the SDK, renamed, regenerated, deleted', async () => {
  const acct = await createAccount('dash-ai-keys');
  const page = await signedIn(acct.email);
  await page.goto('/settings/ai');
  assert.equal(await page.textContent('h1'), 'AI Integration');
  assert.match(await page.textContent('main'), /No keys yet/);

  const key = await createInBrowser(page, 'Claude Code <laptop>');
  assert.match(key, /^tm_mcp_[A-Za-z0-9_-]{43}$/);
  assert.match(await page.textContent('.ok'), /Key created/);
  const claude = await page.textContent('#claude');
  assert.equal(claude, `claude mcp add --transport http 3minapi ${sys.url}/api/mcp \\\n  --header "Authorization: Bearer ${key}"`);
  assert.deepEqual(JSON.parse(await page.textContent('#cursor')),
    { mcpServers: { '3minapi': { url: `${sys.url}/api/mcp`, headers: { Authorization: `Bearer ${key}` } } } });
  assert.match(await page.textContent('main'), /Claude Code <laptop>/, 'the name is shown as text');
  await b.screenshot('settings-ai-new-key', { page });

  // Stored only as SHA-256: not in the key table, the idempotency record or the audit log.
  assert.equal(await q(`SELECT count(*) FROM mcp_api_keys WHERE account_id = '${acct.id}' AND key_hash = sha256('${key}'::bytea) AND prefix = '${key.slice(0, 11)}'`), '1');
  assert.equal(await q(`SELECT count(*) FROM applied_requests WHERE position('${key.slice(7)}' in coalesce(result::text, '')) > 0`), '0');
  assert.equal(await q(`SELECT count(*) FROM audit_log WHERE position('${key.slice(7)}' in details::text) > 0`), '0');
  // Shown once: the page again has no key.
  await page.goto('/settings/ai/new-key');
  assert.match(await page.textContent('main'), /no new key to show/);
  assert.ok(!(await page.content()).includes(key.slice(7)), 'the key is not shown twice');

  // The official SDK client with the key.
  const c = await sdkClient(key);
  const { tools } = await c.listTools();
  assert.ok(tools.some((t) => t.name === 'endpoints_list') && tools.some((t) => t.name === 'endpoints_create'));
  assert.deepEqual((await callTool(c, 'endpoints_list')).items, []);

  // A read-only key sees no write tools.
  const readKey = await createInBrowser(page, 'read only', ['read']);
  const rc = await sdkClient(readKey);
  const readTools = (await rc.listTools()).tools.map((t) => t.name);
  assert.ok(readTools.includes('endpoints_list') && !readTools.includes('endpoints_create'), readTools.join());

  // The list: names, masked keys, scopes, last used.
  await page.goto('/settings/ai');
  const rowOf = (name) => page.locator('tbody tr', { has: page.locator('th', { hasText: name }) }).first();
  const row = await rowOf('Claude Code <laptop>').textContent();
  assert.match(row, new RegExp(`${key.slice(0, 11)}…`));
  assert.ok(!row.includes(key.slice(11)), 'only the prefix is shown');
  assert.match(row, /read, write, execute/);
  assert.doesNotMatch(row, /never/, 'used by the SDK client');
  assert.match(await rowOf('read only').textContent(), /read/);
  await b.screenshot('settings-ai', { page });

  // Rename.
  const id = await keyId(acct, key);
  await page.goto(`/settings/ai/keys/${id}`);
  await page.fill('#name', 'Claude Code');
  await submit(page, 'button:has-text("Rename")');
  assert.equal(new URL(page.url()).pathname, `/settings/ai/keys/${id}`);
  assert.match(await page.textContent('.ok'), /renamed/);
  assert.equal(await q(`SELECT name FROM mcp_api_keys WHERE id = '${id}'`), 'Claude Code');

  // Regenerate: a wrong password changes nothing; the right one shows a new key once.
  const hashBefore = await q(`SELECT encode(key_hash, 'hex') FROM mcp_api_keys WHERE id = '${id}'`);
  await page.fill('#regen_password', 'not my password');
  let res = await submit(page, 'button:has-text("Regenerate key")');
  assert.equal(res.status(), 403);
  assert.match(await page.textContent('.msg'), /wrong password/);
  assert.equal(await q(`SELECT encode(key_hash, 'hex') FROM mcp_api_keys WHERE id = '${id}'`), hashBefore);
  assert.equal(await mcpStatus(key), 200);

  await page.goto(`/settings/ai/keys/${id}`);
  await page.fill('#regen_password', PASSWORD);
  await submit(page, 'button:has-text("Regenerate key")');
  const regenerated = Date.now();
  assert.equal(new URL(page.url()).pathname, '/settings/ai/new-key');
  const key2 = (await page.textContent('#key')).trim();
  assert.match(key2, /^tm_mcp_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(key2, key);
  assert.equal(await mcpStatus(key2), 200, 'the new key works at once');
  await waitRefused(key, regenerated, KEY_REFUSAL_MS, 'the regenerated key');
  assert.equal(await q(`SELECT count(*) FROM mcp_api_keys WHERE account_id = '${acct.id}' AND revoked_at IS NULL`), '2',
    'the same entry: no new key row');

  // Delete: wrong password refused, then deleted; the key is refused within the cache bound.
  await page.goto(`/settings/ai/keys/${id}`);
  await page.fill('#delete_password', 'still not my password');
  res = await submit(page, 'button:has-text("Delete key")');
  assert.equal(res.status(), 403);
  assert.equal(await q(`SELECT revoked_at IS NULL FROM mcp_api_keys WHERE id = '${id}'`), 't');
  await page.goto(`/settings/ai/keys/${id}`);
  await page.fill('#delete_password', PASSWORD);
  await submit(page, 'button:has-text("Delete key")');
  const deleted = Date.now();
  assert.equal(new URL(page.url()).pathname, '/settings/ai');
  assert.match(await page.textContent('.ok'), /Key deleted/);
  assert.equal(await page.locator('tbody th', { hasText: 'Claude Code' }).count(), 0, 'not listed any more');
  await waitRefused(key2, deleted, KEY_REFUSAL_MS, 'the deleted key');
  const gone = await page.goto(`/settings/ai/keys/${id}`);
  assert.equal(gone.status(), 404);

  assert.equal(await auditActions(acct),
    'mcp_key.create,mcp_key.create,mcp_key.rename,mcp_key.regenerate,mcp_key.delete');
  await page.goto('/audit');
  const audit = await page.textContent('tbody');
  for (const a of ['mcp_key.create', 'mcp_key.rename', 'mcp_key.regenerate', 'mcp_key.delete']) assert.match(audit, new RegExp(a.replace('.', '\\.')));
  assert.equal(await q(`SELECT count(*) FROM login_failures WHERE account_id = '${acct.id}'`), '2',
    'wrong passwords count as failed sign-ins');
});

test('connected apps: an OAuth grant is listed; revoking it stops its refresh token at once and its access token within 60 s', async () => {
  const acct = await createAccount('dash-ai-apps');
  await createKey(acct, { name: 'cli key' });
  const c = await connect(sys, acct, { src: SRC });
  assert.equal(await mcpStatus(c.tokens.access_token), 200);
  const grant = await q(`SELECT id FROM oauth_grants WHERE account_id = '${acct.id}' AND revoked_at IS NULL`);

  const page = await signedIn(acct.email);
  await page.goto('/settings/ai');
  const row = await page.locator('#apps ~ .table tbody tr').first().textContent();
  assert.match(row, /Claude/);
  assert.match(row, /claude\.ai/, 'the redirect host');
  assert.match(row, /read, write, execute/);
  assert.match(row, /\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  await b.screenshot('settings-ai-apps', { page });

  await page.click('a:has-text("Revoke")');
  assert.equal(new URL(page.url()).pathname, `/settings/ai/apps/${grant}`);
  await page.fill('#password', 'wrong password here');
  const res = await submit(page, 'button:has-text("Revoke access")');
  assert.equal(res.status(), 403);
  assert.equal(await q(`SELECT revoked_at IS NULL FROM oauth_grants WHERE id = '${grant}'`), 't');

  await page.goto(`/settings/ai/apps/${grant}`);
  await page.fill('#password', PASSWORD);
  await submit(page, 'button:has-text("Revoke access")');
  const revoked = Date.now();
  assert.equal(new URL(page.url()).pathname, '/settings/ai');
  assert.match(await page.textContent('.ok'), /Access revoked/);
  assert.match(await page.textContent('main'), /No apps are connected/);

  const r = await token(sys, c.client, { grant_type: 'refresh_token', refresh_token: c.tokens.refresh_token }, { src: SRC });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant', 'the refresh token is refused at once');
  await waitRefused(c.tokens.access_token, revoked, REVOCATION_MS, 'the revoked app\'s access token');
  assert.equal(await auditActions(acct), 'oauth_grant.revoke');
  await page.goto('/audit');
  assert.match(await page.textContent('tbody'), /oauth_grant\.revoke/);
});

test('subscription: plan and usage as the tool reports them; change and cancel need the password; the tool and the gateway follow', async () => {
  const acct = await accountWithKey('dash-sub');
  const c = await sdkClient(acct.key);
  const { endpoint: ep } = await callTool(c, 'endpoints_create', { name: unique('Quota') });
  const post = async () => (await callTool(c, 'api_call', { endpoint: ep.id, method: 'POST', body: { n: 1 } })).response.status;
  assert.equal(await post(), 202);
  await psql(`UPDATE usage_counters SET calls = 1000 WHERE account_id = '${acct.id}'`);
  assert.equal(await post(), 402, 'free: the quota is used up');

  const page = await signedIn(acct.email);
  await page.goto('/settings/subscription');
  const tool = await callTool(c, 'subscription');
  assert.equal(await page.textContent('#current-plan'), 'free');
  assert.match(await page.textContent('#usage'), /^1,000 of 1,000 calls \(100\.0%\)$/);
  assert.equal(tool.usage.used, 1000);
  assert.match(await page.textContent('main'), new RegExp(tool.period.start.slice(0, 10)));
  assert.match(await page.textContent('main'), /No plan changes yet/);

  // A wrong password changes nothing.
  await page.check('#plan-basic');
  await page.fill('#change_password', 'not the password');
  let res = await submit(page, 'button:has-text("Change plan")');
  assert.equal(res.status(), 403);
  assert.match(await page.textContent('.msg'), /wrong password/);
  assert.equal((await callTool(c, 'subscription')).plan.code, 'free');

  await page.goto('/settings/subscription');
  await page.check('#plan-basic');
  await page.fill('#change_password', PASSWORD);
  await submit(page, 'button:has-text("Change plan")');
  assert.equal(new URL(page.url()).pathname, '/settings/subscription');
  assert.match(await page.textContent('.ok'), /now on the basic plan/);
  assert.equal(await page.textContent('#current-plan'), 'basic');
  assert.match(await page.textContent('#usage'), /of 30,000 calls/);
  let s = await callTool(c, 'subscription');
  assert.deepEqual(s.plan, { code: 'basic', limit: 30000, price_usd: 10, overage_per_call: null });
  assert.equal(await post(), 202, 'basic: the gateway lets the call through at once');
  await b.screenshot('settings-subscription', { page });

  // Cancel: back to free at once, and the gateway refuses again.
  await page.fill('#cancel_password', PASSWORD);
  await submit(page, 'button:has-text("Cancel plan")');
  assert.match(await page.textContent('.ok'), /Plan cancelled: you are now on the free plan/);
  assert.equal(await page.textContent('#current-plan'), 'free');
  assert.equal(await page.locator('button:has-text("Cancel plan")').count(), 0, 'nothing to cancel on free');
  s = await callTool(c, 'subscription');
  assert.equal(s.plan.code, 'free');
  assert.equal(s.status, 'active');
  assert.equal(await post(), 402, 'free again: over the quota');
  const history = await page.textContent('main');
  assert.match(history, /basic\s*free\s*you, in the dashboard/);
  assert.equal(await q(`SELECT string_agg(from_plan || '>' || to_plan || ':' || via, ',' ORDER BY id) FROM plan_changes WHERE account_id = '${acct.id}'`),
    'free>basic:dashboard,basic>free:dashboard');
  assert.equal(await q(`SELECT plan FROM accounts WHERE id = '${acct.id}'`), 'free', 'the mirror follows');
  assert.equal(await auditActions(acct), 'subscription.change,subscription.cancel');
  await page.goto('/audit');
  assert.match(await page.textContent('tbody'), /subscription\.cancel[\s\S]*subscription\.change/);

  // Changing to the current plan, or to a plan that does not exist, is refused.
  for (const plan of ['free', 'platinum']) {
    const r = await page.request.post('/settings/subscription/change', {
      form: { csrf_token: await b.csrf({ page }), plan, password: PASSWORD }, maxRedirects: 0,
    });
    assert.ok([400, 409].includes(r.status()), `${plan}: ${r.status()}`);
  }
  assert.equal(await auditActions(acct), 'subscription.change,subscription.cancel');
});

test('CSRF-less POSTs are 403 and change nothing; another account\'s keys and apps are 404', async () => {
  const a = await accountWithKey('dash-ai-a');
  const other = await accountWithKey('dash-ai-b');
  const otherKeyId = await keyId(other, other.key);
  await connect(sys, other, { src: SRC });
  const otherGrant = await q(`SELECT id FROM oauth_grants WHERE account_id = '${other.id}' AND revoked_at IS NULL`);
  const otherKeyName = await q(`SELECT name FROM mcp_api_keys WHERE id = '${otherKeyId}'`);
  const myKeyId = await keyId(a, a.key);

  const page = await signedIn(a.email);
  await page.goto('/settings/ai');
  const csrf = await b.csrf({ page });
  const post = (path, form) => page.request.post(path, { form, maxRedirects: 0 });

  // Without the token (or with a wrong one): 403, nothing changes.
  for (const token of [undefined, 'x'.repeat(43)]) {
    const t = token === undefined ? {} : { csrf_token: token };
    for (const [path, form] of [
      ['/settings/ai/keys', { name: 'forged', scope: 'read' }],
      [`/settings/ai/keys/${myKeyId}/delete`, { password: PASSWORD }],
      [`/settings/ai/keys/${myKeyId}/rename`, { name: 'forged' }],
      ['/settings/subscription/change', { plan: 'pro', password: PASSWORD }],
      ['/settings/subscription/cancel', { password: PASSWORD }],
    ]) {
      const r = await post(path, { ...form, ...t });
      assert.equal(r.status(), 403, `${path}: ${r.status()}`);
      assert.match(await r.text(), /Nothing was changed/);
    }
  }
  assert.equal(await q(`SELECT count(*) FROM mcp_api_keys WHERE account_id = '${a.id}' AND revoked_at IS NULL AND name <> 'forged'`), '1');
  assert.equal(await q(`SELECT count(*) FROM mcp_api_keys WHERE name = 'forged'`), '0');
  assert.equal((await callTool(await sdkClient(a.key), 'subscription')).plan.code, 'free');

  // Bad input with the right token: a clear 400, nothing created.
  for (const form of [{ name: 'no scopes' }, { name: 'bad\u0007name', scope: 'read' }, { name: 'x'.repeat(65), scope: 'read' },
    { name: 'unknown scope', scope: 'admin' }, { scope: 'read' }]) {
    const r = await post('/settings/ai/keys', { ...form, csrf_token: csrf });
    assert.equal(r.status(), 400, `${JSON.stringify(form)}: ${r.status()}`);
    assert.match(await r.text(), /Nothing was changed/);
  }
  assert.equal(await q(`SELECT count(*) FROM mcp_api_keys WHERE account_id = '${a.id}'`), '1');

  // Another account's ids: 404 on every page and action, never its data.
  for (const path of [`/settings/ai/keys/${otherKeyId}`, `/settings/ai/apps/${otherGrant}`]) {
    const r = await page.goto(path);
    assert.equal(r.status(), 404, path);
    const html = await page.content();
    assert.ok(!html.includes(otherKeyName) && !html.includes(other.key.slice(0, 11)), 'nothing of the other account');
  }
  for (const [path, form] of [
    [`/settings/ai/keys/${otherKeyId}/delete`, { password: PASSWORD }],
    [`/settings/ai/keys/${otherKeyId}/regenerate`, { password: PASSWORD }],
    [`/settings/ai/keys/${otherKeyId}/rename`, { name: 'taken over' }],
    [`/settings/ai/apps/${otherGrant}/revoke`, { password: PASSWORD }],
  ]) {
    const r = await post(path, { ...form, csrf_token: csrf });
    assert.equal(r.status(), 404, `${path}: ${r.status()}`);
  }
  assert.equal(await q(`SELECT name || ':' || (revoked_at IS NULL) FROM mcp_api_keys WHERE id = '${otherKeyId}'`), `${otherKeyName}:true`);
  assert.equal(await q(`SELECT revoked_at IS NULL FROM oauth_grants WHERE id = '${otherGrant}'`), 't');
  assert.equal(await mcpStatus(other.key), 200);

  // Malformed ids and unknown actions are 404 before any query.
  for (const path of ['/settings/ai/keys/not-a-uuid', `/settings/ai/keys/${myKeyId}/nope`, `/settings/ai/apps/${myKeyId}x`,
    "/settings/ai/keys/'%20OR%201=1--"]) {
    const r = await page.goto(path);
    assert.equal(r.status(), 404, path);
  }
  // A planted new-key cookie shows nothing that is not the account's own new key.
  await page.context().addCookies([{ name: 'tm_newkey', value: `${otherKeyId}${other.key}`, url: `${sys.url}/settings/ai/new-key` }]);
  const planted = await page.goto('/settings/ai/new-key');
  assert.equal(planted.status(), 404);
  assert.ok(!(await page.content()).includes(other.key.slice(7)));
  assert.equal(await auditActions(a), '');
});

test('on a phone the pages fit the screen: wide tables scroll inside their box, nothing else does', async () => {
  const a = await accountWithKey('dash-ai-phone');
  await connect(sys, a, { src: SRC });
  const page = await b.newPage({ phone: true });
  await b.signIn(a.email, PASSWORD, { page });
  const id = await keyId(a, a.key);
  for (const path of ['/settings/ai', `/settings/ai/keys/${id}`, '/settings/subscription']) {
    await page.goto(path);
    const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(scroll <= client, `${path}: ${scroll} > ${client}`);
  }
  const key = await createInBrowser(page, 'phone');
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client, `new key page: ${scroll} > ${client}`);
  assert.match(key, /^tm_mcp_/);
});

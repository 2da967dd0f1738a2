// The dashboard's Archives and Profile pages (issue 6 items 6 and 7), end to
// end in headless Chromium:
//
// - /archives lists the files bin/jobs wrote (endpoint, day, formats with
//   size and SHA-256, created), filters by endpoint and days, pages by 25;
//   a download redirects to the signed link and serves the same bytes;
//   deleting (password) removes both files and their by-id links, marks the
//   row, is audited, and logs_fetch_archived then says the archive was
//   deleted; the old signed link is 404;
// - /settings/profile: the time zone (pg_timezone_names names only), the
//   account-wide notification settings, and deleting the account (e-mail typed
//   + password): data and files gone, every session signed out, the MCP key
//   and the OAuth tokens refused, sign-in refused, the address free to sign up
//   again, and one tombstone audit row without a client address;
// - every action: a POST without the CSRF token is 403 and changes nothing, a
//   wrong password is refused and changes nothing, another account's ids are
//   404.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  BIN_DIR, DB_URL, LOG_DIR, startSystem, accountWithKey, createAccount, tool, toolError, psql, unique, request, sleep,
} from '../lib/system.mjs';
import { launch } from '../lib/browser.mjs';
import { connect, token, loopbackSource } from '../lib/oauth.mjs';

const PASSWORD = 'correct horse battery';
const SRC = loopbackSource();
let sys, b, archiveDir;

before(async () => {
  sys = await startSystem({ name: 'dash-rest' });
  archiveDir = join(sys.env.STATE_DIR, 'archives');
  b = await launch(sys);
});
after(async () => {
  await b?.close();
  await sys?.stop();
});

const q = async (sql) => (await psql(sql)).join('\n');
const sc = (r) => {
  assert.ok(!r.isError, `tool error: ${JSON.stringify(r)}`);
  return r.structuredContent;
};

// `3min endpoint keys` (full keys), with the system's STATE_DIR where the secrets key is.
function endpointKeys(email, slug) {
  return new Promise((resolve, reject) => {
    execFile(join(BIN_DIR, '3min'), ['endpoint', 'keys', '--email', email, '--endpoint', slug],
      { env: { ...process.env, DATABASE_URL: DB_URL, STATE_DIR: sys.stateDir } },
      (err, stdout, stderr) => (err ? reject(new Error(`3min endpoint keys: ${stderr}`)) : resolve(stdout)));
  });
}

let passes = 0;
async function archivePass() {
  const log = createWriteStream(join(LOG_DIR, `jobs-archive-99-${process.pid}-${++passes}.log`));
  const child = spawn(join(BIN_DIR, 'jobs'), ['--once', 'archive'], { env: sys.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c) => { log.write(c); out += c.toString(); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0, `archive pass failed: ${out}`);
}

// Production call logs of one endpoint, one per day for each of days (days ago), inserted as the owner.
async function logsOn(acct, ep, days) {
  const values = days.map((d, i) => `(date_trunc('day', now() - interval '${Number(d)} days') + interval '12 hours',
    '${acct}', '${ep}', 'production', 'POST', 'rec_${unique('r').replace(/[^a-z0-9]/gi, '')}${i}', 'owner', 201,
    'success', '{"day":${Number(d)}}', 11, '{}', 2)`);
  await psql(`INSERT INTO call_logs (created_at, account_id, endpoint_id, environment, method, record_id,
      caller_kind, status_code, outcome, request_body, request_bytes, response_body, response_bytes)
    VALUES ${values.join(',')}`);
}

async function newEndpoint(a, label) {
  return sc(await tool(sys, a.key, 'endpoints_create', { name: unique(label) })).endpoint;
}

async function signedIn(email, { phone = false } = {}) {
  const page = await b.newPage({ phone });
  await b.signIn(email, PASSWORD, { page });
  assert.equal(new URL(page.url()).pathname, '/dashboard', await page.content());
  return page;
}

// A form POST from the page's session (cookies), without following the redirect.
const post = (page, path, form) => page.request.post(path, { form, maxRedirects: 0 });

const rowsOf = (page) => page.locator('main tbody tr');

test('archives: list, filters, paging, download, delete with password; CSRF, wrong password and other accounts refused', async () => {
  const a = await accountWithKey('dash-arch');
  const orders = await newEndpoint(a, 'Orders');
  const leads = await newEndpoint(a, 'Leads');
  await logsOn(a.id, orders.id, [40, 39]);
  await logsOn(a.id, leads.id, [41]);
  await archivePass();
  const archives = (await psql(`SELECT a.id || '|' || e.slug || '|' || a.day || '|' || a.jsonl_sha256 || '|' || a.csv_sha256
      || '|' || a.jsonl_path || '|' || a.csv_path
    FROM archives a JOIN endpoints e ON e.id = a.endpoint_id WHERE a.account_id = '${a.id}' ORDER BY a.day DESC`))
    .map((l) => { const [id, slug, day, jsha, csha, jpath, cpath] = l.split('|'); return { id, slug, day, jsha, csha, jpath, cpath }; });
  assert.equal(archives.length, 3);

  const page = await signedIn(a.email);
  await page.goto('/archives');
  assert.equal(await page.textContent('h1'), 'Archives');
  assert.equal(await rowsOf(page).count(), 3);
  const text = await page.textContent('main table');
  for (const x of archives) {
    assert.ok(text.includes(x.slug) && text.includes(x.day) && text.includes(x.jsha) && text.includes(x.csha), x.id);
  }
  assert.match(text, /JSONL \(gzip\), \d+ B/);
  assert.match(text, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/, 'created');
  assert.equal(await page.locator('th[scope=col]').count(), 6);
  await b.screenshot('archives', { page });

  // Filters: endpoint, then days.
  await page.selectOption('#endpoint', leads.id);
  await page.click('button:has-text("Filter")');
  assert.equal(await rowsOf(page).count(), 1);
  assert.ok((await page.textContent('main tbody')).includes(leads.slug));
  await page.goto(`/archives?from=${archives[1].day}&to=${archives[0].day}`);
  assert.equal(await rowsOf(page).count(), 2);
  await page.goto(`/archives?endpoint=${orders.id}&from=${archives[0].day}`);
  assert.equal(await rowsOf(page).count(), 1);
  for (const bad of ['/archives?from=2026-02-31', '/archives?endpoint=nope', '/archives?after=x']) {
    const r = await page.request.get(bad);
    assert.equal(r.status(), 400, bad);
  }

  // Download: a redirect to the signed link, which serves the file the list describes.
  const first = archives[0];
  const r = await page.request.get(`/archives/download?id=${first.id}&format=jsonl`, { maxRedirects: 0 });
  assert.equal(r.status(), 303);
  const loc = new URL(r.headers().location);
  assert.equal(loc.origin, sys.url);
  assert.match(loc.pathname, new RegExp(`^/archives/${first.id}/download$`));
  const file = await page.request.get(loc.pathname + loc.search);
  assert.equal(file.status(), 200);
  assert.equal(createHash('sha256').update(await file.body()).digest('hex'), first.jsha);
  const rc = await page.request.get(`/archives/download?id=${first.id}&format=csv`, { maxRedirects: 0 });
  const csv = await page.request.get(new URL(rc.headers().location).pathname + new URL(rc.headers().location).search);
  assert.equal(createHash('sha256').update(await csv.body()).digest('hex'), first.csha);

  // Another account: every id of a's is 404, and its own list is empty.
  const other = await accountWithKey('dash-arch-other');
  const op = await signedIn(other.email);
  for (const path of [`/archives/delete?id=${first.id}`, `/archives/download?id=${first.id}&format=jsonl`,
    `/archives?endpoint=${orders.id}`]) {
    const x = await op.request.get(path, { maxRedirects: 0 });
    assert.equal(x.status(), 404, path);
    assert.ok(!(await x.text()).includes(first.jsha));
  }
  await op.goto('/archives');
  assert.equal(await rowsOf(op).count(), 0);
  const csrfO = await b.csrf({ page: op });
  const xo = await post(op, '/archives/delete', { csrf_token: csrfO, id: first.id, password: PASSWORD });
  assert.equal(xo.status(), 404);

  // No CSRF token, and a wrong password: refused, nothing changed.
  const live = async () => q(`SELECT count(*) FROM archives WHERE id = '${first.id}' AND deleted_at IS NULL`);
  const x1 = await post(page, '/archives/delete', { id: first.id, password: PASSWORD });
  assert.equal(x1.status(), 403);
  const csrf = await b.csrf({ page });
  const x2 = await post(page, '/archives/delete', { csrf_token: csrf, id: first.id, password: 'not my password' });
  assert.equal(x2.status(), 403);
  assert.match(await x2.text(), /Wrong password/);
  assert.equal(await live(), '1');
  assert.ok(existsSync(join(archiveDir, first.jpath)) && existsSync(join(archiveDir, 'by-id', `${first.id}.jsonl.gz`)));
  assert.equal(await q(`SELECT count(*) FROM audit_log WHERE account_id = '${a.id}' AND action = 'archive.delete'`), '0');

  // Delete through the page.
  const signed = loc.pathname + loc.search;
  await page.goto('/archives');
  await page.click(`a[href="/archives/delete?id=${first.id}"]`);
  assert.equal(await page.textContent('h1'), 'Delete an archive');
  assert.match(await page.textContent('main'), new RegExp(`${first.slug}[\\s\\S]*${first.day}`));
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(/\/archives$/), page.click('button:has-text("Delete this archive")')]);
  assert.match(await page.textContent('.ok'), new RegExp(`archive of ${first.slug} for ${first.day} was deleted \\(1 log entries\\)`));
  assert.equal(await rowsOf(page).count(), 2);
  assert.equal(await live(), '0');
  assert.equal(await q(`SELECT count(*) FROM archives WHERE id = '${first.id}' AND deleted_at IS NOT NULL`), '1');
  for (const f of [first.jpath, first.cpath, `by-id/${first.id}.jsonl.gz`, `by-id/${first.id}.csv`]) {
    assert.ok(!existsSync(join(archiveDir, f)), `${f} removed`);
  }
  assert.ok(existsSync(join(archiveDir, archives[1].jpath)), 'the other archives stay');
  // The signed link made before is dead; a second delete is 404.
  assert.equal((await page.request.get(signed)).status(), 404);
  const again = await post(page, '/archives/delete', { csrf_token: csrf, id: first.id, password: PASSWORD });
  assert.equal(again.status(), 404);
  // MCP: gone from archives_list; its log entry says the archive file was deleted.
  const list = sc(await tool(sys, a.key, 'archives_list', {}));
  assert.ok(!list.items.some((x) => x.id === first.id));
  const [logId] = await psql(`SELECT id FROM call_logs WHERE archive_id = '${first.id}'`);
  const e = toolError(await tool(sys, a.key, 'logs_fetch_archived', { endpoint: first.slug, log_id: logId }));
  assert.equal(e.code, 'not_found');
  assert.match(e.message, /archive file \(\d{4}-\d\d-\d\d\) was deleted in the dashboard/);
  assert.equal(e.details.reason, 'archive_deleted');
  const look = sc(await tool(sys, a.key, 'logs_lookup', { endpoint: first.slug, log_id: logId }));
  assert.equal(look.archived, true);

  // The audit page shows it.
  await page.goto('/audit');
  const audit = await page.textContent('main table');
  assert.match(audit, /archive\.delete/);
  assert.ok(audit.includes(first.id));
});

test('archives: 25 a page, the next page keeps the filters', async () => {
  const a = await accountWithKey('dash-arch-pages');
  const ep = await newEndpoint(a, 'Busy');
  await logsOn(a.id, ep.id, Array.from({ length: 27 }, (_, i) => 35 + i));
  await archivePass();
  const page = await signedIn(a.email);
  await page.goto(`/archives?endpoint=${ep.id}`);
  assert.equal(await rowsOf(page).count(), 25);
  const firstPage = await page.locator('main tbody th[scope=row]').allTextContents();
  await page.click('a[rel=next]');
  assert.match(page.url(), new RegExp(`endpoint=${ep.id}`));
  const second = await page.locator('main tbody th[scope=row]').allTextContents();
  assert.equal(second.length, 2);
  assert.equal(await page.locator('a[rel=next]').count(), 0);
  const all = [...firstPage, ...second];
  assert.equal(new Set(all).size, 27);
  assert.deepEqual(all, [...all].sort().reverse(), 'newest day first');

  // On a phone the pages fit the screen: only the table scrolls, inside its box.
  const phone = await signedIn(a.email, { phone: true });
  for (const path of ['/archives', `/archives/delete?id=${(await psql(`SELECT id FROM archives WHERE endpoint_id = '${ep.id}' LIMIT 1`))[0]}`,
    '/settings/profile']) {
    await phone.goto(path);
    const [scroll, client] = await phone.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(scroll <= client, `${path}: page ${scroll} px wide on a ${client} px screen`);
  }
});

test('profile: time zone and notification settings; CSRF and bad values refused; audited', async () => {
  const a = await createAccount('dash-profile');
  const page = await signedIn(a.email);
  await page.goto('/settings/profile');
  assert.equal(await page.textContent('h1'), 'Profile');
  assert.equal(await page.inputValue('#timezone'), 'UTC');
  assert.ok(await page.locator('#timezone option', { hasText: 'Asia/Seoul' }).count() === 1);
  assert.equal(await page.locator('#timezone option', { hasText: 'posix/' }).count(), 0);
  // Defaults: usage alerts on, endpoint events off.
  assert.equal(await page.isChecked('#n_usage_80'), true);
  assert.equal(await page.isChecked('#n_usage_100'), true);
  assert.equal(await page.isChecked('#n_call_failed'), false);
  // The password change of the same page is still there.
  assert.equal(await page.locator('#new_password').count(), 1);

  await page.selectOption('#timezone', 'Asia/Seoul');
  await Promise.all([page.waitForURL(/\/settings\/profile$/), page.click('button:has-text("Save time zone")')]);
  assert.match(await page.textContent('.ok'), /Time zone set to Asia\/Seoul/);
  assert.equal(await page.inputValue('#timezone'), 'Asia/Seoul');
  assert.equal(await q(`SELECT timezone FROM accounts WHERE id = '${a.id}'`), 'Asia/Seoul');

  const csrf = await b.csrf({ page });
  for (const bad of ['Mars/Olympus', 'posix/Europe/Paris', "Europe/Paris'; --", 'x'.repeat(65)]) {
    const r = await post(page, '/settings/profile/timezone', { csrf_token: csrf, timezone: bad });
    assert.equal(r.status(), 400, bad);
  }
  const noCsrf = await post(page, '/settings/profile/timezone', { timezone: 'Europe/Paris' });
  assert.equal(noCsrf.status(), 403);
  assert.equal(await q(`SELECT timezone FROM accounts WHERE id = '${a.id}'`), 'Asia/Seoul');

  await page.uncheck('#n_usage_80');
  await page.check('#n_call_failed');
  await Promise.all([page.waitForURL(/\/settings\/profile$/), page.click('button:has-text("Save notifications")')]);
  assert.match(await page.textContent('.ok'), /Notification settings saved/);
  assert.equal(await page.isChecked('#n_usage_80'), false);
  assert.equal(await page.isChecked('#n_call_failed'), true);
  assert.equal(await page.isChecked('#n_usage_100'), true);
  assert.deepEqual(await psql(`SELECT event || '=' || enabled FROM notification_rules
    WHERE account_id = '${a.id}' AND endpoint_id IS NULL ORDER BY event`),
  ['call_failed=true', 'deployed=false', 'usage_100=true', 'usage_80=false', 'webhook_failed=false']);
  const noCsrf2 = await post(page, '/settings/profile/notifications', { usage_80: 'on' });
  assert.equal(noCsrf2.status(), 403);
  assert.equal(await q(`SELECT enabled FROM notification_rules WHERE account_id = '${a.id}' AND event = 'usage_80'`), 'f');

  await page.goto('/settings/profile');
  await b.screenshot('profile', { page });
  await page.goto('/audit');
  const audit = await page.textContent('main table');
  assert.match(audit, /profile\.timezone/);
  assert.match(audit, /profile\.notifications/);
  await b.screenshot('audit', { page });
});

test('delete account: e-mail and password required; then data gone, signed out everywhere, keys and OAuth tokens refused, address free', async () => {
  const a = await accountWithKey('dash-delete');
  const ep = await newEndpoint(a, 'Doomed');
  await logsOn(a.id, ep.id, [45]);
  await archivePass();
  const [archiveRow] = await psql(`SELECT id || '|' || jsonl_path FROM archives WHERE account_id = '${a.id}'`);
  const [archiveId, archivePath] = archiveRow.split('|');
  assert.ok(existsSync(join(archiveDir, archivePath)));
  const gatewayKey = (await endpointKeys(a.email, ep.slug)).match(/tm_test_[A-Za-z0-9_-]{43}/)[0];
  const gw = () => request(sys, { method: 'GET', path: `/api/v1/data/${ep.slug}`, headers: { Authorization: `Bearer ${gatewayKey}` } });
  assert.equal((await gw()).status, 200);
  const conn = await connect(sys, a, { src: SRC });
  sc(await tool(sys, conn.tokens.access_token, 'endpoints_list'));
  sc(await tool(sys, a.key, 'endpoints_list'));

  const page = await signedIn(a.email);
  const elsewhere = await signedIn(a.email, { phone: true });
  const other = await createAccount('dash-delete-bystander');
  const bystander = await signedIn(other.email);
  await page.goto('/settings/profile');
  const csrf = await b.csrf({ page });
  const intact = async () => q(`SELECT count(*) FROM accounts WHERE id = '${a.id}' AND deleted_at IS NULL`);

  // Refusals that change nothing: no CSRF token, wrong password, wrong e-mail, another session's token.
  assert.equal((await post(page, '/settings/profile/delete', { confirm_email: a.email, password: PASSWORD })).status(), 403);
  const wrongPw = await post(page, '/settings/profile/delete', { csrf_token: csrf, confirm_email: a.email, password: 'nope nope nope' });
  assert.equal(wrongPw.status(), 403);
  assert.match(await wrongPw.text(), /Wrong password/);
  const wrongEmail = await post(page, '/settings/profile/delete', { csrf_token: csrf, confirm_email: other.email, password: PASSWORD });
  assert.equal(wrongEmail.status(), 400);
  assert.match(await wrongEmail.text(), /type your account&#39;s e-mail address exactly|type your account's e-mail address exactly/i);
  const byCsrf = await b.csrf({ page: bystander });
  assert.equal((await post(page, '/settings/profile/delete', { csrf_token: byCsrf, confirm_email: a.email, password: PASSWORD })).status(), 403);
  assert.equal(await intact(), '1');
  assert.ok(existsSync(join(archiveDir, archivePath)));

  await page.fill('#confirm_email', a.email.toUpperCase());
  await page.fill('#delete_password', PASSWORD);
  await Promise.all([page.waitForURL(/\/login$/), page.click('button:has-text("Delete my account")')]);
  assert.match(await page.textContent('.ok'), /account and all its data were deleted/);

  // What remains: the tombstone row without the address or a usable password, one audit row, revoked grants.
  assert.deepEqual(await psql(`SELECT email, password_hash, deleted_at IS NOT NULL FROM accounts WHERE id = '${a.id}'`),
    [`${a.id}@deleted.invalid|!|t`]);
  assert.deepEqual(await psql(`SELECT action || '|' || coalesce(ip, 'no ip') || '|' || (details->>'endpoints') || '|'
      || (details->>'oauth_grants_revoked') FROM audit_log WHERE account_id = '${a.id}'`), ['account.delete|no ip|1|1']);
  for (const t of ['endpoints', 'mcp_api_keys', 'web_sessions', 'records', 'call_logs', 'archives', 'api_keys',
    'notification_rules', 'subscriptions', 'oauth_refresh_tokens']) {
    assert.equal(await q(`SELECT count(*) FROM ${t} WHERE account_id = '${a.id}'`), '0', t);
  }
  assert.equal(await q(`SELECT count(*) FROM oauth_grants WHERE account_id = '${a.id}' AND revoked_at IS NULL`), '0');
  assert.ok(!existsSync(join(archiveDir, archivePath)), 'archive files removed');
  assert.ok(!existsSync(join(archiveDir, a.id)), 'the account directory removed');
  assert.ok(!readdirSync(join(archiveDir, 'by-id')).some((f) => f.startsWith(archiveId)), 'its by-id links removed');

  // Signed out everywhere: the other browser is sent to sign in; the bystander is untouched.
  await elsewhere.goto('/dashboard');
  assert.equal(new URL(elsewhere.url()).pathname, '/login');
  await bystander.goto('/dashboard');
  assert.equal(new URL(bystander.url()).pathname, '/dashboard');

  // The endpoint's gateway key is gone with it.
  assert.equal((await gw()).status, 401);
  // The refresh token is refused at once.
  const rt = await token(sys, conn.client, { grant_type: 'refresh_token', refresh_token: conn.tokens.refresh_token }, { src: SRC });
  assert.equal(rt.status, 400, rt.text);
  assert.equal(rt.json.error, 'invalid_grant');
  // The MCP key within the edge's key cache bound (30 s), the access token within the revocation poll (15 s).
  const refusedWithin = async (credential, ms) => {
    const end = Date.now() + ms;
    for (;;) {
      const r = await request(sys, { body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        headers: { Authorization: `Bearer ${credential}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' } });
      if (r.status === 401) return;
      assert.ok(Date.now() < end, `still HTTP ${r.status} after ${ms} ms`);
      await sleep(500);
    }
  };
  await refusedWithin(a.key, 40000);
  await refusedWithin(conn.tokens.access_token, 40000);

  // Sign-in is refused; the address can sign up again.
  const login = await b.newPage();
  await b.signIn(a.email, PASSWORD, { page: login });
  assert.equal(new URL(login.url()).pathname, '/login');
  assert.ok(await login.locator('.msg').count());
  await login.goto('/signup');
  await login.fill('#email', a.email);
  await login.fill('#password', PASSWORD);
  await Promise.all([login.waitForURL(/\/login$/), login.click('button[type=submit]')]);
  assert.match(await login.textContent('.ok'), /Check your e-mail/);
  assert.deepEqual(await psql(`SELECT verified FROM accounts WHERE lower(email) = lower('${a.email}') AND deleted_at IS NULL
    AND id <> '${a.id}'`), ['f']);
});

// The web dashboard's accounts (issue 6 item 1 and the security of item 8),
// end to end in headless Chromium: sign-up with the verification e-mail sent
// by the real bin/jobs to a real SMTP server, sign-in (refused while
// unverified), the dashboard, sign-out, CSRF refusals that change nothing,
// password change and reset by e-mail, the audit log, and sessions that only
// ever act on their own account.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  startSystem, startMakeRun, createAccount, accountWithKey, tool, psql, unique, request, sleep,
} from '../lib/system.mjs';
import { launch } from '../lib/browser.mjs';
import { smtpServer, startJobs, linkIn } from '../lib/mail.mjs';
import { registerClient, claudeBody, authzQuery, pkce } from '../lib/oauth.mjs';

const PASSWORD = 'correct horse battery';
let sys, smtp, jobs, b;

before(async () => {
  sys = await startSystem({ name: 'dash-accounts' });
  smtp = await smtpServer();
  jobs = startJobs(sys, { SMTP_URL: smtp.url, MAIL_FROM: '3Min API <no-reply@3minapi.test>' });
  b = await launch(sys);
});
after(async () => {
  await b?.close();
  await jobs?.stop();
  await smtp?.close();
  await sys?.stop();
});

const q = async (sql) => (await psql(sql)).join('\n');
const hashOf = async (email) => q(`SELECT password_hash FROM accounts WHERE lower(email) = lower('${email}')`);

// A signed-in page of a fresh browser context.
async function signedIn(email, password = PASSWORD) {
  const page = await b.newPage();
  await b.signIn(email, password, { page });
  assert.equal(new URL(page.url()).pathname, '/dashboard', await page.content());
  return page;
}

test('sign up, verification e-mail, unverified sign-in refused, verify, sign in, dashboard, sign out', async () => {
  const page = await b.newPage({ phone: true });
  const email = `${unique('signup')}@example.com`;
  await page.goto('/signup');
  await page.fill('#email', email);
  await page.fill('#password', 'short');
  // The browser enforces minlength; the server does too, without it.
  await page.$eval('#password', (el) => el.removeAttribute('minlength'));
  await page.click('button[type=submit]');
  assert.match(await page.textContent('.msg'), /at least 10 characters|between 10 and 1024/);
  assert.equal(await q(`SELECT count(*) FROM accounts WHERE email = '${email}'`), '0');

  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/login$/);
  assert.match(await page.textContent('.ok'), /Check your e-mail/);
  assert.equal(await q(`SELECT verified FROM accounts WHERE email = '${email}'`), 'f');

  // Not verified yet: the right password is refused, and says why.
  await b.signIn(email, PASSWORD, { page });
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.match(await page.textContent('.msg'), /not verified/);

  const msg = await smtp.waitFor(email, /\/verify\?token=/);
  assert.match(msg.data, /Subject: Verify your 3Min API e-mail address/);
  const link = linkIn(msg, '/verify');
  assert.equal(link.origin, sys.url, 'the link is on PUBLIC_URL');
  // The token is stored hashed only.
  assert.equal(await q(`SELECT count(*) FROM account_tokens WHERE token_hash = sha256('${link.searchParams.get('token')}'::bytea)`), '1');
  assert.equal(await q(`SELECT count(*) FROM account_tokens WHERE encode(token_hash, 'escape') LIKE '%${link.searchParams.get('token').slice(0, 10)}%'`), '0');

  // Opening the link only shows a button: a mail scanner's GET verifies nothing.
  await page.goto(link.pathname + link.search);
  assert.equal(await q(`SELECT verified FROM accounts WHERE email = '${email}'`), 'f');
  await page.click('button:has-text("Confirm my address")');
  await page.waitForURL(/\/login$/);
  assert.match(await page.textContent('.ok'), /confirmed/);
  assert.equal(await q(`SELECT verified FROM accounts WHERE email = '${email}'`), 't');
  // Single use.
  await page.goto(link.pathname + link.search);
  const [used] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'),
    page.click('button:has-text("Confirm my address")')]);
  assert.equal(used.status(), 404);
  assert.match(await page.textContent('main'), /not valid/);

  await b.signIn(email, PASSWORD, { page });
  assert.equal(new URL(page.url()).pathname, '/dashboard');
  assert.equal(await page.textContent('h1'), 'Your APIs');
  assert.match(await page.textContent('main'), /No APIs yet/);
  assert.match(await page.textContent('header'), new RegExp(email.replace(/[.]/g, '\\.')));
  const audit = await q(`SELECT string_agg(action, ',') FROM audit_log a JOIN accounts c ON c.id = a.account_id WHERE c.email = '${email}'`);
  assert.equal(audit, 'account.verify');

  await b.signOut({ page });
  assert.match(await page.textContent('.ok'), /signed out/);
  await page.goto('/dashboard');
  assert.equal(new URL(page.url()).pathname, '/login', 'signed out: back to sign-in');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/dashboard');
});

test('accounts from `3min account create` are verified; the dashboard lists only the account\'s endpoints; screenshots', async () => {
  const a = await accountWithKey('dash-list');
  const other = await accountWithKey('dash-other');
  const mine = unique('Contact form');
  const theirs = unique('Secret form');
  for (const [acct, name] of [[a, mine], [other, theirs]]) {
    const r = await tool(sys, acct.key, 'endpoints_create', { name, fields: [{ name: 'email', type: 'string', required: true }] });
    assert.ok(!r.isError, JSON.stringify(r));
  }
  const page = b.page;
  await page.goto('/login');
  await b.screenshot('login');
  await b.signIn(a.email, PASSWORD, { page });
  const text = await page.textContent('main');
  assert.ok(text.includes(mine), text);
  assert.ok(!text.includes(theirs), 'another account\'s endpoint is not listed');
  assert.match(text, /draft/);
  // The APIs list's screenshot (dashboard.png) is taken by 99_dashboard_apis, which shows more of it.
  // next= brings a signed-out visitor back, but only to a local path.
  const p2 = await b.newPage();
  await b.signIn(a.email, PASSWORD, { page: p2, next: '/audit' });
  assert.equal(new URL(p2.url()).pathname, '/audit');
  const p3 = await b.newPage();
  await b.signIn(a.email, PASSWORD, { page: p3, next: '//evil.example/x' });
  assert.equal(new URL(p3.url()).origin, sys.url);
  assert.equal(new URL(p3.url()).pathname, '/dashboard');
});

test('pages carry the security headers; a POST without the right CSRF token is 403 and changes nothing', async () => {
  const a = await createAccount('dash-csrf');
  const page = await signedIn(a.email);
  const res = await page.goto('/settings/profile');
  const h = res.headers();
  assert.equal(h['x-frame-options'], 'DENY');
  assert.match(h['content-security-policy'], /default-src 'none'/);
  assert.match(h['content-security-policy'], /frame-ancestors 'none'/);
  assert.doesNotMatch(h['content-security-policy'], /script-src/);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'tm_session');
  assert.ok(session.httpOnly);
  assert.equal(session.sameSite, 'Lax');

  const before = await hashOf(a.email);
  const form = { password: PASSWORD, new_password: 'a brand new password' };
  for (const csrf of [undefined, 'x'.repeat(43), '']) {
    const r = await page.request.post('/settings/profile/password', {
      form: csrf === undefined ? form : { ...form, csrf_token: csrf }, maxRedirects: 0,
    });
    assert.equal(r.status(), 403, await r.text());
    assert.match(await r.text(), /Nothing was changed/);
  }
  // Sign-out needs the token too; the session survives a forged one.
  const r = await page.request.post('/logout', { form: { csrf_token: 'nope' }, maxRedirects: 0 });
  assert.equal(r.status(), 403);
  assert.equal(await hashOf(a.email), before, 'the password is unchanged');
  await page.goto('/dashboard');
  assert.equal(new URL(page.url()).pathname, '/dashboard', 'still signed in');
  assert.equal(await q(`SELECT count(*) FROM audit_log a JOIN accounts c ON c.id = a.account_id WHERE c.email = '${a.email}'`), '0');

  // The pre-sign-in forms need the double-submit cookie.
  const anon = await request(sys, {
    method: 'POST', path: '/login', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `email=${encodeURIComponent(a.email)}&password=${encodeURIComponent(PASSWORD)}&csrf_token=abc`,
  });
  assert.equal(anon.status, 403);
  assert.equal(anon.headers['set-cookie']?.some?.((c) => c.startsWith('tm_session=')) ?? false, false);
});

test('password change: the current password is required, other sessions end, the audit log shows it', async () => {
  const a = await createAccount('dash-pw');
  const first = await signedIn(a.email);
  const second = await signedIn(a.email);
  await second.goto('/settings/profile');
  await second.fill('#password', 'not my password');
  await second.fill('#new_password', 'a brand new password');
  await second.click('button:has-text("Change password")');
  assert.match(await second.textContent('.msg'), /wrong password/);
  assert.equal(await q(`SELECT count(*) FROM login_failures f JOIN accounts c ON c.id = f.account_id WHERE c.email = '${a.email}'`), '1',
    'a wrong password counts like a failed sign-in');

  await second.fill('#password', PASSWORD);
  await second.fill('#new_password', 'a brand new password');
  await second.click('button:has-text("Change password")');
  await second.waitForURL(/\/settings\/profile$/);
  assert.match(await second.textContent('.ok'), /Password changed/);

  await first.goto('/dashboard');
  assert.equal(new URL(first.url()).pathname, '/login', 'the other session was revoked');
  await b.signIn(a.email, PASSWORD, { page: first });
  assert.equal(new URL(first.url()).pathname, '/login', 'the old password no longer works');
  await b.signIn(a.email, 'a brand new password', { page: first });
  assert.equal(new URL(first.url()).pathname, '/dashboard');

  await second.goto('/audit');
  const row = await second.textContent('tbody tr');
  assert.match(row, /password\.change/);
  assert.match(row, /other_sessions_revoked/);
});

test('password reset by e-mail: same answer for unknown addresses, one hour, single use, sessions end', async () => {
  const a = await createAccount('dash-reset');
  const live = await signedIn(a.email);
  const page = await b.newPage();
  const ghost = `${unique('nobody')}@example.com`;
  const answers = [];
  for (const email of [ghost, a.email]) {
    await page.goto('/password/forgot');
    await page.fill('#email', email);
    await page.click('button:has-text("Send the link")');
    await page.waitForURL(/\/login$/);
    answers.push(await page.textContent('.ok'));
  }
  assert.equal(answers[0], answers[1], 'the answer does not tell whether the address has an account');
  const msg = await smtp.waitFor(a.email, /\/password\/reset\?token=/);
  const link = linkIn(msg, '/password/reset');
  assert.equal(await q(`SELECT (expires_at - created_at)::text FROM account_tokens WHERE token_hash = sha256('${link.searchParams.get('token')}'::bytea)`), '01:00:00');

  await page.goto(link.pathname + link.search);
  await page.$eval('#password', (el) => el.removeAttribute('minlength'));
  await page.fill('#password', 'too short');
  await page.click('button[type=submit]');
  assert.match(await page.textContent('.msg'), /between 10 and 1024|at least 10/);
  await page.fill('#password', 'the reset password');
  await page.click('button[type=submit]');
  await page.waitForURL(/\/login$/);
  assert.match(await page.textContent('.ok'), /password was changed/);

  await live.goto('/dashboard');
  assert.equal(new URL(live.url()).pathname, '/login', 'every session ended');
  await b.signIn(a.email, PASSWORD, { page });
  assert.equal(new URL(page.url()).pathname, '/login');
  await b.signIn(a.email, 'the reset password', { page });
  assert.equal(new URL(page.url()).pathname, '/dashboard');

  // The link worked once.
  const p2 = await b.newPage();
  await p2.goto(link.pathname + link.search);
  await p2.fill('#password', 'yet another password');
  await p2.click('button[type=submit]');
  await p2.waitForLoadState('load');
  assert.match(await p2.content(), /not valid/);
  await b.signIn(a.email, 'the reset password', { page: p2 });
  assert.equal(new URL(p2.url()).pathname, '/dashboard');
});

test('sign-up is rate-limited per address; signing up with a taken address reveals nothing and changes nothing', async () => {
  const a = await createAccount('dash-taken');
  const before = await hashOf(a.email);
  const page = await b.newPage();
  const statuses = [];
  for (let i = 0; i < 4; i++) {
    await page.goto('/signup');
    await page.fill('#email', a.email);
    await page.fill('#password', 'an attacker password');
    const [resp] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'),
      page.click('button[type=submit]')]);
    statuses.push(resp.status());
    await page.waitForLoadState('load');
  }
  assert.deepEqual(statuses, [303, 303, 303, 429]);
  assert.match(await page.textContent('.msg'), /too many/);
  assert.equal(await hashOf(a.email), before, 'a verified account\'s password is untouched');
  const msg = await smtp.waitFor(a.email, /already has an account/);
  assert.doesNotMatch(msg.data, /token=/);
});

test('a session acts only on its own account', async () => {
  const a = await createAccount('dash-own-a');
  const bAcct = await createAccount('dash-own-b');
  const pa = await signedIn(a.email);
  const pb = await signedIn(bAcct.email);
  // A's password change, made with B's session and B's CSRF token, changes B only if B's password is given.
  const csrfB = await b.csrf({ page: pb });
  const before = await hashOf(a.email);
  const r = await pb.request.post('/settings/profile/password', {
    form: { csrf_token: csrfB, password: PASSWORD, new_password: 'b changed this one' }, maxRedirects: 0,
  });
  assert.equal(r.status(), 303);
  assert.equal(await hashOf(a.email), before, 'account A is untouched');
  assert.notEqual(await hashOf(bAcct.email), before);
  // A's CSRF token does not work with B's session.
  const csrfA = await b.csrf({ page: pa });
  const r2 = await pb.request.post('/logout', { form: { csrf_token: csrfA }, maxRedirects: 0 });
  assert.equal(r2.status(), 403);
  // B's audit log has B's row only; A's is empty.
  await pa.goto('/audit');
  assert.match(await pa.textContent('main'), /Nothing recorded yet/);
  await pb.goto('/audit');
  assert.match(await pb.textContent('tbody'), /password\.change/);
  // A session revoked in the database is refused at once, by the worker too.
  await q(`UPDATE web_sessions SET revoked_at = now() WHERE account_id = (SELECT id FROM accounts WHERE email = '${bAcct.email}')`);
  await pb.goto('/audit');
  assert.equal(new URL(pb.url()).pathname, '/login');
});

test('the audit log pages newest first, 50 at a time', async () => {
  const a = await createAccount('dash-audit');
  await q(`INSERT INTO audit_log (account_id, action, target_type, target_id)
           SELECT '${a.id}', 'test.step', 'step', g::text FROM generate_series(1, 60) g`);
  const page = await signedIn(a.email);
  await page.goto('/audit');
  const first = await page.$$eval('tbody tr td:nth-child(3) code', (els) => els.map((e) => e.textContent));
  assert.equal(first.length, 50);
  assert.deepEqual(first.slice(0, 2), ['60', '59']);
  await page.click('a[rel=next]');
  const second = await page.$$eval('tbody tr td:nth-child(3) code', (els) => els.map((e) => e.textContent));
  assert.deepEqual(second, ['10', '9', '8', '7', '6', '5', '4', '3', '2', '1']);
  assert.equal(await page.$('a[rel=next]'), null, 'no further page');
  const bad = await page.goto('/audit?before=abc');
  assert.equal(bad.status(), 400);
});

test('one sign-in serves the dashboard and the OAuth consent page', async () => {
  const a = await createAccount('dash-oauth');
  const page = await signedIn(a.email);
  const client = await registerClient(sys, claudeBody());
  const url = authzQuery(sys, client, { challenge: pkce().challenge });
  await page.goto(url);
  assert.match(await page.textContent('main'), /wants to access your 3Min API account/);
  assert.match(await page.textContent('main'), new RegExp(a.email.replace(/[.]/g, '\\.')));
  await page.goto('/dashboard');
  await b.signOut({ page });
  await page.goto(url);
  assert.equal(await page.locator('input[name=password]').count(), 1, 'signed out: the consent page asks to sign in');
});

test('`make run`: the demo account signs in to the dashboard', async () => {
  // Its own demo address: the suite's runs share one database, where an earlier run's demo
  // account would already exist (and `make run` cannot know that account's password).
  const mr = await startMakeRun({ name: 'dash-make-run', workers: 1, env: { DEMO_EMAIL: `${unique('demo')}@3minapi.local` } });
  try {
    const env = readFileSync(join(mr.stateDir, 'demo.env'), 'utf8');
    const email = env.match(/^DEMO_EMAIL=(.*)$/m)[1];
    const password = env.match(/^DEMO_PASSWORD=(.*)$/m)[1];
    const page = await b.newPage({ baseURL: mr.url });
    await b.signIn(email, password, { page });
    assert.equal(new URL(page.url()).pathname, '/dashboard', await page.content());
    assert.equal(await page.textContent('h1'), 'Your APIs');

    // Without SMTP_URL, `make run` has bin/jobs write e-mails into STATE_DIR/mail, so a
    // local sign-up can be verified from the file. This file's own bin/jobs (with the test
    // SMTP server) shares the database's outbox: it stops first, or it could send the e-mail.
    await jobs.stop();
    await b.signOut({ page });
    const fresh = `${unique('mr-signup')}@example.com`;
    // The suite's other sign-ups came from this address too: start its hourly allowance afresh.
    await psql(`DELETE FROM account_mail_log WHERE ip = '127.0.0.1'`);
    await page.goto('/signup');
    await page.fill('#email', fresh);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/login$/);
    const mailDir = join(mr.stateDir, 'mail');
    let eml;
    for (let i = 0; i < 150 && !eml; i++) {
      const files = existsSync(mailDir) ? readdirSync(mailDir).filter((f) => f.endsWith('.eml')) : [];
      eml = files.map((f) => join(mailDir, f)).find((f) => readFileSync(f, 'utf8').includes(`To: ${fresh}`));
      if (!eml) await sleep(200);
    }
    assert.ok(eml, `a verification e-mail for ${fresh} in ${mailDir}`);
    assert.equal(statSync(eml).mode & 0o777, 0o600, 'e-mail files are private to the owner');
    const text = readFileSync(eml, 'utf8');
    assert.match(text, /Subject: Verify your 3Min API e-mail address/);
    const link = new URL(text.match(/https?:\/\/\S+\/verify\?token=\S+/)[0]);
    await page.goto(link.pathname + link.search);
    await page.click('button:has-text("Confirm my address")');
    await page.waitForURL(/\/login$/);
    await b.signIn(fresh, PASSWORD, { page });
    assert.equal(new URL(page.url()).pathname, '/dashboard', await page.content());
  } finally {
    await mr.stop();
  }
});

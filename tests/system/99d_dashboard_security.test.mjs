// The web dashboard against hostile input (issue 6 item 8): plain HTTP
// requests where no browser is needed. A new MCP key waits for its page
// sealed for the session that made it; collaboration key names without
// control characters; no secret in the edge's or the worker's log or in the
// audit log; the security headers on every dashboard answer, the cookie
// flags (with and without https); a new session at every sign-in and a
// server-side sign-out; `next` only ever leads to this site; forms over
// their bounds, or not UTF-8, change nothing; ten wrong passwords on
// destructive actions lock them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  startSystem, createAccount, accountWithKey, tool, psql, unique, sleep,
} from '../lib/system.mjs';
import { CookieJar, httpReq, postForm, hiddenFields } from '../lib/oauth.mjs';

const PASSWORD = 'correct horse battery';
let sys;

before(async () => {
  // The access log on: its lines must not carry secrets either.
  sys = await startSystem({ name: 'dash-security', env: { ACCESS_LOG: '1' } });
});
after(async () => {
  await sys?.stop();
});

const q = async (sql) => (await psql(sql)).join('\n');
const csrfIn = (html) => hiddenFields(html).find(([k]) => k === 'csrf_token')?.[1];

// A signed-in cookie jar of account (through /login, like a browser).
async function signIn(s, email, { jar = new CookieJar(), next } = {}) {
  const page = await httpReq(s, { path: '/login', jar });
  assert.equal(page.status, 200);
  const r = await postForm(s, '/login', [['csrf_token', csrfIn(page.text)], ['email', email], ['password', PASSWORD],
    ...(next ? [['next', next]] : [])], { jar });
  assert.equal(r.status, 303, r.text.slice(0, 400));
  return { jar, location: r.headers.location };
}

// The session's CSRF token, from a page's forms.
async function csrfOf(s, jar, path = '/dashboard') {
  const r = await httpReq(s, { path, jar });
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return csrfIn(r.text);
}

const setCookies = (r) => [].concat(r.headers['set-cookie'] || []);

async function endpointOf(acct, name = unique('Security form')) {
  const r = await tool(sys, acct.key, 'endpoints_create', { name, fields: [{ name: 'email', type: 'string' }] });
  assert.ok(!r.isError, JSON.stringify(r));
  return JSON.parse(r.content[0].text).endpoint;
}

test('a new MCP key waits for its page sealed for the session that made it, never as text in a cookie', async () => {
  const a = await createAccount('sec-newkey');
  const { jar } = await signIn(sys, a.email);
  const { jar: other } = await signIn(sys, a.email);   // a second session of the same account
  const csrf = await csrfOf(sys, jar, '/settings/ai');
  const made = await postForm(sys, '/settings/ai/keys', [['csrf_token', csrf], ['name', 'laptop'], ['scope', 'read']], { jar });
  assert.equal(made.status, 303, made.text);
  assert.equal(new URL(made.headers.location).pathname, '/settings/ai/new-key');
  const cookie = setCookies(made).find((c) => c.startsWith('tm_newkey='));
  assert.ok(cookie, setCookies(made).join('\n'));
  assert.doesNotMatch(setCookies(made).join('\n'), /tm_mcp_/, 'the key is not in any cookie as text');
  assert.match(cookie, /; Path=\/settings\/ai\/new-key;/);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);

  // The cookie copied to another session (same account) opens nothing.
  const copied = new CookieJar();
  for (const [k, v] of other.cookies) copied.cookies.set(k, v);
  copied.cookies.set('tm_newkey', jar.cookies.get('tm_newkey'));
  const elsewhere = await httpReq(sys, { path: '/settings/ai/new-key', jar: copied });
  assert.equal(elsewhere.status, 404);
  assert.match(elsewhere.text, /not available/);
  assert.doesNotMatch(elsewhere.text, /tm_mcp_/);

  // Its own session shows it, and it works.
  const shown = await httpReq(sys, { path: '/settings/ai/new-key', jar });
  assert.equal(shown.status, 200);
  const key = /tm_mcp_[A-Za-z0-9_-]{43}/.exec(shown.text)?.[0];
  assert.ok(key, shown.text.slice(-2000));
  const listed = await tool(sys, key, 'endpoints_list', {});
  assert.ok(!listed.isError, JSON.stringify(listed));

  // Regenerating: the same.
  const [id] = await psql(`SELECT id FROM mcp_api_keys WHERE account_id = '${a.id}' AND revoked_at IS NULL`);
  const regen = await postForm(sys, `/settings/ai/keys/${id}/regenerate`,
    [['csrf_token', csrf], ['password', PASSWORD]], { jar });
  assert.equal(regen.status, 303, regen.text);
  assert.doesNotMatch(setCookies(regen).join('\n'), /tm_mcp_/);
  const again = await httpReq(sys, { path: '/settings/ai/new-key', jar });
  const key2 = /tm_mcp_[A-Za-z0-9_-]{43}/.exec(again.text)?.[0];
  assert.ok(key2 && key2 !== key);
});

test('collaboration key names: control characters and blank names are refused and nothing is made; 64 characters of any script fit', async () => {
  const a = await accountWithKey('sec-collab');
  const ep = await endpointOf(a);
  const { jar } = await signIn(sys, a.email);
  const base = `/dashboard/endpoints/${ep.id}/collaborators`;
  const csrf = await csrfOf(sys, jar, base);
  const count = () => q(`SELECT count(*) FROM collaboration_keys WHERE endpoint_id = '${ep.id}'`);
  for (const name of ['red\u001b[31malert', 'two\nlines', 'tab\there', '   ', 'del\u007f']) {
    const r = await postForm(sys, `${base}/create`, [['csrf_token', csrf], ['name', name], ['create', 'on']], { jar });
    assert.equal(r.status, 400, `${JSON.stringify(name)}: ${r.status}`);
    assert.match(r.text, /control characters|not blank/);
  }
  assert.equal(await count(), '0');
  // Over MCP too.
  const viaMcp = await tool(sys, a.key, 'collaborators_create_key', { endpoint: ep.id, name: 'bell\u0007' });
  assert.ok(viaMcp.isError, JSON.stringify(viaMcp));
  assert.equal(await count(), '0');
  // Characters, not bytes: 64 Korean syllables (192 bytes) are a valid name.
  const korean = '가'.repeat(64);
  const ok = await postForm(sys, `${base}/create`, [['csrf_token', csrf], ['name', korean], ['read', 'on']], { jar });
  assert.equal(ok.status, 303, ok.text.slice(0, 400));
  assert.equal(await q(`SELECT name FROM collaboration_keys WHERE endpoint_id = '${ep.id}'`), korean);
  const tooLong = await postForm(sys, `${base}/create`, [['csrf_token', csrf], ['name', `${korean}가`]], { jar });
  assert.equal(tooLong.status, 400);
  assert.equal(await count(), '1');
});

test('no secret reaches the edge\'s or the worker\'s log, or the audit log', async () => {
  const a = await accountWithKey('sec-logs');
  const ep = await endpointOf(a);
  const { jar } = await signIn(sys, a.email);
  const session = jar.cookies.get('tm_session');
  const csrf = await csrfOf(sys, jar);
  const secrets = [PASSWORD, session, csrf, a.key];

  // A new MCP key, shown once.
  let r = await postForm(sys, '/settings/ai/keys', [['csrf_token', csrf], ['name', 'ci'], ['scope', 'read']], { jar });
  assert.equal(r.status, 303);
  r = await httpReq(sys, { path: '/settings/ai/new-key', jar });
  secrets.push(/tm_mcp_[A-Za-z0-9_-]{43}/.exec(r.text)[0]);
  // The owner's sandbox key, revealed.
  r = await postForm(sys, `/dashboard/endpoints/${ep.id}/reveal`,
    [['csrf_token', csrf], ['environment', 'sandbox'], ['secret', 'key'], ['password', PASSWORD]], { jar });
  assert.equal(r.status, 303, r.text.slice(0, 300));
  r = await httpReq(sys, { path: `/dashboard/endpoints/${ep.id}`, jar });
  secrets.push(/tm_test_[A-Za-z0-9_-]{43}/.exec(r.text)[0]);
  // A collaboration key, created and revealed.
  const base = `/dashboard/endpoints/${ep.id}/collaborators`;
  r = await postForm(sys, `${base}/create`, [['csrf_token', csrf], ['name', 'partner'], ['read', 'on']], { jar });
  assert.equal(r.status, 303);
  const [kid] = await psql(`SELECT id FROM collaboration_keys WHERE endpoint_id = '${ep.id}'`);
  r = await postForm(sys, `${base}/reveal`,
    [['csrf_token', csrf], ['key_id', kid], ['environment', 'production'], ['password', PASSWORD]], { jar });
  assert.equal(r.status, 303, r.text.slice(0, 300));
  r = await httpReq(sys, { path: base, jar });
  secrets.push(/tm_live_[A-Za-z0-9_-]{43}/.exec(r.text)[0]);
  // A wrong password, and a refused form.
  const wrong = 'this is the wrong one';
  secrets.push(wrong);
  r = await postForm(sys, `/dashboard/endpoints/${ep.id}/clear-sandbox`, [['csrf_token', csrf], ['password', wrong]], { jar });
  assert.equal(r.status, 403);
  r = await postForm(sys, '/settings/ai/keys', [['csrf_token', 'forged'], ['name', 'x'], ['scope', 'read']], { jar });
  assert.equal(r.status, 403);

  await sleep(300);   // the processes' last lines reach their log files
  const logs = [sys.edge, ...sys.workers].map((p) => readFileSync(p.logPath, 'utf8')).join('\n');
  assert.match(logs, /POST \/dashboard\/endpoints\/[0-9a-f-]+\/reveal 303/, 'the access log is on');
  const audit = await q(`SELECT coalesce(string_agg(details::text || coalesce(target_id, ''), ' '), '') FROM audit_log WHERE account_id = '${a.id}'`);
  assert.match(audit, /sandbox/);
  for (const s of secrets) {
    assert.ok(s && s.length >= 16, `secret ${s}`);
    assert.ok(!logs.includes(s), `a secret (${s.slice(0, 10)}…) is in a log`);
    assert.ok(!audit.includes(s), `a secret (${s.slice(0, 10)}…) is in the audit log`);
  }
});

const SIGNED_IN_PAGES = ['/dashboard', '/settings/ai', '/settings/ai/new-key', '/settings/subscription', '/archives',
  '/audit', '/settings/profile', '/logout'];
const ANON_PAGES = ['/login', '/signup', '/password/forgot', '/verify?token=abc', '/password/reset?token=abc'];

function assertHeaders(r, what) {
  const h = r.headers;
  assert.equal(h['x-frame-options'], 'DENY', what);
  const csp = h['content-security-policy'] || '';
  assert.match(csp, /default-src 'none'/, what);
  assert.match(csp, /frame-ancestors 'none'/, what);
  assert.match(csp, /form-action 'self'(;|$)/, what);
  assert.doesNotMatch(csp, /script-src/, what);
  assert.equal(h['referrer-policy'], 'no-referrer', what);
  assert.equal(h['x-content-type-options'], 'nosniff', what);
  assert.equal(h['cache-control'], 'no-store', what);
  assert.match(h['content-type'], /^text\/html; charset=utf-8$/, what);
}

test('every dashboard answer carries the security headers; the cookies are HttpOnly and SameSite', async () => {
  const a = await accountWithKey('sec-headers');
  const ep = await endpointOf(a);
  const { jar } = await signIn(sys, a.email);
  const raw = jar.raw.join('\n');
  assert.match(raw, /tm_session=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax(\n|$)/, raw);
  assert.match(raw, /tm_csrf=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax(\n|$)/, raw);
  assert.doesNotMatch(raw, /Secure/, 'no Secure flag on plain http');
  for (const path of [...SIGNED_IN_PAGES, `/dashboard/endpoints/${ep.id}`, `/dashboard/endpoints/${ep.id}/collaborators`]) {
    const r = await httpReq(sys, { path, jar });
    assert.equal(r.status, 200, path);
    assertHeaders(r, path);
  }
  for (const path of ANON_PAGES) {
    const r = await httpReq(sys, { path });
    assert.equal(r.status, 200, path);
    assertHeaders(r, path);
  }
  // Error pages too: not found, malformed, refused.
  const errors = [
    await httpReq(sys, { path: '/dashboard/endpoints/00000000-0000-4000-8000-000000000000', jar }),
    await httpReq(sys, { path: '/dashboard/endpoints/not-a-uuid', jar }),
    await httpReq(sys, { path: '/audit?before=x', jar }),
    await postForm(sys, '/settings/ai/keys', [['name', 'x']], { jar }),
    await postForm(sys, '/login', [['email', a.email], ['password', PASSWORD]]),
  ];
  assert.deepEqual(errors.map((r) => r.status), [404, 404, 400, 403, 403]);
  errors.forEach((r, i) => assertHeaders(r, `error ${i}`));
});

test('under https the cookies are __Host- (or __Secure-) prefixed and Secure', async () => {
  const s = await startSystem({ name: 'dash-security-https', workers: 1, env: { PUBLIC_URL: 'https://dash.example.test' } });
  try {
    const a = await createAccount('sec-https');
    const jar = new CookieJar();
    const page = await httpReq(s, { path: '/login', jar });
    const r = await postForm(s, '/login', [['csrf_token', csrfIn(page.text)], ['email', a.email], ['password', PASSWORD]], { jar });
    assert.equal(r.status, 303, r.text.slice(0, 300));
    assert.equal(r.headers.location, 'https://dash.example.test/dashboard');
    const raw = jar.raw.join('\n');
    assert.match(raw, /^__Host-tm_csrf=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax; Secure$/m, raw);
    assert.match(raw, /^__Host-tm_session=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax; Secure$/m, raw);
    assert.doesNotMatch(raw, /^tm_/m);
    const csrf = await csrfOf(s, jar, '/settings/ai');
    const made = await postForm(s, '/settings/ai/keys', [['csrf_token', csrf], ['name', 'x'], ['scope', 'read']], { jar });
    assert.equal(made.status, 303);
    const set = setCookies(made).join('\n');
    assert.match(set, /^__Secure-tm_newkey=[^;]+; Path=\/settings\/ai\/new-key; Max-Age=120; HttpOnly; SameSite=Strict; Secure$/m, set);
    assert.match(set, /^__Host-tm_flash=[^;]+; Path=\/; Max-Age=60; HttpOnly; SameSite=Lax; Secure$/m, set);
  } finally {
    await s.stop();
  }
});

test('every sign-in makes a new session; sign-out revokes it in the database; a sign-out without the CSRF token changes nothing', async () => {
  const a = await createAccount('sec-session');
  const jar = new CookieJar();
  jar.cookies.set('tm_session', 'AttackerChosenSessionValue0123456789abcdefghij');   // a planted session id
  await signIn(sys, a.email, { jar });
  const s1 = jar.cookies.get('tm_session');
  assert.notEqual(s1, 'AttackerChosenSessionValue0123456789abcdefghij');
  await signIn(sys, a.email, { jar });
  const s2 = jar.cookies.get('tm_session');
  assert.notEqual(s2, s1, 'signing in again gives a new session id');
  const live = () => q(`SELECT count(*) FROM web_sessions WHERE account_id = '${a.id}' AND revoked_at IS NULL`);
  assert.equal(await live(), '2');

  const refused = await postForm(sys, '/logout', [], { jar });
  assert.equal(refused.status, 403);
  assert.equal(await live(), '2');
  assert.equal((await httpReq(sys, { path: '/dashboard', jar })).status, 200);

  const csrf = await csrfOf(sys, jar);
  const out = await postForm(sys, '/logout', [['csrf_token', csrf]], { jar });
  assert.equal(out.status, 303);
  assert.match(setCookies(out).join('\n'), /tm_session=; Path=\/; Max-Age=0/);
  assert.equal(await live(), '1', 'this session is revoked, the other is not');
  // The old cookie, replayed, is dead.
  const replay = new CookieJar();
  replay.cookies.set('tm_session', s2);
  const r = await httpReq(sys, { path: '/dashboard', jar: replay });
  assert.equal(r.status, 303);
  assert.equal(new URL(r.headers.location).pathname, '/login');
  // A GET of /logout only shows the button.
  const keep = new CookieJar();
  keep.cookies.set('tm_session', s1);
  const page = await httpReq(sys, { path: '/logout', jar: keep });
  assert.equal(page.status, 200);
  assert.equal(await live(), '1');
});

test('`next` after sign-in only ever leads to a path of this site', async () => {
  const a = await createAccount('sec-next');
  const hostile = ['//evil.example/x', '/\\evil.example', '\\\\evil.example', 'https://evil.example/', 'http:evil.example',
    '/\t/evil.example', ' //evil.example', '/%0d%0aSet-Cookie:%20x=y', '/\r\nSet-Cookie: x=y', 'javascript:alert(1)',
    '///evil.example', '/login?next=https://evil.example/', `/${'a'.repeat(600)}`, '/\u00e9vil'];
  for (const next of hostile) {
    // On the sign-in form: replaced before it reaches the page.
    const form = await httpReq(sys, { path: `/login?next=${encodeURIComponent(next)}` });
    assert.equal(form.status, 200);
    const carried = hiddenFields(form.text).find(([k]) => k === 'next')[1];
    assert.ok(carried === '/dashboard' || carried === next, carried);
    // After sign-in: the Location is this site, and a path on it.
    const { location } = await signIn(sys, a.email, { next });
    const u = new URL(location);
    assert.equal(u.origin, sys.url, `${JSON.stringify(next)} -> ${location}`);
    assert.ok(location.startsWith(`${sys.url}/`), location);
    assert.doesNotMatch(location, /[\r\n\t\\ ]/, location);
    if (!next.startsWith('/login') && next !== '/%0d%0aSet-Cookie:%20x=y') assert.equal(u.pathname, '/dashboard', `${JSON.stringify(next)} -> ${location}`);
  }
  // A signed-in page's own path comes back.
  const { location } = await signIn(sys, a.email, { next: '/settings/ai?x=1' });
  assert.equal(location, `${sys.url}/settings/ai?x=1`);
});

test('forms over their bounds, with repeated or malformed fields, or not UTF-8, are refused and change nothing', async () => {
  const a = await createAccount('sec-bounds');
  const { jar } = await signIn(sys, a.email);
  const csrf = await csrfOf(sys, jar, '/settings/ai');
  const keys = () => q(`SELECT count(*) FROM mcp_api_keys WHERE account_id = '${a.id}'`);
  const post = (body, headers = {}) => httpReq(sys, {
    method: 'POST', path: '/settings/ai/keys', jar, body,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
  });
  const t = `csrf_token=${csrf}`;
  const cases = [
    [`${t}&name=${'x'.repeat(17 * 1024)}&scope=read`, 413],
    [`${t}&name=a&scope=read&${Array.from({ length: 48 }, (_, i) => `f${i}=1`).join('&')}`, 400],
    [`${t}&name=a&name=b&scope=read`, 400],
    [`${t}&name=%ZZ&scope=read`, 400],
    [`${t}&name=a%00b&scope=read`, 400],
    [`${t}&name=%FF%FE&scope=read`, 400],
    [`${t}&name=caf%C3&scope=read`, 400],
    [`${t}&name=bell%07&scope=read`, 400],
    [`${t}&name=${'x'.repeat(65)}&scope=read`, 400],
    [`${t}&name=ok&scope=admin`, 400],
  ];
  for (const [body, status] of cases) {
    const r = await post(body);
    assert.equal(r.status, status, `${body.slice(0, 80)}: ${r.status} ${r.text.slice(-300)}`);
  }
  const wrongType = await post(`${t}&name=ok&scope=read`, { 'Content-Type': 'text/plain' });
  assert.equal(wrongType.status, 415);
  assert.equal(await keys(), '0');
  // Before sign-in as well: a sign-up that is not UTF-8 makes no account.
  const page = await httpReq(sys, { path: '/signup', jar });
  const r = await httpReq(sys, {
    method: 'POST', path: '/signup', jar, headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `csrf_token=${csrfIn(page.text)}&email=x%FF%40example.com&password=${encodeURIComponent(PASSWORD)}`,
  });
  assert.equal(r.status, 400, r.text.slice(-300));
  assert.equal(await q("SELECT count(*) FROM accounts WHERE email LIKE 'x%@example.com'"), '0');
  // The edge is still well.
  assert.equal((await httpReq(sys, { path: '/dashboard', jar })).status, 200);
});

test('ten wrong passwords on destructive actions lock them and sign-in for 15 minutes; nothing changes', async () => {
  const a = await createAccount('sec-lock');
  const { jar } = await signIn(sys, a.email);
  const csrf = await csrfOf(sys, jar, '/settings/ai');
  let r = await postForm(sys, '/settings/ai/keys', [['csrf_token', csrf], ['name', 'keep'], ['scope', 'read']], { jar });
  assert.equal(r.status, 303);
  const [id] = await psql(`SELECT id FROM mcp_api_keys WHERE account_id = '${a.id}'`);
  const statuses = [];
  for (let i = 0; i < 10; i++) {
    r = await postForm(sys, `/settings/ai/keys/${id}/delete`, [['csrf_token', csrf], ['password', `wrong ${i} password`]], { jar });
    statuses.push(r.status);
  }
  assert.deepEqual(statuses, [...Array(9).fill(403), 429]);
  // Locked: the right password is refused too, and sign-in as well.
  r = await postForm(sys, `/settings/ai/keys/${id}/delete`, [['csrf_token', csrf], ['password', PASSWORD]], { jar });
  assert.equal(r.status, 429, r.text.slice(-300));
  assert.equal(await q(`SELECT revoked_at IS NULL FROM mcp_api_keys WHERE id = '${id}'`), 't', 'the key is not deleted');
  const page = await httpReq(sys, { path: '/login' });
  const login = await httpReq(sys, {
    method: 'POST', path: '/login', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: page.headers['set-cookie'][0].split(';')[0] },
    body: `csrf_token=${csrfIn(page.text)}&email=${encodeURIComponent(a.email)}&password=${encodeURIComponent(PASSWORD)}`,
  });
  assert.equal(login.status, 429);
  assert.match(login.text, /locked/);
});

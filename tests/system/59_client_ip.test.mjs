// The client's address behind a reverse proxy (TRUSTED_PROXIES, README
// "Configuration"): X-Forwarded-For is believed only from a trusted peer,
// its right-most untrusted entry is the client, and a malformed header is
// ignored. Checked on the call log's `ip` of gateway calls and on the
// per-address limit of failed sign-ins (LOGIN_ADDRESS_LIMIT). Loopback has a
// whole /8, so 127.0.0.2 plays the proxy and 127.0.0.1 a direct client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  startSystem, accountWithKey, createAccount, tool, psql, unique, freePort, BIN_DIR, DB_URL,
} from '../lib/system.mjs';
import { CookieJar, httpReq, postForm, hiddenFields } from '../lib/oauth.mjs';

const PASSWORD = 'correct horse battery';
const PROXY = '127.0.0.2';
let plain, behind, acct;

before(async () => {
  // Without TRUSTED_PROXIES, and with 127.0.0.2 as the only trusted proxy.
  plain = await startSystem({ name: 'clientip-plain', workers: 1 });
  behind = await startSystem({ name: 'clientip-proxy', workers: 1, env: { TRUSTED_PROXIES: `${PROXY}, 10.0.0.0/8` } });
  acct = await accountWithKey('clientip');
});
after(async () => {
  await plain?.stop();
  await behind?.stop();
});

function endpointKeys(sys, email, slug) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DATABASE_URL: DB_URL, STATE_DIR: sys.stateDir };
    execFile(join(BIN_DIR, '3min'), ['endpoint', 'keys', '--email', email, '--endpoint', slug], { env },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`3min endpoint keys: ${stderr}`));
        resolve(Object.fromEntries(stdout.trim().split('\n').map((l) => l.split(' '))));
      });
  });
}

async function newEndpoint(sys) {
  const r = await tool(sys, acct.key, 'endpoints_create',
    { name: unique('Client ip'), fields: [{ name: 'email', type: 'string' }] });
  assert.ok(!r.isError, JSON.stringify(r));
  const ep = r.structuredContent.endpoint;
  return { ep, keys: await endpointKeys(sys, acct.email, ep.slug) };
}

// One gateway POST from `src` with the given X-Forwarded-For header(s); the
// ip its call log row got.
async function loggedIp(sys, { src = '127.0.0.1', xff } = {}) {
  const { ep, keys } = await newEndpoint(sys);
  const headers = { Authorization: `Bearer ${keys.sandbox_key}`, 'Content-Type': 'application/json' };
  if (xff !== undefined) headers['X-Forwarded-For'] = xff;
  const r = await httpReq(sys, {
    method: 'POST', path: `/api/v1/data/${ep.slug}`, headers, body: JSON.stringify({ email: 'a@example.com' }), src,
  });
  assert.equal(r.status, 202, r.text);
  const rows = await psql(`SELECT ip FROM call_logs WHERE endpoint_id = '${ep.id}'`);
  assert.equal(rows.length, 1);
  return rows[0];
}

test('without TRUSTED_PROXIES, X-Forwarded-For is ignored: the call log has the peer', async () => {
  assert.equal(await loggedIp(plain), '127.0.0.1');
  assert.equal(await loggedIp(plain, { xff: '198.51.100.7' }), '127.0.0.1');
  assert.equal(await loggedIp(plain, { src: PROXY, xff: '198.51.100.7' }), PROXY);
});

test('from a peer that is not a trusted proxy, a spoofed X-Forwarded-For is ignored', async () => {
  assert.equal(await loggedIp(behind, { xff: '198.51.100.7' }), '127.0.0.1');
  assert.equal(await loggedIp(behind, { xff: `198.51.100.7, ${PROXY}` }), '127.0.0.1');
});

test('from the trusted proxy, the right-most untrusted X-Forwarded-For entry is the client', async () => {
  assert.equal(await loggedIp(behind, { src: PROXY, xff: '198.51.100.7' }), '198.51.100.7');
  // What the client wrote itself stays to the left of what the proxy appended.
  assert.equal(await loggedIp(behind, { src: PROXY, xff: '6.6.6.6, 198.51.100.8' }), '198.51.100.8');
  // A second trusted hop (10.0.0.0/8) is skipped.
  assert.equal(await loggedIp(behind, { src: PROXY, xff: '6.6.6.6, 198.51.100.9, 10.1.2.3' }), '198.51.100.9');
  assert.equal(await loggedIp(behind, { src: PROXY, xff: '2001:DB8::0:1' }), '2001:db8::1');
  // No header: the proxy itself.
  assert.equal(await loggedIp(behind, { src: PROXY }), PROXY);
});

test('from the trusted proxy, a malformed or oversized X-Forwarded-For falls back to the peer', async () => {
  for (const xff of ['unknown', '198.51.100.7:443', '[2001:db8::1]', '198.51.100.7,', 'x, 198.51.100.7',
    '01.2.3.4', `198.51.100.6,${' '.repeat(1100)}198.51.100.7`, Array.from({ length: 40 }, (_, i) => `1.1.1.${i}`).join(',')]) {
    assert.equal(await loggedIp(behind, { src: PROXY, xff }), PROXY, xff.slice(0, 60));
  }
});

test('an edge with a malformed TRUSTED_PROXIES does not start, and says why', async () => {
  const port = await freePort();
  const env = { ...process.env, EDGE_LISTEN: `127.0.0.1:${port}`, STATE_DIR: behind.stateDir,
    TRUSTED_PROXIES: '10.0.0.1, 10.0.0.0/33' };
  const { code, stderr } = await new Promise((resolve) => {
    const p = spawn(join(BIN_DIR, 'edge'), [], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c) => { err += c; });
    const t = setTimeout(() => p.kill('SIGKILL'), 20000);
    p.on('exit', (c) => { clearTimeout(t); resolve({ code: c, stderr: err }); });
  });
  assert.notEqual(code, 0);
  assert.match(stderr, /TRUSTED_PROXIES: "10\.0\.0\.0\/33" is not an address or CIDR/);
});

// ---- failed sign-ins per address ------------------------------------------------

const csrfIn = (html) => hiddenFields(html).find(([k]) => k === 'csrf_token')?.[1];

async function signIn(sys, email, password, { src = '127.0.0.1', xff } = {}) {
  const jar = new CookieJar();
  const headers = xff ? { 'X-Forwarded-For': xff } : {};
  const page = await httpReq(sys, { path: '/login', jar, src, headers });
  assert.equal(page.status, 200);
  return postForm(sys, '/login', [['csrf_token', csrfIn(page.text)], ['email', email], ['password', password]],
    { jar, src, headers });
}

test('30 failed sign-ins from one client address refuse that address, not others and not the account', async () => {
  const victim = await createAccount('clientip-victim');
  // Addresses of this run only (the database is shared by the suite).
  const a = `2001:db8:${randomBytes(2).toString('hex')}::a`;
  const b = `2001:db8:${randomBytes(2).toString('hex')}::b`;
  const statuses = [];
  // 25 unknown e-mails and 5 wrong passwords of a real account (below its own lockout of 10).
  for (let i = 0; i < 25; i++)
    statuses.push((await signIn(behind, `${unique('nobody')}@example.com`, PASSWORD, { src: PROXY, xff: a })).status);
  for (let i = 0; i < 5; i++)
    statuses.push((await signIn(behind, victim.email, `wrong ${i} password`, { src: PROXY, xff: a })).status);
  assert.deepEqual(statuses, Array(30).fill(401));
  assert.equal((await psql(`SELECT count(*) FROM login_address_failures WHERE ip = '${a}'`))[0], '30');

  // The 31st attempt from that address is refused before the password is
  // looked at, the right password included, and records nothing more.
  let r = await signIn(behind, victim.email, PASSWORD, { src: PROXY, xff: a });
  assert.equal(r.status, 429, r.text.slice(-400));
  assert.match(r.text, /too many failed sign-ins from your network address/);
  assert.equal(await psql(`SELECT count(*) FROM web_sessions WHERE account_id = '${victim.id}'`).then((x) => x[0]), '0');
  assert.equal((await psql(`SELECT count(*) FROM login_address_failures WHERE ip = '${a}'`))[0], '30');

  // Another address (through the same proxy) signs in to the same account.
  r = await signIn(behind, victim.email, PASSWORD, { src: PROXY, xff: b });
  assert.equal(r.status, 303, r.text.slice(-400));
  // The address named by an untrusted peer is not the one counted: a client
  // cannot make its failures land on someone else's address (nor escape its own).
  r = await signIn(behind, `${unique('nobody')}@example.com`, PASSWORD, { xff: b });
  assert.equal(r.status, 401);
  assert.equal((await psql(`SELECT count(*) FROM login_address_failures WHERE ip = '${b}'`))[0], '0');
  r = await signIn(behind, victim.email, PASSWORD, { xff: a });
  assert.equal(r.status, 303, 'the spoofed address is not the limited one');
});

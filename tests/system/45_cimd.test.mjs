// 45_cimd — Client ID Metadata Documents (MCP.md §5.4, §7 item 68): a URL
// client_id is fetched by a worker, validated and cached. Documents are
// served by a local HTTP server on 127.0.0.1, which the system may fetch
// only because it runs with OAUTH_ALLOW_PRIVATE_CIMD=1; a second system
// without the flag must refuse the same URLs without connecting.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { startSystem, createAccount, request, psql } from '../lib/system.mjs';

const REDIRECT = 'http://127.0.0.1/callback';

// ---- the document server -----------------------------------------------------

const routes = new Map();   // path -> (req, res) handler
const hits = new Map();     // path -> number of requests
let docServer;
let docBase;

function serve(path, handler) {
  routes.set(path, handler);
  hits.set(path, 0);
  return `${docBase}${path}`;
}

function json(status, body, headers = {}) {
  return (req, res) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
}

// A document path whose client_id is its own URL (or `override`).
function document(path, over = {}) {
  const url = `${docBase}${path}`;
  return serve(path, json(200, { client_id: url, client_name: 'Test App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', ...over }));
}

// ---- the OAuth flow ------------------------------------------------------------

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function authorizePath(sys, clientId, { redirectUri = REDIRECT, challenge = pkce().challenge } = {}) {
  const q = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge,
    code_challenge_method: 'S256', state: 'st-123', resource: `http://127.0.0.1:${sys.port}/api/mcp`,
  });
  return `/oauth/authorize?${q}`;
}

const get = (sys, path, cookie) => request(sys, { method: 'GET', path, headers: cookie ? { Cookie: cookie } : {} });

function postForm(sys, path, fields, cookie) {
  return request(sys, {
    method: 'POST', path, body: new URLSearchParams(fields).toString(),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(cookie ? { Cookie: cookie } : {}) },
  });
}

const unescape = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function hiddenFields(html) {
  const out = [];
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) out.push([unescape(m[1]), unescape(m[2])]);
  return out;
}

function cookiesOf(res) {
  return [].concat(res.headers['set-cookie'] || []).map((c) => c.split(';')[0]);
}

const isLogin = (r) => r.status === 200 && /name="email"/.test(r.text) && /name="password"/.test(r.text);
const isConsent = (r) => r.status === 200 && /name="decision" value="allow"/.test(r.text);

// An error page: 4xx, HTML, and no redirect anywhere.
function assertRefused(r, pattern) {
  assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}: ${r.text.slice(0, 300)}`);
  assert.equal(r.headers.location, undefined, 'an error page must not redirect');
  assert.match(r.headers['content-type'] || '', /text\/html/);
  if (pattern) assert.match(unescape(r.text), pattern);
}

// ---- https: self-signed certificates -------------------------------------------
// The system trusts only `trusted` and `wrongName` (SSL_CERT_FILE); `untrusted`
// is signed by nobody it knows, and `wrongName` is valid but for another host.

const certDir = mkdtempSync(join(tmpdir(), '3min-cimd-certs-'));
function makeCert(name, san) {
  const key = join(certDir, `${name}.key`);
  const cert = join(certDir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`], { stdio: 'ignore' });
  return { key: readFileSync(key), cert: readFileSync(cert) };
}
const tlsServers = {};
async function startTls(name, creds) {
  const srv = https.createServer(creds, (req, res) => {
    const url = `https://127.0.0.1:${srv.address().port}${req.url}`;
    const text = JSON.stringify({ client_id: url, client_name: `TLS ${name}`, redirect_uris: [REDIRECT] });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  tlsServers[name] = srv;
  return srv;
}
const tlsUrl = (name) => `https://127.0.0.1:${tlsServers[name].address().port}/tls/client.json`;

let sys;
let account;

before(async () => {
  docServer = http.createServer((req, res) => {
    const path = req.url;
    const h = routes.get(path);
    if (!h) { res.writeHead(404, { 'Content-Type': 'application/json' }); res.end('{"error":"not found"}'); return; }
    hits.set(path, hits.get(path) + 1);
    h(req, res);
  });
  await new Promise((resolve) => docServer.listen(0, '127.0.0.1', resolve));
  docBase = `http://127.0.0.1:${docServer.address().port}`;
  const trusted = makeCert('trusted', 'IP:127.0.0.1');
  const untrusted = makeCert('untrusted', 'IP:127.0.0.1');
  const wrongName = makeCert('wrongname', 'DNS:other.example');
  writeFileSync(join(certDir, 'trust.pem'), Buffer.concat([trusted.cert, wrongName.cert]));
  await startTls('trusted', trusted);
  await startTls('untrusted', untrusted);
  await startTls('wrongname', wrongName);
  sys = await startSystem({ name: 'cimd', env: { OAUTH_ALLOW_PRIVATE_CIMD: '1', SSL_CERT_FILE: join(certDir, 'trust.pem') } });
  account = await createAccount('cimd');
});

after(async () => {
  await sys?.stop();
  await new Promise((resolve) => docServer.close(resolve));
  for (const srv of Object.values(tlsServers)) await new Promise((resolve) => srv.close(resolve));
  rmSync(certDir, { recursive: true, force: true });
});

test('https: a verified certificate for the host is fetched; an unknown issuer or another name is refused', async () => {
  const ok = await get(sys, authorizePath(sys, tlsUrl('trusted')));
  assert.ok(isLogin(ok), `expected the login page, got ${ok.status}: ${ok.text.slice(0, 300)}`);
  assert.match(ok.text, /TLS trusted/);
  assertRefused(await get(sys, authorizePath(sys, tlsUrl('untrusted'))), /certificate was not accepted/);
  assertRefused(await get(sys, authorizePath(sys, tlsUrl('wrongname'))), /certificate was not accepted/);
});

test('AS metadata advertises client_id_metadata_document_supported with the none method', async () => {
  const r = await get(sys, '/.well-known/oauth-authorization-server');
  assert.equal(r.status, 200);
  assert.equal(r.json.client_id_metadata_document_supported, true);
  assert.ok(r.json.token_endpoint_auth_methods_supported.includes('none'));
});

test('a valid document: login, consent naming the document host with the loopback warning, code, token', async () => {
  const clientId = document('/clients/good.json');
  const { verifier, challenge } = pkce();
  const path = authorizePath(sys, clientId, { challenge });
  const login = await get(sys, path);
  assert.ok(isLogin(login), `expected the login page, got ${login.status}: ${login.text.slice(0, 300)}`);
  assert.match(login.text, /Test App/);
  assert.equal(hits.get('/clients/good.json'), 1);

  // The document was stored as a cimd client with its cache times.
  const rows = await psql(`SELECT reg_type, token_endpoint_auth_method, secret_hash IS NULL, cimd_expires_at > now() + interval '50 minutes' FROM oauth_clients WHERE client_id = '${clientId}'`);
  assert.deepEqual(rows, ['cimd|none|t|t']);

  // Sign in.
  const jar = cookiesOf(login);
  const fields = hiddenFields(login.text);
  const signIn = await postForm(sys, '/oauth/authorize', [...fields, ['email', account.email], ['password', 'correct horse battery']], jar.join('; '));
  assert.equal(signIn.status, 303, signIn.text.slice(0, 300));
  const cookie = [...jar, ...cookiesOf(signIn)].join('; ');
  const next = new URL(signIn.headers.location);

  // Consent: the document's host is the relying party; every redirect URI is loopback.
  const consent = await get(sys, next.pathname + next.search, cookie);
  assert.ok(isConsent(consent), `expected the consent page, got ${consent.status}: ${consent.text.slice(0, 300)}`);
  assert.match(consent.text, new RegExp(`published by <code>127\\.0\\.0\\.1:${docServer.address().port}</code>`));
  assert.match(consent.text, /sends you back only to your own computer/);
  // The POSTs reuse the cached document: no second fetch.
  assert.equal(hits.get('/clients/good.json'), 1);

  const allow = await postForm(sys, '/oauth/authorize', [...hiddenFields(consent.text), ['scope', 'read'], ['decision', 'allow']], cookie);
  assert.equal(allow.status, 302, allow.text.slice(0, 300));
  const back = new URL(allow.headers.location);
  assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
  const code = back.searchParams.get('code');
  assert.ok(code);

  // The token endpoint takes the URL client_id as a public client (PKCE is the proof).
  const tok = await postForm(sys, '/oauth/token', [['grant_type', 'authorization_code'], ['code', code], ['redirect_uri', REDIRECT], ['client_id', clientId], ['code_verifier', verifier]]);
  assert.equal(tok.status, 200, tok.text);
  assert.ok(tok.json.access_token);
  assert.equal(tok.json.scope, 'read');
  const claims = JSON.parse(Buffer.from(tok.json.access_token.split('.')[1], 'base64url').toString());
  assert.equal(claims.client_id, clientId);
  assert.equal(hits.get('/clients/good.json'), 1);
});

test('a stale cached document is used when the new fetch fails', async () => {
  const clientId = document('/clients/stale.json');
  assert.ok(isLogin(await get(sys, authorizePath(sys, clientId))));
  assert.equal(hits.get('/clients/stale.json'), 1);
  await psql(`UPDATE oauth_clients SET cimd_expires_at = now() - interval '1 minute' WHERE client_id = '${clientId}'`);
  routes.set('/clients/stale.json', json(503, { error: 'down' }));
  assert.ok(isLogin(await get(sys, authorizePath(sys, clientId))), 'the stale copy should be used');
  assert.equal(hits.get('/clients/stale.json'), 2, 'the expired copy is fetched again first');
});

test('Cache-Control max-age sets the expiry, clamped to at least 5 minutes', async () => {
  const path = '/clients/short-cache.json';
  const url = `${docBase}${path}`;
  serve(path, json(200, { client_id: url, client_name: 'Short', redirect_uris: [REDIRECT] }, { 'Cache-Control': 'max-age=5' }));
  assert.ok(isLogin(await get(sys, authorizePath(sys, url))));
  const [secs] = await psql(`SELECT round(extract(epoch FROM cimd_expires_at - cimd_fetched_at)) FROM oauth_clients WHERE client_id = '${url}'`);
  assert.equal(secs, '300');
});

test('documents that must be refused give an error page without a redirect', async (t) => {
  const big = 'x'.repeat(6000);
  const cases = [
    ['client_id differs', () => document('/bad/mismatch.json', { client_id: `${docBase}/bad/other.json` }), /client_id is not the URL/],
    ['302 response', () => serve('/bad/redirect.json', (req, res) => { res.writeHead(302, { Location: `${docBase}/clients/good.json`, 'Content-Length': 0 }); res.end(); }), /HTTP 302; redirects are not followed/],
    ['404 response', () => `${docBase}/bad/missing.json`, /HTTP 404/],
    ['body over the cap', () => document('/bad/big.json', { padding: big }), /larger than 5 KiB/],
    ['chunked body over the cap', () => serve('/bad/big-chunked.json', (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });   // no length: Node sends it chunked
      res.write('{"a":"'); res.write(big); res.end('"}');
    }), /larger than 5 KiB/],
    ['HTML content type', () => serve('/bad/html.json', (req, res) => {
      const url = `${docBase}/bad/html.json`;
      const text = JSON.stringify({ client_id: url, client_name: 'X', redirect_uris: [REDIRECT] });
      res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': text.length }); res.end(text);
    }), /Content-Type/],
    ['client_secret in the document', () => document('/bad/secret.json', { client_secret: 'shh' }), /client secret/],
    ['confidential auth method', () => document('/bad/basic.json', { token_endpoint_auth_method: 'client_secret_basic' }), /token_endpoint_auth_method/],
    ['not JSON', () => serve('/bad/notjson.json', json(200, '<html>challenge</html>')), /not a JSON object/],
    ['redirect URI with a fragment', () => document('/bad/fragment.json', { redirect_uris: [`${REDIRECT}#x`] }), /redirect URI/],
  ];
  for (const [name, make, pattern] of cases) {
    const clientId = make();
    const r = await get(sys, authorizePath(sys, clientId));
    await t.test(name, () => assertRefused(r, pattern));
  }
  // None of them was stored.
  const [n] = await psql(`SELECT count(*) FROM oauth_clients WHERE client_id LIKE '${docBase}/bad/%'`);
  assert.equal(n, '0');
});

test('a redirect_uri the document does not list is refused without a redirect', async () => {
  const clientId = document('/clients/listed.json');
  const r = await get(sys, authorizePath(sys, clientId, { redirectUri: 'https://evil.example/cb' }));
  assertRefused(r, /did not register/);
});

test('client_id URLs of a bad shape are refused before any fetch', async () => {
  for (const id of [`${docBase}/`, `${docBase}/a/../clients/good.json`, `${docBase}/c.json#frag`,
    `http://user@127.0.0.1:${docServer.address().port}/c.json`]) {
    const r = await get(sys, authorizePath(sys, id));
    assertRefused(r);
  }
});

test('the consent POST of a document that went bad is refused too', async () => {
  const path = '/clients/goes-bad.json';
  const clientId = document(path);
  const login = await get(sys, authorizePath(sys, clientId));
  assert.ok(isLogin(login));
  await psql(`UPDATE oauth_clients SET cimd_expires_at = now() - interval '1 minute' WHERE client_id = '${clientId}'`);
  routes.set(path, json(200, { client_id: clientId, client_name: 'Test App', redirect_uris: ['https://elsewhere.example/cb'] }));
  const jar = cookiesOf(login);
  const r = await postForm(sys, '/oauth/authorize', [...hiddenFields(login.text), ['email', account.email], ['password', 'correct horse battery']], jar.join('; '));
  assertRefused(r, /did not register/);
});

test('without OAUTH_ALLOW_PRIVATE_CIMD a loopback or http client_id is refused and never fetched', async () => {
  const other = await startSystem({ name: 'cimd-strict', workers: 1 });
  try {
    const path = '/clients/strict.json';
    document(path);
    const httpsId = `https://127.0.0.1:${docServer.address().port}${path}`;
    const r1 = await get(other, authorizePath(other, httpsId));
    assertRefused(r1, /loopback address/);
    const r2 = await get(other, authorizePath(other, `https://localhost:${docServer.address().port}${path}`));
    assertRefused(r2, /loopback address/);
    // Plain http is not even a metadata document URL here: an unknown client.
    const r3 = await get(other, authorizePath(other, `${docBase}${path}`));
    assertRefused(r3, /not registered/);
    assert.equal(hits.get(path), 0, 'nothing may be fetched');
  } finally {
    await other.stop();
  }
});

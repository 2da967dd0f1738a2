// OAuth 2.1 against a real edge and workers, over raw HTTP: MCP.md §7 items
// 37–67 (discovery, registration, authorization, token, refresh rotation,
// revocation and the resource server's JWT checks), plus the sign-in page's
// lockout and CSRF and the registration rate limit. Item 68 (CIMD) is
// 45_cimd.test.mjs.
//
// A revoked grant's access tokens stop at the edge when its revocation
// poller next asks the workers (every 15 s): those tests poll for up to
// REVOCATION_MS and run side by side, so they share one wait.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSystem, createAccount, legacy, psql, sleep, request, unique,
} from '../lib/system.mjs';
import {
  CookieJar, httpReq, postForm, postJson, registerClient, claudeBody, CLAUDE_CALLBACK, LOOPBACK_CALLBACK,
  pkce, authzQuery, hiddenFields, isLoginPage, isConsentPage, openConsent, submitLogin, submitConsent,
  authorizeCode, token, redeem, connect, decodeJwt, signingKey, signEs256, signHs256, unsigned, claimsFor,
  loopbackSource,
} from '../lib/oauth.mjs';

const REVOCATION_MS = 22000;   // poll interval 15 s + a worker round trip + slack
const PASSWORD = 'correct horse battery';
const SRC = loopbackSource();   // this file's client address (see lib/oauth.mjs)
const CHATGPT_CALLBACK = 'https://chatgpt.com/connector/oauth/abc123';

let sys, acct, H, M;

before(async () => {
  sys = await startSystem({ name: 'oauth', workers: 2, env: { ALLOWED_ORIGINS: 'http://localhost:6274' } });
  acct = await createAccount('oauth');
  H = sys.url;
  M = `${H}/api/mcp`;
});
after(async () => { await sys?.stop(); });

const get = (path, opts = {}) => httpReq(sys, { path, src: SRC, ...opts });
const reg = (body) => registerClient(sys, body);
const mcpStatus = async (bearer) => (await legacy(sys, bearer, 'tools/list', {})).status;
const noneBody = () => ({
  client_name: 'ChatGPT connector', redirect_uris: [CHATGPT_CALLBACK], token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
});

// Polls until every bearer is refused with 401; asserts it happened within
// REVOCATION_MS of `since`.
async function waitRefused(bearers, since, label) {
  const pending = new Set(bearers);
  while (pending.size && Date.now() - since < REVOCATION_MS) {
    for (const b of [...pending]) if (await mcpStatus(b) === 401) pending.delete(b);
    if (pending.size) await sleep(250);
  }
  assert.equal(pending.size, 0, `${label}: ${pending.size} access token(s) still accepted ${REVOCATION_MS} ms after revocation`);
}

// ---- resource server and discovery (37–45) ----

test('37/38: /api/mcp without a token or with garbage is 401 with the PRM challenge', async () => {
  let r = await legacy(sys, null, 'tools/list', {});
  assert.equal(r.status, 401);
  const h = r.headers['www-authenticate'];
  assert.match(h, /^Bearer /);
  assert.ok(h.includes(`resource_metadata="${H}/.well-known/oauth-protected-resource/api/mcp"`), h);
  assert.match(h, /scope="[^"]+"/);
  r = await legacy(sys, 'garbage', 'tools/list', {});
  assert.equal(r.status, 401);
  assert.match(r.headers['www-authenticate'], /error="invalid_token"/);
});

test('41/42: protected resource metadata at the path-inserted and the root URL, without auth', async () => {
  const a = await get('/.well-known/oauth-protected-resource/api/mcp');
  assert.equal(a.status, 200);
  assert.match(a.headers['content-type'], /^application\/json/);
  assert.equal(a.json.resource, M);
  assert.deepEqual(a.json.authorization_servers, [H]);
  assert.ok(a.json.scopes_supported.includes('read'));
  assert.ok(!a.json.scopes_supported.includes('offline_access'));
  assert.deepEqual(a.json.bearer_methods_supported, ['header']);
  const b = await get('/.well-known/oauth-protected-resource');
  assert.equal(b.status, 200);
  assert.deepEqual(b.json.authorization_servers, [H]);
  assert.equal(b.json.resource, M);
});

test('43: CORS preflights of the discovery documents and of /api/mcp need no auth', async () => {
  const headers = {
    Origin: 'http://localhost:6274', 'Access-Control-Request-Method': 'GET',
    'Access-Control-Request-Headers': 'authorization, mcp-protocol-version',
  };
  for (const path of ['/.well-known/oauth-protected-resource/api/mcp', '/.well-known/oauth-protected-resource',
    '/.well-known/oauth-authorization-server', '/.well-known/jwks.json', '/api/mcp']) {
    const r = await get(path, { method: 'OPTIONS', headers: { ...headers, 'Access-Control-Request-Method': path === '/api/mcp' ? 'POST' : 'GET' } });
    assert.equal(r.status, 204, path);
    assert.ok(['*', 'http://localhost:6274'].includes(r.headers['access-control-allow-origin']), path);
    const allowed = (r.headers['access-control-allow-headers'] || '').toLowerCase();
    assert.ok(allowed.includes('mcp-protocol-version') && allowed.includes('authorization'), `${path}: ${allowed}`);
  }
  const r = await get('/.well-known/oauth-authorization-server', { headers: { Origin: 'http://localhost:6274' } });
  assert.equal(r.headers['access-control-allow-origin'], '*');
});

test('44: authorization server metadata: exact issuer, S256 only, code flow, every client auth method', async () => {
  const r = await get('/.well-known/oauth-authorization-server');
  assert.equal(r.status, 200);
  const md = r.json;
  assert.equal(md.issuer, H, 'issuer is PUBLIC_URL byte for byte');
  const prm = (await get('/.well-known/oauth-protected-resource/api/mcp')).json;
  assert.equal(md.issuer, prm.authorization_servers[0]);
  assert.ok(md.code_challenge_methods_supported.includes('S256'));
  assert.ok(!md.code_challenge_methods_supported.includes('plain'));
  assert.deepEqual(md.response_types_supported, ['code']);
  for (const g of ['authorization_code', 'refresh_token']) assert.ok(md.grant_types_supported.includes(g), g);
  for (const m of ['none', 'client_secret_post', 'client_secret_basic']) assert.ok(md.token_endpoint_auth_methods_supported.includes(m), m);
  assert.equal(md.registration_endpoint, `${H}/oauth/register`);
  assert.equal(md.authorization_endpoint, `${H}/oauth/authorize`);
  assert.equal(md.token_endpoint, `${H}/oauth/token`);
  assert.equal(md.revocation_endpoint, `${H}/oauth/revoke`);
  assert.equal(md.jwks_uri, `${H}/.well-known/jwks.json`);
  assert.equal(md.authorization_response_iss_parameter_supported, true);
  assert.ok(!md.scopes_supported.includes('openid'), 'no OIDC scopes advertised');
});

test('44: client_id_metadata_document_supported is true (CIMD itself: 45_cimd.test.mjs)', async () => {
  const md = (await get('/.well-known/oauth-authorization-server')).json;
  assert.equal(md.client_id_metadata_document_supported, true);
  assert.ok(md.token_endpoint_auth_methods_supported.includes('none'), 'Claude uses CIMD only with "none" listed');
});

test('45: /.well-known/openid-configuration is deliberately absent (404), so no partial OIDC document exists', async () => {
  const r = await get('/.well-known/openid-configuration');
  assert.equal(r.status, 404);
});

test('JWKS: one or more public P-256 keys with kid and alg ES256, no private part', async () => {
  const r = await get('/.well-known/jwks.json');
  assert.equal(r.status, 200);
  assert.ok(r.json.keys.length >= 1);
  for (const k of r.json.keys) {
    assert.equal(k.kty, 'EC');
    assert.equal(k.crv, 'P-256');
    assert.equal(k.alg, 'ES256');
    assert.ok(typeof k.kid === 'string' && k.kid.length > 0);
    assert.equal(k.d, undefined, 'never the private key');
  }
});

// ---- registration (46–50) ----

test('46: the claude.ai registration body gets 201 with a never-expiring secret', async () => {
  const r = await postJson(sys, '/oauth/register', claudeBody(), { src: SRC });
  assert.equal(r.status, 201, r.text);
  const c = r.json;
  assert.ok(typeof c.client_id === 'string' && c.client_id.length >= 16);
  assert.ok(typeof c.client_secret === 'string' && c.client_secret.length >= 32);
  assert.equal(c.client_secret_expires_at, 0);
  assert.equal(c.token_endpoint_auth_method, 'client_secret_post');
  assert.deepEqual(c.redirect_uris, [CLAUDE_CALLBACK]);
  assert.equal(c.client_name, 'Claude');
  assert.ok(Number.isInteger(c.client_id_issued_at));
  assert.match(r.headers['cache-control'] || '', /no-store/);
});

test('47: a public client (none) gets 201 without a secret', async () => {
  const r = await postJson(sys, '/oauth/register', noneBody(), { src: SRC });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.token_endpoint_auth_method, 'none');
  assert.equal(r.json.client_secret, undefined);
  assert.deepEqual(r.json.redirect_uris, [CHATGPT_CALLBACK]);
});

test('48: foreign, plain-http and look-alike redirect URIs are 400 invalid_redirect_uri', async () => {
  for (const uri of ['https://evil.example/cb', 'http://example.com/cb', 'https://chatgpt.com.evil.example/connector/oauth/x',
    'https://claude.ai.evil.example/api/mcp/auth_callback', 'https://claude.ai/api/mcp/auth_callback#f']) {
    const r = await postJson(sys, '/oauth/register', { ...claudeBody(), redirect_uris: [uri] }, { src: SRC });
    assert.equal(r.status, 400, uri);
    assert.equal(r.json.error, 'invalid_redirect_uri', uri);
    assert.ok(r.json.error_description, 'the description is the only clue an operator gets');
  }
});

test('49: invalid JSON or no redirect_uris is 400 invalid_client_metadata', async () => {
  const { redirect_uris: _, ...noRedirects } = claudeBody();
  for (const body of ['{"client_name": "x",', 'null', JSON.stringify(noRedirects), JSON.stringify({ ...noRedirects, redirect_uris: [] })]) {
    const r = await postJson(sys, '/oauth/register', body, { src: SRC });
    assert.equal(r.status, 400, body);
    assert.equal(r.json.error, 'invalid_client_metadata', body);
  }
  const r = await postJson(sys, '/oauth/register', { ...claudeBody(), token_endpoint_auth_method: 'private_key_jwt' }, { src: SRC });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_client_metadata');
});

test('registration is limited to 20 per minute per client address (429 beyond), other addresses unaffected', async () => {
  const src = loopbackSource();
  const statuses = [];
  for (let i = 0; i < 21; i++) statuses.push((await postJson(sys, '/oauth/register', noneBody(), { src })).status);
  assert.deepEqual(statuses.slice(0, 20), Array(20).fill(201));
  assert.equal(statuses[20], 429);
  assert.equal((await postJson(sys, '/oauth/register', noneBody(), { src: loopbackSource() })).status, 201);
});

test('50: a registration survives an edge restart; tokens issued before it stay valid', async () => {
  const earlier = await connect(sys, acct, { src: SRC });
  assert.equal(await mcpStatus(earlier.tokens.access_token), 200);
  const client = await reg(claudeBody());
  await sys.edge.stop();
  sys.startEdge();
  await sys.waitReady(200);
  const { verifier, challenge } = pkce();
  const a = await authorizeCode(sys, client, acct, { src: SRC, challenge });
  const t = await redeem(sys, client, a.code, verifier, { src: SRC });
  assert.equal(await mcpStatus(t.access_token), 200);
  assert.equal(await mcpStatus(earlier.tokens.access_token), 200, 'the signing key persisted in STATE_DIR');
});

// ---- authorize (51–57) ----

test('51: the consent page names the client and the redirect host and cannot be framed', async () => {
  const client = await reg(claudeBody());
  const jar = new CookieJar();
  const first = await get(authzQuery(sys, client, { challenge: pkce().challenge }), { jar });
  assert.ok(isLoginPage(first), `a login page first: ${first.status}`);
  assert.ok(hiddenFields(first.text).some(([k, v]) => k === 'csrf_token' && v.length >= 32));
  assert.ok(jar.raw.some((c) => /HttpOnly/i.test(c) && /SameSite=Lax/i.test(c)), jar.raw.join(' | '));
  const page = await openConsent(sys, authzQuery(sys, client, { challenge: pkce().challenge }), acct, { jar, src: SRC });
  assert.ok(isConsentPage(page), `${page.status} ${page.text.slice(0, 300)}`);
  assert.ok(jar.raw.some((c) => /^tm_session=/.test(c) && /HttpOnly/i.test(c) && /SameSite=Lax/i.test(c)), 'session cookie flags');
  assert.match(page.text, /<strong>Claude<\/strong>/);
  assert.match(page.text, /self-registered/);
  assert.match(page.text, /<code>claude\.ai<\/code>/);
  for (const s of ['read', 'write', 'execute']) assert.match(page.text, new RegExp(`<input type="checkbox" name="scope" value="${s}" checked>`));
  assert.ok(hiddenFields(page.text).some(([k, v]) => k === 'csrf_token' && v.length > 0));
  const xfo = page.headers['x-frame-options'];
  const csp = page.headers['content-security-policy'] || '';
  assert.ok(xfo === 'DENY' || /frame-ancestors 'none'/.test(csp), `XFO ${xfo}, CSP ${csp}`);
  assert.equal(xfo, 'DENY');
  assert.match(csp, /frame-ancestors 'none'/);
});

test('52: approving redirects with a code, the same state and iss exactly equal to the issuer; deny is access_denied', async () => {
  const client = await reg(claudeBody());
  const { challenge } = pkce();
  const state = 'st-\u00e9 +/&=x';
  const a = await authorizeCode(sys, client, acct, { src: SRC, challenge, state });
  assert.equal(`${a.location.origin}${a.location.pathname}`, CLAUDE_CALLBACK);
  assert.ok(a.code && a.code.length >= 32);
  assert.equal(a.location.searchParams.get('state'), state);
  assert.equal(a.location.searchParams.get('iss'), H);
  assert.equal(a.location.searchParams.get('error'), null);

  const page = await openConsent(sys, authzQuery(sys, client, { challenge, state: 'd1' }), acct, { jar: a.jar, src: SRC });
  const r = await submitConsent(sys, page, { decision: 'deny' }, { jar: a.jar, src: SRC });
  assert.equal(r.status, 302);
  const loc = new URL(r.headers.location);
  assert.equal(loc.searchParams.get('error'), 'access_denied');
  assert.equal(loc.searchParams.get('code'), null);
  assert.equal(loc.searchParams.get('state'), 'd1');
  assert.equal(loc.searchParams.get('iss'), H);
});

test('53: no code_challenge or the plain method redirects with invalid_request, state and iss', async () => {
  const client = await reg(claudeBody());
  for (const over of [{ code_challenge: undefined }, { code_challenge_method: 'plain' }, { code_challenge_method: undefined }]) {
    const r = await get(authzQuery(sys, client, { challenge: pkce().challenge, state: 's53', ...over }));
    assert.equal(r.status, 302, JSON.stringify(over));
    const loc = new URL(r.headers.location);
    assert.ok(r.headers.location.startsWith(`${CLAUDE_CALLBACK}?`));
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.equal(loc.searchParams.get('state'), 's53');
    assert.equal(loc.searchParams.get('iss'), H);
  }
});

test('54: an unregistered redirect_uri or an unknown client_id is an error page, never a redirect', async () => {
  const client = await reg(claudeBody());
  const cases = [
    authzQuery(sys, client, { challenge: pkce().challenge, redirectUri: 'https://evil.example/cb' }),
    authzQuery(sys, client, { challenge: pkce().challenge, redirectUri: 'https://claude.com/api/mcp/auth_callback' }),
    authzQuery(sys, { ...client, client_id: 'no-such-client' }, { challenge: pkce().challenge }),
    // even with another error that would otherwise redirect
    authzQuery(sys, { ...client, client_id: 'no-such-client' }, { challenge: undefined }),
  ];
  for (const path of cases) {
    const r = await get(path);
    assert.ok(r.status >= 400 && r.status < 500, `${r.status} for ${path}`);
    assert.equal(r.headers.location, undefined, path);
    assert.match(r.headers['content-type'], /text\/html/);
  }
});

test('55: a loopback redirect matches on any port; a path with an extra segment does not', async () => {
  const native = await reg({ client_name: 'Native', redirect_uris: [LOOPBACK_CALLBACK], token_endpoint_auth_method: 'none' });
  const { verifier, challenge } = pkce();
  const redirectUri = 'http://127.0.0.1:54321/callback';
  const a = await authorizeCode(sys, native, acct, { src: SRC, challenge, redirectUri });
  assert.ok(a.location.href.startsWith(`${redirectUri}?`), a.location.href);
  const t = await redeem(sys, native, a.code, verifier, { redirectUri, src: SRC });
  assert.equal(await mcpStatus(t.access_token), 200);

  const claude = await reg(claudeBody());
  const r = await get(authzQuery(sys, claude, { challenge, redirectUri: `${CLAUDE_CALLBACK}/x` }));
  assert.equal(r.status, 400);
  assert.equal(r.headers.location, undefined);
});

test('56: without a scope parameter the default scopes are offered and the flow completes', async () => {
  const client = await reg(noneBody());
  const { verifier, challenge } = pkce();
  const jar = new CookieJar();
  const page = await openConsent(sys, authzQuery(sys, client, { challenge, scope: undefined }), acct, { jar, src: SRC });
  assert.ok(isConsentPage(page), `${page.status}`);
  for (const s of ['read', 'write', 'execute']) assert.match(page.text, new RegExp(`value="${s}" checked`));
  const r = await submitConsent(sys, page, {}, { jar, src: SRC });
  const code = new URL(r.headers.location).searchParams.get('code');
  assert.ok(code);
  const t = await redeem(sys, client, code, verifier, { src: SRC });
  assert.equal(decodeJwt(t.access_token).payload.scope, 'read write execute');
});

test('57: a foreign resource redirects with invalid_target', async () => {
  const client = await reg(claudeBody());
  for (const resource of ['https://other.example/mcp', `${H}.evil.example/api/mcp`]) {
    const r = await get(authzQuery(sys, client, { challenge: pkce().challenge, resource, state: 's57' }));
    assert.equal(r.status, 302, resource);
    const loc = new URL(r.headers.location);
    assert.equal(loc.searchParams.get('error'), 'invalid_target');
    assert.equal(loc.searchParams.get('state'), 's57');
    assert.equal(loc.searchParams.get('iss'), H);
  }
});

// ---- sign-in page ----

test('sign-in: a wrong CSRF token is 403 without a session; a wrong consent CSRF is 403 without a code', async () => {
  const client = await reg(claudeBody());
  const jar = new CookieJar();
  const path = authzQuery(sys, client, { challenge: pkce().challenge });
  const login = await get(path, { jar });
  assert.ok(isLoginPage(login));
  let r = await submitLogin(sys, login, { email: acct.email, password: PASSWORD }, { jar, src: SRC, csrf: 'A'.repeat(43) });
  assert.equal(r.status, 403);
  assert.equal(r.headers.location, undefined);
  assert.ok(!jar.cookies.has('tm_session'), 'no session was created');
  // without the CSRF cookie (a cross-site form post) it is refused too
  r = await submitLogin(sys, login, { email: acct.email, password: PASSWORD }, { src: SRC });
  assert.equal(r.status, 403);

  const page = await openConsent(sys, path, acct, { jar, src: SRC });
  assert.ok(isConsentPage(page));
  r = await submitConsent(sys, page, { csrf: 'forged' }, { jar, src: SRC });
  assert.equal(r.status, 403);
  assert.equal(r.headers.location, undefined);
  // the real token still works
  r = await submitConsent(sys, page, {}, { jar, src: SRC });
  assert.equal(r.status, 302);
  assert.ok(new URL(r.headers.location).searchParams.get('code'));
});

test('sign-in: 10 failures lock the account with a clear message, whatever the password; other accounts still sign in', async () => {
  const victim = await createAccount('lockout');
  const client = await reg(claudeBody());
  const jar = new CookieJar();
  const login = await get(authzQuery(sys, client, { challenge: pkce().challenge }), { jar });
  assert.ok(isLoginPage(login));
  const statuses = [];
  for (let i = 0; i < 10; i++) {
    const r = await submitLogin(sys, login, { email: victim.email, password: `wrong-${i}` }, { jar, src: SRC });
    statuses.push(r.status);
    if (i === 0) assert.match(r.text, /e-mail or password is not correct/);
  }
  assert.deepEqual(statuses.slice(0, 9), Array(9).fill(401));
  assert.equal(statuses[9], 429, 'the tenth failure locks');
  const r = await submitLogin(sys, login, { email: victim.email, password: PASSWORD }, { jar, src: SRC });
  assert.equal(r.status, 429, 'the right password is refused while locked');
  assert.match(r.text, /Too many failed sign-ins/);
  assert.match(r.text, /try again in \d+ minutes?/);
  assert.ok(Number(r.headers['retry-after']) > 0);
  assert.ok(!jar.cookies.has('tm_session'));
  // the same form signs in another account
  const ok = await submitLogin(sys, login, { email: acct.email, password: PASSWORD }, { jar, src: SRC });
  assert.equal(ok.status, 303);
});

// ---- token (58–67) ----

test('58: the code exchange returns a Bearer JWT for M with iss, exp, scope, and a refresh token; no-store', async () => {
  const client = await reg(claudeBody());
  const { verifier, challenge } = pkce();
  const a = await authorizeCode(sys, client, acct, { src: SRC, challenge });
  const r = await token(sys, client, {
    grant_type: 'authorization_code', code: a.code, redirect_uri: CLAUDE_CALLBACK, code_verifier: verifier, resource: M,
  }, { src: SRC });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.match(r.headers['cache-control'], /no-store/);
  const t = r.json;
  assert.equal(t.token_type, 'Bearer');
  assert.ok(t.expires_in > 0 && t.expires_in <= 3600);
  assert.ok(typeof t.refresh_token === 'string' && t.refresh_token.length >= 32);
  assert.equal(t.scope, 'read write execute');
  const { header, payload } = decodeJwt(t.access_token);
  assert.equal(header.alg, 'ES256');
  const jwks = (await get('/.well-known/jwks.json')).json;
  assert.ok(jwks.keys.some((k) => k.kid === header.kid), 'kid is in the JWKS');
  assert.equal(payload.aud, M);
  assert.equal(payload.iss, H);
  assert.equal(payload.sub, acct.id);
  assert.equal(payload.client_id, client.client_id);
  assert.equal(payload.scope, 'read write execute');
  const now = Date.now() / 1000;
  assert.ok(payload.exp > now && payload.exp <= now + 3700, `exp ${payload.exp}`);
  assert.ok(payload.jti);
  assert.equal(await mcpStatus(t.access_token), 200);
});

test('60/61: a wrong code_verifier or a different redirect_uri is invalid_grant', async () => {
  const client = await reg({ ...claudeBody(), redirect_uris: [CLAUDE_CALLBACK, 'https://claude.com/api/mcp/auth_callback'] });
  let { verifier, challenge } = pkce();
  let a = await authorizeCode(sys, client, acct, { src: SRC, challenge });
  let r = await token(sys, client, { grant_type: 'authorization_code', code: a.code, redirect_uri: CLAUDE_CALLBACK, code_verifier: pkce().verifier }, { src: SRC });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
  // a wrong verifier spends the code
  r = await token(sys, client, { grant_type: 'authorization_code', code: a.code, redirect_uri: CLAUDE_CALLBACK, code_verifier: verifier }, { src: SRC });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');

  ({ verifier, challenge } = pkce());
  a = await authorizeCode(sys, client, acct, { src: SRC, challenge, jar: a.jar });
  r = await token(sys, client, { grant_type: 'authorization_code', code: a.code, redirect_uri: 'https://claude.com/api/mcp/auth_callback', code_verifier: verifier }, { src: SRC });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
});

test('62: a JSON body is invalid_request; grant_type client_credentials and password are unsupported_grant_type', async () => {
  const client = await reg(claudeBody());
  let r = await postJson(sys, '/oauth/token', { grant_type: 'authorization_code', code: 'x', client_id: client.client_id }, { src: SRC });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_request');
  assert.match(r.headers['cache-control'], /no-store/);
  for (const g of ['client_credentials', 'password']) {
    r = await token(sys, client, { grant_type: g, username: acct.email, password: PASSWORD }, { src: SRC });
    assert.equal(r.status, 400, g);
    assert.equal(r.json.error, 'unsupported_grant_type', g);
  }
});

test('63: wrong secrets and the wrong authentication method are 401 invalid_client', async () => {
  const basic = await connect(sys, acct, { src: SRC, body: { ...claudeBody(), client_name: 'Basic', token_endpoint_auth_method: 'client_secret_basic' } });
  const post = await connect(sys, acct, { src: SRC });
  const refresh = (c, R, opts) => token(sys, c, { grant_type: 'refresh_token', refresh_token: R }, { src: SRC, ...opts });

  let r = await refresh(basic.client, basic.tokens.refresh_token, { secret: 'wrong-secret' });
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'invalid_client');
  assert.match(r.headers['www-authenticate'] || '', /^Basic/);

  r = await refresh(post.client, post.tokens.refresh_token, { secret: 'wrong-secret' });
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'invalid_client');

  r = await refresh(post.client, post.tokens.refresh_token, { auth: 'basic' });
  assert.equal(r.status, 401, 'a client_secret_post client may not use Basic');
  assert.equal(r.json.error, 'invalid_client');
  r = await refresh(post.client, post.tokens.refresh_token, { auth: 'none' });
  assert.equal(r.status, 401, 'a confidential client must send its secret');
  assert.equal(r.json.error, 'invalid_client');

  // and the same tokens refresh with the registered method
  assert.equal((await refresh(basic.client, basic.tokens.refresh_token)).status, 200);
  assert.equal((await refresh(post.client, post.tokens.refresh_token)).status, 200);
});

test('65: a garbage or expired refresh token is invalid_grant, never invalid_request', async () => {
  const c = await connect(sys, acct, { src: SRC });
  let r = await token(sys, c.client, { grant_type: 'refresh_token', refresh_token: 'garbage' }, { src: SRC });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
  await psql(`UPDATE oauth_refresh_tokens SET expires_at = now() - interval '1 second' WHERE client_id = '${c.client.client_id}'`);
  r = await token(sys, c.client, { grant_type: 'refresh_token', refresh_token: c.tokens.refresh_token }, { src: SRC });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
});

test('67: resource H/api/mcp/, H and H/ all give aud = M, which M accepts', async () => {
  const client = await reg(noneBody());
  let jar;
  for (const resource of [`${M}/`, H, `${H}/`, M.replace('http://', 'HTTP://')]) {
    const { verifier, challenge } = pkce();
    const a = await authorizeCode(sys, client, acct, { src: SRC, challenge, resource, jar });
    jar = a.jar;
    assert.ok(a.code, `${resource}: ${a.location.href}`);
    const t = await redeem(sys, client, a.code, verifier, { resource, src: SRC });
    assert.equal(decodeJwt(t.access_token).payload.aud, M, resource);
    assert.equal(await mcpStatus(t.access_token), 200, resource);
  }
  // and a foreign resource at the token endpoint is invalid_target
  const { verifier, challenge } = pkce();
  const a = await authorizeCode(sys, client, acct, { src: SRC, challenge, jar });
  const r = await token(sys, client, { grant_type: 'authorization_code', code: a.code, redirect_uri: CHATGPT_CALLBACK, code_verifier: verifier, resource: 'https://other.example/mcp' }, { src: SRC });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_target');
});

// ---- bearer JWT attacks at /api/mcp (39, 40) ----

test('39/40: expired, foreign-audience, wrong-issuer, HS256, alg none, unknown-kid and query tokens are 401', async () => {
  const { priv, publicPem } = signingKey(sys);
  const real = (await connect(sys, acct, { src: SRC })).tokens.access_token;
  const { kid } = decodeJwt(real).header;
  const h = { alg: 'ES256', typ: 'JWT', kid };
  const now = Math.floor(Date.now() / 1000);
  // The crafting is right: a token made like the edge's is accepted.
  assert.equal(await mcpStatus(signEs256(priv, h, claimsFor(sys, acct.id))), 200, 'control token');
  const bad = {
    expired: signEs256(priv, h, claimsFor(sys, acct.id, { iat: now - 7200, exp: now - 3600 })),
    'not yet valid': signEs256(priv, h, claimsFor(sys, acct.id, { nbf: now + 3600 })),
    'other aud': signEs256(priv, h, claimsFor(sys, acct.id, { aud: 'https://other.example/api/mcp' })),
    'wrong iss': signEs256(priv, h, claimsFor(sys, acct.id, { iss: 'https://evil.example' })),
    'iss with trailing slash': signEs256(priv, h, claimsFor(sys, acct.id, { iss: `${H}/` })),
    'HS256 with the public key': signHs256(publicPem, { alg: 'HS256', typ: 'JWT', kid }, claimsFor(sys, acct.id)),
    'alg none': unsigned({ alg: 'none', typ: 'JWT', kid }, claimsFor(sys, acct.id)),
    'unknown kid': signEs256(priv, { ...h, kid: 'not-a-known-kid' }, claimsFor(sys, acct.id)),
    'tampered payload': (() => {
      const [a, , s] = real.split('.');
      const p = { ...decodeJwt(real).payload, scope: 'read write execute', sub: '00000000-0000-4000-8000-000000000000' };
      return `${a}.${Buffer.from(JSON.stringify(p)).toString('base64url')}.${s}`;
    })(),
  };
  for (const [label, jwt] of Object.entries(bad)) {
    const r = await legacy(sys, jwt, 'tools/list', {});
    assert.equal(r.status, 401, label);
    assert.match(r.headers['www-authenticate'], /error="invalid_token"/, label);
  }
  // 40: the token in the query string is ignored
  const r = await request(sys, {
    path: `/api/mcp?access_token=${encodeURIComponent(real)}`,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
  });
  assert.equal(r.status, 401);
});

test('a read-only grant sees read tools only and gets 403 insufficient_scope for a write tool', async () => {
  const c = await connect(sys, acct, { src: SRC, body: noneBody(), scopes: ['read'] });
  assert.equal(c.tokens.scope, 'read');
  assert.equal(decodeJwt(c.tokens.access_token).payload.scope, 'read');
  const names = (await legacy(sys, c.tokens.access_token, 'tools/list', {})).json.result.tools.map((t) => t.name);
  assert.ok(names.includes('endpoints_list') && !names.includes('endpoints_create'), names.join(','));
  const r = await legacy(sys, c.tokens.access_token, 'tools/call', { name: 'endpoints_create', arguments: { name: unique('ro') } });
  assert.equal(r.status, 403);
  assert.match(r.headers['www-authenticate'], /error="insufficient_scope"/);
  // a refresh may not widen the grant
  const w = await token(sys, c.client, { grant_type: 'refresh_token', refresh_token: c.tokens.refresh_token, scope: 'read write' }, { src: SRC });
  assert.equal(w.status, 400);
  assert.equal(w.json.error, 'invalid_scope');
});

// ---- revocation: these wait for the edge's revocation poll, side by side ----

describe('revocation reaches the edge within the poll interval', { concurrency: true }, () => {
  test('59: a reused code is invalid_grant and revokes what the code issued', async () => {
    const client = await reg(claudeBody());
    const { verifier, challenge } = pkce();
    const a = await authorizeCode(sys, client, acct, { src: SRC, challenge });
    const t = await redeem(sys, client, a.code, verifier, { src: SRC });
    assert.equal(await mcpStatus(t.access_token), 200);
    const r = await token(sys, client, { grant_type: 'authorization_code', code: a.code, redirect_uri: CLAUDE_CALLBACK, code_verifier: verifier }, { src: SRC });
    const at = Date.now();
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_grant');
    const rr = await token(sys, client, { grant_type: 'refresh_token', refresh_token: t.refresh_token }, { src: SRC });
    assert.equal(rr.json?.error, 'invalid_grant', 'the refresh token is revoked');
    await waitRefused([t.access_token], at, 'code reuse');
  });

  test('64: refresh rotates; the old token works again within 60 s; after that it revokes the family', async () => {
    const c = await connect(sys, acct, { src: SRC });
    const refresh = (R) => token(sys, c.client, { grant_type: 'refresh_token', refresh_token: R, resource: M }, { src: SRC });
    const R1 = c.tokens.refresh_token;
    let r = await refresh(R1);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['cache-control'], /no-store/);
    const { access_token: A2, refresh_token: R2 } = r.json;
    assert.notEqual(R2, R1);
    assert.notEqual(A2, c.tokens.access_token);
    assert.equal(decodeJwt(A2).payload.aud, M);
    assert.equal(await mcpStatus(A2), 200);
    r = await refresh(R1);
    assert.equal(r.status, 200, 'R1 again within the grace window');
    const A3 = r.json.access_token;
    // 60 s pass for R1's rotation (what waiting would do)
    await psql(`UPDATE oauth_refresh_tokens SET rotated_at = rotated_at - interval '61 seconds' WHERE client_id = '${c.client.client_id}' AND rotated_at IS NOT NULL`);
    r = await refresh(R1);
    const at = Date.now();
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_grant');
    r = await refresh(R2);
    assert.equal(r.status, 400, 'R2 belongs to the revoked family');
    assert.equal(r.json.error, 'invalid_grant');
    await waitRefused([A2, A3, c.tokens.access_token], at, 'refresh reuse');
  });

  test('/oauth/revoke of a refresh token: refresh is invalid_grant and the access token stops', async () => {
    const c = await connect(sys, acct, { src: SRC, body: noneBody() });
    assert.equal(await mcpStatus(c.tokens.access_token), 200);
    const r = await postForm(sys, '/oauth/revoke', { token: c.tokens.refresh_token, client_id: c.client.client_id }, { src: SRC });
    const at = Date.now();
    assert.equal(r.status, 200, r.text);
    const rr = await token(sys, c.client, { grant_type: 'refresh_token', refresh_token: c.tokens.refresh_token }, { src: SRC });
    assert.equal(rr.status, 400);
    assert.equal(rr.json.error, 'invalid_grant');
    // revoking an unknown token is not an error (RFC 7009)
    const u = await postForm(sys, '/oauth/revoke', { token: 'unknown', client_id: c.client.client_id }, { src: SRC });
    assert.equal(u.status, 200);
    await waitRefused([c.tokens.access_token], at, 'revoke');
  });
});

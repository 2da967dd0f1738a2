// oauth.mjs — helpers of the OAuth system tests: raw HTTP with a cookie jar
// and a chosen loopback source address, dynamic client registration, PKCE,
// the sign-in and consent forms driven without a browser, the token
// endpoint, and JWT decoding and crafting (node:crypto).
//
// Source addresses: the edge limits registrations to 20 per minute per client
// address, counted in the shared database, so each test file talks from its
// own 127.x.y.z (all of 127.0.0.0/8 is loopback on Linux) instead of
// competing with other files for 127.0.0.1's budget.

import http from 'node:http';
import { createHash, createHmac, createPrivateKey, createPublicKey, randomBytes, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// A random loopback source address other than 127.0.0.1.
export function loopbackSource() {
  const b = randomBytes(3);
  return `127.${1 + (b[0] % 250)}.${b[1]}.${1 + (b[2] % 250)}`;
}

// Cookies by name, from Set-Cookie headers (path and domain are always / and
// the edge's host in these tests).
export class CookieJar {
  constructor() { this.cookies = new Map(); this.raw = []; }
  take(headers) {
    for (const c of [].concat(headers['set-cookie'] || [])) {
      this.raw.push(c);
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
}

// One HTTP request to the system. Resolves with {status, headers, text, json}.
export function httpReq(sys, { method = 'GET', path, headers = {}, body, jar, src } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (jar && jar.cookies.size) h.Cookie = jar.header();
    if (body !== undefined) h['Content-Length'] = Buffer.byteLength(body);
    const req = http.request({
      host: '127.0.0.1', port: sys.port, method, path, headers: h, agent: false,
      ...(src ? { localAddress: src } : {}),
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (jar) jar.take(res.headers);
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(30000, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

export const form = (pairs) => {
  const p = new URLSearchParams();
  for (const [k, v] of Array.isArray(pairs) ? pairs : Object.entries(pairs)) if (v !== undefined) p.append(k, v);
  return p.toString();
};

export function postForm(sys, path, pairs, { jar, src, headers = {} } = {}) {
  return httpReq(sys, {
    method: 'POST', path, jar, src, body: form(pairs),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
  });
}

export function postJson(sys, path, body, { src, headers = {} } = {}) {
  return httpReq(sys, {
    method: 'POST', path, src, body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

// ---- registration -----------------------------------------------------------

export const CLAUDE_CALLBACK = 'https://claude.ai/api/mcp/auth_callback';
export const LOOPBACK_CALLBACK = 'http://127.0.0.1/callback';

// The body claude.ai sends (MCP.md §5.4), with the scope our metadata lists.
export const claudeBody = () => ({
  client_name: 'Claude',
  client_uri: CLAUDE_CALLBACK,
  grant_types: ['authorization_code', 'refresh_token'],
  redirect_uris: [CLAUDE_CALLBACK],
  response_types: ['code'],
  scope: 'read write execute',
  token_endpoint_auth_method: 'client_secret_post',
});

// Registers a client; throws unless 201. Returns the registration response.
// Each registration comes from a fresh source address unless `src` is given.
export async function registerClient(sys, body, { src = loopbackSource() } = {}) {
  const r = await postJson(sys, '/oauth/register', body, { src });
  if (r.status !== 201) throw new Error(`register: HTTP ${r.status} ${r.text}`);
  return r.json;
}

// ---- PKCE and the authorization request -------------------------------------

export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

// The query of an authorization request; `over` replaces or (undefined)
// removes parameters.
export function authzQuery(sys, client, { redirectUri, challenge, state = randomBytes(8).toString('hex'), ...over } = {}) {
  const p = {
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: redirectUri ?? client.redirect_uris[0],
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    scope: 'read write execute',
    resource: `${sys.url}/api/mcp`,
  };
  for (const [k, v] of Object.entries(over)) p[k] = v;
  return `/oauth/authorize?${form(p)}`;
}

// ---- the HTML forms -----------------------------------------------------------

const unescapeHtml = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&#x27;/g, "'")
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

// The hidden inputs of a page, in order, as [name, value] pairs.
export function hiddenFields(html) {
  const out = [];
  for (const m of html.matchAll(/<input\b[^>]*>/g)) {
    const tag = m[0];
    if (!/type="hidden"/.test(tag)) continue;
    const name = /name="([^"]*)"/.exec(tag)?.[1];
    const value = /value="([^"]*)"/.exec(tag)?.[1] ?? '';
    if (name !== undefined) out.push([unescapeHtml(name), unescapeHtml(value)]);
  }
  return out;
}

export const isLoginPage = (r) => r.status === 200 && /name="email"/.test(r.text) && /name="password"/.test(r.text);
export const isConsentPage = (r) => r.status === 200 && /name="decision" value="allow"/.test(r.text);

// Submits the sign-in form of a login page response.
export function submitLogin(sys, page, { email, password }, { jar, src, csrf } = {}) {
  const fields = hiddenFields(page.text).map(([k, v]) => [k, k === 'csrf_token' && csrf !== undefined ? csrf : v]);
  return postForm(sys, '/oauth/authorize', [...fields, ['email', email], ['password', password]], { jar, src });
}

// GET the authorization URL, signing in if the jar has no session; resolves
// with the consent page response (or whatever came instead).
export async function openConsent(sys, path, account, { jar, src, password = 'correct horse battery' } = {}) {
  let r = await httpReq(sys, { path, jar, src });
  if (isLoginPage(r)) {
    const login = await submitLogin(sys, r, { email: account.email, password }, { jar, src });
    if (login.status !== 303) throw new Error(`sign-in: HTTP ${login.status} ${login.text.slice(0, 500)}`);
    const next = new URL(login.headers.location);
    r = await httpReq(sys, { path: next.pathname + next.search, jar, src });
  }
  return r;
}

// Submits the consent form with the given decision and ticked scopes.
export function submitConsent(sys, page, { decision = 'allow', scopes = ['read', 'write', 'execute'], csrf } = {}, { jar, src } = {}) {
  const fields = hiddenFields(page.text).map(([k, v]) => [k, k === 'csrf_token' && csrf !== undefined ? csrf : v]);
  return postForm(sys, '/oauth/authorize', [...fields, ...scopes.map((s) => ['scope', s]), ['decision', decision]], { jar, src });
}

// The whole browser part: authorization URL → (sign-in) → consent → allow.
// Resolves with {code, location, state} from the 302.
export async function authorizeCode(sys, client, account, { jar = new CookieJar(), src, challenge, scopes, ...over } = {}) {
  const state = over.state ?? randomBytes(8).toString('hex');
  const page = await openConsent(sys, authzQuery(sys, client, { challenge, ...over, state }), account, { jar, src });
  if (!isConsentPage(page)) throw new Error(`expected the consent page, got HTTP ${page.status} ${page.text.slice(0, 500)}`);
  const r = await submitConsent(sys, page, { scopes }, { jar, src });
  if (r.status !== 302) throw new Error(`consent: HTTP ${r.status} ${r.text.slice(0, 500)}`);
  const loc = new URL(r.headers.location);
  return { code: loc.searchParams.get('code'), location: loc, state, jar };
}

// ---- token endpoint -------------------------------------------------------------

// POST /oauth/token with the client authenticated as it registered (override
// with auth: 'none' | 'post' | 'basic' and secret).
export function token(sys, client, params, { auth, secret = client.client_secret, src, headers = {} } = {}) {
  const method = auth ?? { none: 'none', client_secret_post: 'post', client_secret_basic: 'basic' }[client.token_endpoint_auth_method];
  const p = { ...params };
  const h = { ...headers };
  if (method === 'basic') {
    h.Authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  } else {
    p.client_id = client.client_id;
    if (method === 'post') p.client_secret = secret;
  }
  return postForm(sys, '/oauth/token', p, { src, headers: h });
}

// Code → tokens; throws unless 200. Resolves with the token response JSON.
export async function redeem(sys, client, code, verifier, { redirectUri = client.redirect_uris[0], resource, src } = {}) {
  const r = await token(sys, client, {
    grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier,
    resource: resource ?? `${sys.url}/api/mcp`,
  }, { src });
  if (r.status !== 200) throw new Error(`token: HTTP ${r.status} ${r.text}`);
  return r.json;
}

// Registration + sign-in + consent + token in one: {client, tokens, jar}.
export async function connect(sys, account, { body = claudeBody(), client, src, scopes, jar } = {}) {
  const c = client ?? await registerClient(sys, body);
  const { verifier, challenge } = pkce();
  const a = await authorizeCode(sys, c, account, { src, challenge, scopes, jar });
  return { client: c, tokens: await redeem(sys, c, a.code, verifier, { src }), jar: a.jar };
}

// ---- JWT ------------------------------------------------------------------------

export function decodeJwt(jwt) {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

const b64json = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

// The edge's signing key (generated in its STATE_DIR on first start).
export function signingKey(sys) {
  const pem = readFileSync(join(sys.stateDir, 'signing-key.pem'));
  const priv = createPrivateKey(pem);
  return { priv, publicPem: createPublicKey(priv).export({ type: 'spki', format: 'pem' }) };
}

// An ES256 JWT signed with `priv` (raw r||s signature, as JWS requires).
export function signEs256(priv, header, payload) {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const sig = sign('sha256', Buffer.from(input), { key: priv, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

export function signHs256(secret, header, payload) {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export function unsigned(header, payload) {
  return `${b64json(header)}.${b64json(payload)}.`;
}

// Claims like the edge's own, for crafting tokens.
export function claimsFor(sys, accountId, over = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: sys.url, sub: accountId, aud: `${sys.url}/api/mcp`, client_id: 'crafted-client',
    scope: 'read write execute', iat: now, exp: now + 600, jti: randomUUID(), gid: randomUUID(), ...over,
  };
}

// The whole connector flow, end to end (MCP.md §7 item 69): the official MCP
// TypeScript SDK client with an OAuthClientProvider against `make run` (the
// edge and workers it starts) — 401 → protected resource metadata → authorization server
// metadata → dynamic registration → authorization in headless Chromium
// (Debian's chromium, driven by playwright-core; the test fills the sign-in
// form and presses Allow) → the code reaches a callback server on 127.0.0.1
// → token → tools/list → tools/call → refresh after the access token is
// refused → the call again. Once as a public client (none), once as a
// client_secret_post client, and once read-only (write and execute unticked
// on the consent page).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startMakeRun, createAccount, legacy, unique } from '../lib/system.mjs';
import { decodeJwt } from '../lib/oauth.mjs';

const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'correct horse battery';

let sys, acct, browser, page, userDataDir, callback;

// The redirect_uri: a loopback server that hands each code to whoever waits.
function startCallbackServer() {
  return new Promise((resolve) => {
    const waiting = [];
    const server = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (url.pathname !== '/callback') {
        res.writeHead(404, { 'Content-Length': '0' });
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('You can close this window.');
      waiting.shift()?.(url.searchParams);
    });
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}/callback`,
        next: () => new Promise((r) => waiting.push(r)),
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
      });
    });
  });
}

before(async () => {
  // Against `make run` itself, as the issue asks: the same command a person runs.
  sys = await startMakeRun({ name: 'oauth-e2e', workers: 2 });
  acct = await createAccount('e2e');
  callback = await startCallbackServer();
  userDataDir = mkdtempSync(join(tmpdir(), '3min-chromium-'));
  // A persistent context is how playwright takes a fresh --user-data-dir.
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // One tab for every flow: closing a tab can stall while it still loads.
  page = browser.pages()[0] ?? await browser.newPage();
});
after(async () => {
  await within(browser?.close(), 20000, 'chromium did not close').catch((e) => console.error(e.message));
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await callback?.close();
  await sys?.stop();
});

// A connector's OAuthClientProvider: keeps everything in memory and, when
// the SDK redirects, signs in and answers the consent page in Chromium.
class BrowserProvider {
  constructor({ authMethod, clientName, untick = [] }) {
    this.authMethod = authMethod;
    this.clientName = clientName;
    this.untick = untick;
    this.saved = {};
    this.authorizationUrl = null;
    this.codePromise = null;
  }
  get redirectUrl() { return callback.url; }
  get clientMetadata() {
    return {
      client_name: this.clientName,
      redirect_uris: [callback.url],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: this.authMethod,
    };
  }
  state() { this.lastState = randomBytes(12).toString('hex'); return this.lastState; }
  clientInformation() { return this.saved.client; }
  saveClientInformation(info) { this.saved.client = info; }
  tokens() { return this.saved.tokens; }
  saveTokens(t) { this.saved.tokens = t; }
  saveCodeVerifier(v) { this.saved.verifier = v; }
  codeVerifier() { return this.saved.verifier; }
  redirectToAuthorization(url) {
    this.authorizationUrl = url;
    this.codePromise = authorizeInBrowser(url, this.untick);
  }
}

function within(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

// Sign in and consent, without the cookies of earlier flows; resolves with
// the callback's query parameters.
async function authorizeInBrowser(url, untick) {
  await browser.clearCookies();
  try {
    const arrived = callback.next();
    await page.goto(url.toString());
    await page.fill('input[name="email"]', acct.email);
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('form button[type="submit"]');
    const allow = page.locator('button[name="decision"][value="allow"]');
    await allow.waitFor({ timeout: 15000 });
    for (const s of untick) await page.uncheck(`input[type="checkbox"][name="scope"][value="${s}"]`);
    await allow.click();
    return await within(arrived, 15000, 'the callback was not reached after Allow');
  } catch (e) {
    // Say where the browser was stuck.
    const text = await within(page.evaluate(() => document.body?.innerText ?? ''), 5000, 'page text').catch(() => '?');
    throw new Error(`${e.message}\nbrowser at ${page.url()}:\n${text.slice(0, 800)}`);
  }
}

// fetch that records every request the SDK makes (method, URL, status, body).
function recordingFetch(log) {
  return async (input, init = {}) => {
    const res = await fetch(input, init);
    log.push({
      method: init.method || 'GET', url: String(input instanceof Request ? input.url : input), status: res.status,
      body: init.body === undefined ? undefined : String(init.body),
      authorization: new Headers(init.headers).get('authorization'),
    });
    return res;
  };
}

// Runs the connector flow with the SDK; resolves with {client, provider, log}.
async function connectWithOAuth(provider) {
  const log = [];
  const fetchFn = recordingFetch(log);
  const first = new Client({ name: '3min-oauth-e2e', version: '1.0.0' });
  const t1 = new StreamableHTTPClientTransport(new URL(sys.mcpUrl), { authProvider: provider, fetch: fetchFn });
  await assert.rejects(first.connect(t1), UnauthorizedError, 'no token yet: the SDK must go through the browser');
  assert.ok(provider.codePromise, 'the SDK asked for a browser redirect');
  const back = await within(provider.codePromise, 60000, 'the browser flow did not finish');
  assert.equal(back.get('error'), null, `authorization error: ${back.get('error')} ${back.get('error_description')}`);
  assert.equal(back.get('state'), provider.lastState);
  assert.equal(back.get('iss'), sys.url);
  await t1.finishAuth(back.get('code'));
  await first.close();

  const client = new Client({ name: '3min-oauth-e2e', version: '1.0.0' });
  const t2 = new StreamableHTTPClientTransport(new URL(sys.mcpUrl), { authProvider: provider, fetch: fetchFn });
  await client.connect(t2);
  return { client, provider, log };
}

const path = (u) => new URL(u).pathname;

// What every flow must have done on the wire, in this order.
function assertDiscoveryAndRegistration(log, provider) {
  const seen = log.map((e) => `${e.method} ${path(e.url)} ${e.status}`);
  const at = (re) => seen.findIndex((s) => re.test(s));
  const order = [
    at(/^POST \/api\/mcp 401$/),
    at(/^GET \/\.well-known\/oauth-protected-resource\/api\/mcp 200$/),
    at(/^GET \/\.well-known\/oauth-authorization-server 200$/),
    at(/^POST \/oauth\/register 201$/),
    at(/^POST \/oauth\/token 200$/),
  ];
  assert.ok(order.every((i) => i >= 0), `missing a step:\n${seen.join('\n')}`);
  assert.deepEqual([...order].sort((a, b) => a - b), order, `out of order:\n${seen.join('\n')}`);
  const au = provider.authorizationUrl;
  assert.equal(`${au.origin}${au.pathname}`, `${sys.url}/oauth/authorize`);
  assert.equal(au.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(au.searchParams.get('resource'), sys.mcpUrl);
  assert.equal(au.searchParams.get('client_id'), provider.saved.client.client_id);
}

// Forces a refresh the way a connector meets one: the server refuses the
// access token (401), the SDK refreshes and repeats the call.
async function refreshThroughSdk(client, provider, log, call) {
  const before = provider.saved.tokens;
  provider.saved.tokens = { ...before, access_token: 'expired-access-token' };
  const n = log.length;
  const result = await call();
  // (the SDK may fetch the discovery documents again on the way)
  const calls = log.slice(n).filter((e) => e.method !== 'GET');
  const after = calls.map((e) => `${e.method} ${path(e.url)} ${e.status}`);
  assert.deepEqual(after, ['POST /api/mcp 401', 'POST /oauth/token 200', 'POST /api/mcp 200'], after.join('\n'));
  const refreshLog = calls[1];
  const refreshReq = new URLSearchParams(refreshLog.body);
  assert.equal(refreshReq.get('grant_type'), 'refresh_token');
  assert.equal(refreshReq.get('refresh_token'), before.refresh_token);
  assert.notEqual(provider.saved.tokens.refresh_token, before.refresh_token, 'the refresh token rotated');
  assert.notEqual(provider.saved.tokens.access_token, 'expired-access-token');
  assert.equal(decodeJwt(provider.saved.tokens.access_token).payload.aud, sys.mcpUrl);
  return { result, refreshReq, refreshLog };
}

async function fullFlow(authMethod) {
  const provider = new BrowserProvider({ authMethod, clientName: `E2E ${authMethod}` });
  const { client, log } = await connectWithOAuth(provider);
  try {
    assertDiscoveryAndRegistration(log, provider);
    const reg = provider.saved.client;
    assert.equal(reg.token_endpoint_auth_method, authMethod);
    assert.equal(reg.client_secret === undefined, authMethod === 'none');
    const tokenReq = new URLSearchParams(log.find((e) => path(e.url) === '/oauth/token').body);
    assert.equal(tokenReq.get('grant_type'), 'authorization_code');
    assert.ok(tokenReq.get('code_verifier'));
    assert.equal(tokenReq.get('resource'), sys.mcpUrl);
    assert.equal(provider.saved.tokens.token_type, 'Bearer');
    assert.ok(provider.saved.tokens.refresh_token);

    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of ['endpoints_create', 'endpoints_list', 'endpoints_get']) assert.ok(names.includes(n), n);

    const name = unique(`OAuth ${authMethod}`);
    const created = await client.callTool({ name: 'endpoints_create', arguments: { name, fields: [{ name: 'title', type: 'string' }] } });
    assert.ok(!created.isError, JSON.stringify(created));
    const id = created.structuredContent.endpoint.id;

    const { result, refreshReq, refreshLog } = await refreshThroughSdk(client, provider, log,
      () => client.callTool({ name: 'endpoints_get', arguments: { endpoint: id } }));
    assert.ok(!result.isError, JSON.stringify(result));
    assert.equal(result.structuredContent.name, name);
    if (authMethod === 'client_secret_post') {
      assert.equal(refreshReq.get('client_secret'), reg.client_secret, 'the secret travels in the body');
      assert.equal(refreshLog.authorization, null);
    } else {
      assert.equal(refreshReq.get('client_secret'), null);
      assert.equal(refreshReq.get('client_id'), reg.client_id);
    }
    // and the call again, with the refreshed token
    const again = await client.callTool({ name: 'endpoints_list', arguments: {} });
    assert.ok(again.structuredContent.items.some((e) => e.id === id));
  } finally {
    await client.close();
  }
}

test('69: the SDK connects as a public client (none): browser sign-in, tools/list, tools/call, refresh, call again', { timeout: 90000 }, async () => {
  await fullFlow('none');
});

test('69: the SDK connects as a client_secret_post client: browser sign-in, tools/list, tools/call, refresh, call again', { timeout: 90000 }, async () => {
  await fullFlow('client_secret_post');
});

test('a read-only grant (write and execute unticked) lists no write tools and cannot call one (403 insufficient_scope)', { timeout: 90000 }, async () => {
  const provider = new BrowserProvider({ authMethod: 'none', clientName: 'E2E read-only', untick: ['write', 'execute'] });
  const { client, log } = await connectWithOAuth(provider);
  try {
    assertDiscoveryAndRegistration(log, provider);
    assert.equal(provider.saved.tokens.scope, 'read');
    assert.equal(decodeJwt(provider.saved.tokens.access_token).payload.scope, 'read');
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['archives_download', 'archives_list', 'collaborators_list_invitations',
      'collaborators_list_keys', 'endpoints_get', 'endpoints_list', 'help',
      'logs_fetch_archived', 'logs_lookup', 'logs_search', 'stats', 'subscription']);

    const name = unique('ReadOnly');
    await assert.rejects(
      client.callTool({ name: 'endpoints_create', arguments: { name } }),
      (e) => e.code === 403 || /403/.test(String(e.message)),
    );
    const raw = await legacy(sys, provider.saved.tokens.access_token, 'tools/call', { name: 'endpoints_create', arguments: { name } });
    assert.equal(raw.status, 403);
    assert.match(raw.headers['www-authenticate'], /error="insufficient_scope"/);
    assert.match(raw.headers['www-authenticate'], /scope="[^"]*\bwrite\b/);
    // nothing was created, and reading still works
    const list = await client.callTool({ name: 'endpoints_list', arguments: {} });
    assert.ok(!list.isError);
    assert.ok(!list.structuredContent.items.some((e) => e.name === name));
  } finally {
    await client.close();
  }
});

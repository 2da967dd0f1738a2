// The MCP transport of the edge in both protocol eras, against a real edge
// and workers: MCP.md §7 items 1–33 and 37–38 (36 needs SSE progress, which
// a stateless JSON server does not send; 34 is in 50_faults).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSystem, accountWithKey, legacy, modern, modernBody, modernHeaders, postRaw, request, callTool,
  tool, listAllTools, announceBody, MODERN,
} from '../lib/system.mjs';

let sys, acct;
const EXTRA_ORIGIN = 'https://app.example.test';

before(async () => {
  sys = await startSystem({
    name: 'transport', workers: 2,
    // Pages of two tools: listing every tool costs a request per two tools, so the burst is raised
    // above what a full listing in both eras needs (this file does not test the rate limit).
    env: { ALLOWED_ORIGINS: `${EXTRA_ORIGIN}, http://localhost:6274`, MCP_TOOLS_PAGE_SIZE: '2', MCP_RATE_BURST: '1000' },
  });
  acct = await accountWithKey('transport');
});
after(async () => { await sys?.stop(); });

const k = () => acct.key;

// ---- legacy era ----

test('1: initialize 2025-11-25 echoes the version and names the server', async () => {
  const r = await legacy(sys, k(), 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.equal(r.json.result.protocolVersion, '2025-11-25');
  assert.equal(typeof r.json.result.serverInfo.name, 'string');
  assert.equal(typeof r.json.result.serverInfo.version, 'string');
  assert.ok(r.json.result.capabilities.tools);
});

test('2: initialize echoes 2025-06-18 and 2025-03-26', async () => {
  for (const v of ['2025-06-18', '2025-03-26']) {
    const r = await legacy(sys, k(), 'initialize', { protocolVersion: v, capabilities: {}, clientInfo: { name: 't', version: '1' } });
    assert.equal(r.status, 200);
    assert.equal(r.json.result.protocolVersion, v);
  }
});

test('3: initialize with an unknown version answers the latest legacy one', async () => {
  const r = await legacy(sys, k(), 'initialize', { protocolVersion: '1999-01-01', capabilities: {}, clientInfo: { name: 't', version: '1' } });
  assert.equal(r.status, 200);
  assert.equal(r.json.result.protocolVersion, '2025-11-25');
});

test('4: notifications/initialized is 202 with an empty body', async () => {
  const r = await legacy(sys, k(), 'notifications/initialized', undefined, { id: null });
  assert.equal(r.status, 202);
  assert.equal(r.text, '');
});

test('5: tools/list without protocol header, session or initialize works', async () => {
  const r = await postRaw(sys, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { key: k() });
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.json.result.tools) && r.json.result.tools.length > 0);
});

test('6: tools/list with MCP-Protocol-Version 1999-01-01 is 400', async () => {
  const r = await legacy(sys, k(), 'tools/list', {}, { headers: { 'MCP-Protocol-Version': '1999-01-01' } });
  assert.equal(r.status, 400);
  assert.ok(r.json.error);
});

test('7: initialize with Accept */* is 200 JSON', async () => {
  const r = await legacy(sys, k(), 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    { headers: { Accept: '*/*' } });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.equal(r.json.result.protocolVersion, '2025-11-25');
});

test('8: Content-Type text/plain is 415', async () => {
  const r = await postRaw(sys, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    { key: k(), headers: { 'Content-Type': 'text/plain' } });
  assert.equal(r.status, 415);
});

test('9: unparseable JSON is 400 with -32700 and id null', async () => {
  const r = await postRaw(sys, '{bad json', { key: k() });
  assert.equal(r.status, 400);
  assert.equal(r.json.jsonrpc, '2.0');
  assert.equal(r.json.id, null);
  assert.equal(r.json.error.code, -32700);
});

test('10: a batch or an empty array is 400 with -32600', async () => {
  for (const body of ['[]', JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'ping' }])]) {
    const r = await postRaw(sys, body, { key: k() });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, -32600);
  }
});

test('11: id null is -32600', async () => {
  const r = await postRaw(sys, { jsonrpc: '2.0', id: null, method: 'tools/list' }, { key: k() });
  assert.equal(r.json.error.code, -32600);
});

test('12: unknown method is -32601 with the same id, HTTP 200 in the legacy era', async () => {
  const r = await postRaw(sys, { jsonrpc: '2.0', id: 7, method: 'no/such' }, { key: k() });
  assert.equal(r.status, 200);
  assert.equal(r.json.id, 7);
  assert.equal(r.json.error.code, -32601);
});

test('13: ping keeps a string id and answers an empty result', async () => {
  const r = await postRaw(sys, { jsonrpc: '2.0', id: 'a', method: 'ping' }, { key: k() });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { jsonrpc: '2.0', id: 'a', result: {} });
});

test('14/15: GET and DELETE are 405 with Allow, never 404', async () => {
  for (const method of ['GET', 'DELETE']) {
    const r = await request(sys, { method, headers: { Accept: 'text/event-stream', Authorization: `Bearer ${k()}` } });
    assert.equal(r.status, 405, method);
    assert.match(r.headers.allow, /POST/);
  }
});

test('16: a foreign Origin is 403; no Origin and allowed origins are processed', async () => {
  let r = await legacy(sys, k(), 'ping', {}, { headers: { Origin: 'https://evil.example' } });
  assert.equal(r.status, 403);
  r = await legacy(sys, k(), 'ping', {});
  assert.equal(r.status, 200);
  for (const origin of [sys.url, 'https://claude.ai', 'https://claude.com', 'https://chatgpt.com', EXTRA_ORIGIN, 'http://localhost:6274']) {
    r = await legacy(sys, k(), 'ping', {}, { headers: { Origin: origin } });
    assert.equal(r.status, 200, origin);
    assert.equal(r.headers['access-control-allow-origin'], origin);
  }
  // A look-alike of an allowed origin is not allowed.
  r = await legacy(sys, k(), 'ping', {}, { headers: { Origin: 'https://claude.ai.evil.example' } });
  assert.equal(r.status, 403);
});

test('CORS preflight from an allowed origin is 204 with the MCP headers; a foreign one is 403', async () => {
  let r = await request(sys, {
    method: 'OPTIONS',
    headers: { Origin: 'http://localhost:6274', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, mcp-protocol-version' },
  });
  assert.equal(r.status, 204);
  assert.equal(r.headers['access-control-allow-origin'], 'http://localhost:6274');
  const allowed = r.headers['access-control-allow-headers'].toLowerCase();
  for (const h of ['authorization', 'mcp-protocol-version', 'content-type', 'mcp-method', 'mcp-name']) assert.ok(allowed.includes(h), h);
  assert.match(r.headers['access-control-allow-methods'], /POST/);
  r = await request(sys, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
  assert.equal(r.status, 403);
});

test('a body over 1 MiB is 413', async () => {
  // Refused from its Content-Length, before any of the body is read.
  assert.equal(await announceBody(sys, '/api/mcp', 1024 * 1024 + 1, { key: k() }), 413);
  // Just under the limit is accepted.
  const fits = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(1024 * 1024 - 200) } });
  const r = await postRaw(sys, fits, { key: k(), keepAlive: false });
  assert.equal(r.status, 200);
});

test('18: notifications/cancelled is 202', async () => {
  const r = await legacy(sys, k(), 'notifications/cancelled', { requestId: 'zzz' }, { id: null });
  assert.equal(r.status, 202);
  assert.equal(r.text, '');
});

test('19: a JSON-RPC response object is 202', async () => {
  const r = await postRaw(sys, { jsonrpc: '2.0', id: 5, result: {} }, { key: k() });
  assert.equal(r.status, 202);
});

// ---- modern era ----

test('20: server/discover', async () => {
  const r = await modern(sys, k(), 'server/discover');
  assert.equal(r.status, 200);
  const res = r.json.result;
  assert.equal(res.resultType, 'complete');
  assert.ok(res.supportedVersions.includes(MODERN));
  assert.ok(res.supportedVersions.includes('2025-11-25'));
  assert.ok(res.capabilities.tools);
  assert.ok(Number.isInteger(res.ttlMs) && res.ttlMs >= 0);
  assert.ok(['public', 'private'].includes(res.cacheScope));
});

test('21: header version differing from _meta is 400 -32020', async () => {
  const r = await modern(sys, k(), 'server/discover', {}, { headers: { 'MCP-Protocol-Version': '2025-11-25' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32020);
});

test('22: missing Mcp-Method is 400 -32020', async () => {
  const r = await postRaw(sys, modernBody('server/discover'), { key: k(), headers: { 'MCP-Protocol-Version': MODERN } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32020);
});

test('23: Mcp-Name must match params.name; the base64 form is accepted', async () => {
  const params = { name: 'help', arguments: {} };
  let r = await modern(sys, k(), 'tools/call', params, { headers: { 'Mcp-Name': 'other' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32020);
  r = await modern(sys, k(), 'tools/call', params, { headers: { 'Mcp-Name': `=?base64?${Buffer.from('help').toString('base64')}?=` } });
  assert.equal(r.status, 200);
  assert.equal(r.json.result.isError, false);
  assert.equal(r.json.result.resultType, 'complete');
});

test('24: unsupported modern version is 400 -32022 with supported and requested', async () => {
  const body = modernBody('server/discover');
  body.params._meta['io.modelcontextprotocol/protocolVersion'] = '2099-01-01';
  const r = await postRaw(sys, body, { key: k(), headers: { 'MCP-Protocol-Version': '2099-01-01', 'Mcp-Method': 'server/discover' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32022);
  assert.ok(Array.isArray(r.json.error.data.supported));
  assert.equal(r.json.error.data.requested, '2099-01-01');
});

test('25: _meta without clientCapabilities is 400 -32602', async () => {
  const body = modernBody('tools/list');
  delete body.params._meta['io.modelcontextprotocol/clientCapabilities'];
  const r = await postRaw(sys, body, { key: k(), headers: modernHeaders('tools/list') });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32602);
});

test('26: modern unknown method is 404 -32601 with the same id', async () => {
  const r = await modern(sys, k(), 'no/such', {}, { id: 'm-26' });
  assert.equal(r.status, 404);
  assert.equal(r.json.id, 'm-26');
  assert.equal(r.json.error.code, -32601);
});

test('27: modern tools/list carries resultType, ttlMs, cacheScope, serverInfo and a stable order', async () => {
  const a = await modern(sys, k(), 'tools/list');
  const b = await modern(sys, k(), 'tools/list');
  assert.equal(a.status, 200);
  const res = a.json.result;
  assert.equal(res.resultType, 'complete');
  assert.ok(Number.isInteger(res.ttlMs));
  assert.ok(['public', 'private'].includes(res.cacheScope));
  assert.equal(typeof res._meta['io.modelcontextprotocol/serverInfo'].name, 'string');
  assert.deepEqual(res.tools.map((t) => t.name), b.json.result.tools.map((t) => t.name));
  const all1 = await listAllTools(sys, k(), { era: 'modern' });
  const all2 = await listAllTools(sys, k(), { era: 'modern' });
  assert.deepEqual(all1.map((t) => t.name), all2.map((t) => t.name));
});

test('28: a modern request with Mcp-Session-Id is processed and gets no session id back', async () => {
  const r = await modern(sys, k(), 'tools/list', {}, { headers: { 'Mcp-Session-Id': 'x' } });
  assert.equal(r.status, 200);
  assert.ok(r.json.result.tools);
  assert.equal(r.headers['mcp-session-id'], undefined);
});

test('modern initialize is not a method (2026-07-28 replaced it with server/discover)', async () => {
  const r = await modern(sys, k(), 'initialize');
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, -32601);
});

// ---- tools ----

const EXPECTED_TOOLS = ['help', 'endpoints_list', 'endpoints_get', 'endpoints_create', 'endpoints_update', 'endpoints_deploy',
  'logs_lookup', 'logs_search', 'stats', 'api_call', 'subscription', 'logs_fetch_archived', 'archives_list',
  'archives_download', 'collaborators_list_keys', 'collaborators_list_invitations', 'collaborators_create_key',
  'collaborators_update_permissions', 'collaborators_invite'];
const READ_ONLY_TOOLS = ['help', 'endpoints_list', 'endpoints_get', 'logs_lookup', 'logs_search', 'stats', 'subscription',
  'logs_fetch_archived', 'archives_list', 'archives_download', 'collaborators_list_keys', 'collaborators_list_invitations'];

test('29: every tool has a valid name, description, object inputSchema, title and the four annotations', async () => {
  for (const era of ['legacy', 'modern']) {
    const tools = await listAllTools(sys, k(), { era });
    assert.deepEqual([...tools.map((t) => t.name)].sort(), [...EXPECTED_TOOLS].sort());
    for (const t of tools) {
      assert.match(t.name, /^[A-Za-z0-9_.-]{1,128}$/);
      assert.equal(typeof t.description, 'string');
      assert.ok(t.description.length > 20, t.name);
      assert.equal(t.inputSchema.type, 'object');
      assert.equal(typeof t.title, 'string');
      assert.equal(t.outputSchema?.type, 'object', t.name);
      for (const h of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) {
        assert.equal(typeof t.annotations[h], 'boolean', `${t.name}.${h}`);
      }
      assert.equal(t.annotations.readOnlyHint, READ_ONLY_TOOLS.includes(t.name), t.name);
    }
  }
});

test('30: pagination with page size 2 visits each tool once; last page has no nextCursor; bad cursor is -32602', async () => {
  for (const era of ['legacy', 'modern']) {
    const call = (params) => (era === 'modern' ? modern(sys, k(), 'tools/list', params) : legacy(sys, k(), 'tools/list', params));
    const seen = [];
    let cursor, pages = 0;
    do {
      const r = await call(cursor ? { cursor } : {});
      assert.equal(r.status, 200);
      const res = r.json.result;
      assert.ok(res.tools.length <= 2 && res.tools.length > 0);
      seen.push(...res.tools.map((t) => t.name));
      pages++;
      cursor = res.nextCursor;
      if (!cursor) assert.equal('nextCursor' in res, false, 'the last page has no nextCursor key');
    } while (cursor && pages < 20);
    assert.equal(pages, Math.ceil(EXPECTED_TOOLS.length / 2));
    assert.equal(new Set(seen).size, seen.length, 'no tool twice');
    assert.deepEqual([...seen].sort(), [...EXPECTED_TOOLS].sort());
    const bad = await call({ cursor: 'garbage' });
    assert.equal(bad.json.error.code, -32602, era);
    assert.equal(bad.status, era === 'modern' ? 400 : 200);
  }
});

test('31: unknown tool is JSON-RPC -32602, not a result', async () => {
  for (const era of ['legacy', 'modern']) {
    const r = await callTool(sys, k(), 'does_not_exist', {}, { era });
    assert.equal(r.json.result, undefined);
    assert.equal(r.json.error.code, -32602, era);
  }
});

test('32: arguments violating the schema give isError with a message naming the argument', async () => {
  const cases = [
    ['endpoints_list', { limit: 0 }, /limit/],
    ['endpoints_list', { limit: 'ten' }, /limit/],
    ['endpoints_list', { status: 'sleeping' }, /status/],
    ['endpoints_get', {}, /endpoint/],
    ['endpoints_create', { name: 'x', colour: 'blue' }, /colour/],
    ['endpoints_create', { name: 'x', fields: [{ name: 'a', type: 'date' }] }, /type/],
    ['help', { topic: 'nonsense' }, /topic/],
  ];
  for (const era of ['legacy', 'modern']) {
    for (const [name, args, re] of cases) {
      const res = await tool(sys, k(), name, args, { era });
      assert.equal(res.isError, true, `${name} ${JSON.stringify(args)}`);
      assert.equal(res.content[0].type, 'text');
      const err = JSON.parse(res.content[0].text).error;
      assert.equal(err.code, 'invalid_argument');
      assert.match(err.message, re, `${name}: ${err.message}`);
      assert.equal(res.structuredContent, undefined);
    }
  }
});

test('33: a successful call has content and a text block equal to structuredContent', async () => {
  for (const era of ['legacy', 'modern']) {
    const res = await tool(sys, k(), 'help', {}, { era });
    assert.equal(res.isError, false);
    assert.ok(Array.isArray(res.content));
    assert.equal(res.content[0].type, 'text');
    assert.deepEqual(JSON.parse(res.content[0].text), res.structuredContent);
    assert.equal(typeof res.structuredContent.content_md, 'string');
  }
});

// ---- resource server ----

const PRM = () => `resource_metadata="${sys.url}/.well-known/oauth-protected-resource/api/mcp"`;

test('37: no Authorization is 401 with the exact challenge', async () => {
  for (const send of [() => legacy(sys, null, 'tools/list', {}), () => modern(sys, null, 'tools/list')]) {
    const r = await send();
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], `Bearer ${PRM()}, scope="read write execute"`);
  }
});

test('38: a bad bearer is 401 error="invalid_token"', async () => {
  const bad = ['garbage', `tm_mcp_${'A'.repeat(43)}`];
  for (const key of bad) {
    const r = await legacy(sys, key, 'tools/list', {});
    assert.equal(r.status, 401, key);
    const h = r.headers['www-authenticate'];
    assert.match(h, /^Bearer /);
    assert.match(h, /error="invalid_token"/);
    assert.ok(h.includes(PRM()), h);
    assert.match(h, /scope="read write execute"/);
  }
  // A token in the query string is ignored.
  const r = await request(sys, {
    path: `/api/mcp?access_token=${k()}`,
    headers: { 'Content-Type': 'application/json' },
    body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
  });
  assert.equal(r.status, 401);
});

test('HEAD answers headers only, so the next response on the same connection is intact', async () => {
  const { connect } = await import('node:net');
  const text = await new Promise((resolve, reject) => {
    const s = connect(sys.port, '127.0.0.1');
    let buf = '';
    s.on('data', (c) => {
      buf += c;
      // Two complete responses: the HEAD's headers, then the GET's headers and its body.
      const heads = buf.split('\r\n\r\n');
      if (heads.length >= 3 && /"ok"|ok/.test(heads.slice(2).join(''))) { s.end(); resolve(buf); }
    });
    s.on('error', reject);
    s.setTimeout(10000, () => { s.destroy(); reject(new Error(`no complete answers: ${JSON.stringify(buf)}`)); });
    s.write('HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
  const [headHead, rest] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
  assert.match(headHead, /^HTTP\/1\.1 200/);
  assert.match(headHead, /\r\nContent-Length: [1-9]\d*/i, 'HEAD announces the length a GET would have');
  assert.match(rest, /^HTTP\/1\.1 200/, 'the GET response starts right after the HEAD headers, no body between');
});

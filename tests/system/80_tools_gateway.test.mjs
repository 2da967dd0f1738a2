// The gateway's MCP tools against a real edge, workers and PostgreSQL, with
// the official SDK client: api_call (sandbox POSTs, a failing one whose 400 is
// data), deploy, production calls through the gateway with the live key as a
// plain HTTP client, then logs_search (filters, pagination, time zones, the
// 93-day limit), logs_lookup (by log id and by record id), stats (totals and
// the daily series); another account sees none of it (not_found exactly like
// a missing endpoint), and a read-only key cannot call api_call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Ajv from 'ajv';
import {
  startSystem, accountWithKey, createKey, callTool, tool, toolError, request, psql, unique, BIN_DIR, DB_URL,
} from '../lib/system.mjs';

let sys, acct, other, client, otherClient;
const validators = new Map();

async function sdkClient(key) {
  const c = new Client({ name: '3min-system-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(sys.mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  }));
  return c;
}

before(async () => {
  sys = await startSystem({ name: 'tools-gw', workers: 2 });
  acct = await accountWithKey('tgw');
  other = await accountWithKey('tgw-other');
  client = await sdkClient(acct.key);
  otherClient = await sdkClient(other.key);
  const { tools } = await client.listTools();
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const t of tools) validators.set(t.name, ajv.compile(t.outputSchema));
});
after(async () => {
  await client?.close();
  await otherClient?.close();
  await sys?.stop();
});

// A tool call through the SDK: structuredContent checked against the
// outputSchema and equal to the text block, or {error} for an isError result.
async function call(name, args, c = client) {
  const res = await c.callTool({ name, arguments: args });
  if (res.isError) return { error: JSON.parse(res.content[0].text).error };
  const validate = validators.get(name);
  assert.ok(validate, `${name} is listed with an output schema`);
  assert.ok(validate(res.structuredContent), `${name} output: ${JSON.stringify(validate.errors)}`);
  assert.deepEqual(JSON.parse(res.content[0].text), res.structuredContent);
  return res.structuredContent;
}

function endpointKeys(email, slug) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DATABASE_URL: DB_URL, STATE_DIR: sys.stateDir };
    execFile(join(BIN_DIR, '3min'), ['endpoint', 'keys', '--email', email, '--endpoint', slug], { env },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`3min endpoint keys: ${stderr}`));
        resolve(Object.fromEntries(stdout.trim().split('\n').map((l) => l.split(' '))));
      });
  });
}

const FIELDS = [
  { name: 'email', type: 'string', required: true },
  { name: 'message', type: 'string', searchable: true },
];

test('the four tools are listed with titles, annotations, schemas and their scopes', async () => {
  const { tools } = await client.listTools();
  const by = Object.fromEntries(tools.map((t) => [t.name, t]));
  for (const n of ['logs_lookup', 'logs_search', 'stats', 'api_call']) {
    assert.ok(by[n], n);
    assert.equal(typeof by[n].title, 'string');
    assert.equal(by[n].inputSchema.type, 'object');
    assert.equal(by[n].outputSchema.type, 'object');
  }
  for (const n of ['logs_lookup', 'logs_search', 'stats']) {
    assert.deepEqual(
      [by[n].annotations.readOnlyHint, by[n].annotations.destructiveHint, by[n].annotations.idempotentHint,
        by[n].annotations.openWorldHint], [true, false, true, false], n);
  }
  const a = by.api_call.annotations;
  assert.deepEqual([a.readOnlyHint, a.destructiveHint, a.idempotentHint, a.openWorldHint], [false, true, false, true]);
});

test('end to end: api_call in sandbox, deploy, production over HTTP, then logs_search, logs_lookup and stats', async () => {
  const { endpoint: ep } = await call('endpoints_create', { name: unique('Contact form'), fields: FIELDS });

  // api_call POST in the sandbox: 202 with the record, logged with caller mcp
  const created = await call('api_call', {
    endpoint: ep.slug, method: 'POST', body: { email: 'ann@example.com', message: 'hello from chat zebra' },
  });
  assert.equal(created.request.method, 'POST');
  assert.equal(created.request.environment, 'sandbox');
  assert.ok(created.request.url.endsWith(`/api/v1/data/${ep.slug}`), created.request.url);
  assert.equal(created.response.status, 202, JSON.stringify(created));
  const recId = created.response.body.id;
  assert.match(recId, /^rec_[0-9a-z]{26}$/);
  assert.equal(created.response.body.environment, 'sandbox');
  assert.match(created.log_id, /^[0-9a-f-]{36}$/);
  assert.ok(Number.isInteger(created.latency_ms) && created.latency_ms >= 0);

  // a failing call: the gateway's 400 comes back as data, not as a tool error
  const failedRes = await client.callTool({ name: 'api_call', arguments: { endpoint: ep.id, method: 'POST', body: { message: 'no email' } } });
  assert.equal(failedRes.isError, false);
  const failed = failedRes.structuredContent;
  assert.equal(failed.response.status, 400);
  assert.equal(failed.response.body.error.code, 'missing_required_fields');
  assert.deepEqual(failed.response.body.error.details.fields, ['email']);

  // GET the record and a search through api_call
  const got = await call('api_call', { endpoint: ep.name, method: 'GET', record_id: recId });
  assert.equal(got.response.status, 200);
  assert.deepEqual(got.response.body.payload, { email: 'ann@example.com', message: 'hello from chat zebra' });
  const found = await call('api_call', { endpoint: ep.slug, method: 'GET', search: { q: 'zebra' } });
  assert.equal(found.response.status, 200);
  assert.deepEqual(found.response.body.items.map((x) => x.id), [recId]);
  assert.match(found.request.url, /\/search\?q=zebra$/);

  // PUT and DELETE need record_id: a tool error
  for (const method of ['PUT', 'DELETE']) {
    const r = await call('api_call', { endpoint: ep.slug, method, body: method === 'PUT' ? { email: 'x@example.com' } : undefined });
    assert.equal(r.error?.code, 'invalid_argument', method);
    assert.match(r.error.message, /record_id/);
  }
  // production before a deploy: the gateway's 403, as data
  const early = await call('api_call', { endpoint: ep.slug, method: 'GET', environment: 'production' });
  assert.equal(early.response.status, 403);
  assert.equal(early.response.body.error.code, 'endpoint_not_deployed');
  assert.equal(early.log_id, null, 'not logged');

  // deploy (the api_call POST was the sandbox test call), then production over plain HTTP with the live key
  const dep = await call('endpoints_deploy', { endpoint: ep.id });
  assert.equal(dep.version, 1);
  const keys = await endpointKeys(acct.email, ep.slug);
  const live = (body) => request(sys, {
    method: 'POST', path: `/api/v1/data/${ep.slug}`, body,
    headers: { Authorization: `Bearer ${keys.production_key}`, 'Content-Type': 'application/json' },
  });
  const prodIds = [];
  for (let i = 0; i < 3; i++) {
    const r = await live({ email: `p${i}@example.com`, message: `production order ${i}` });
    assert.equal(r.status, 202, r.text);
    prodIds.push(r.json.id);
  }
  const bad = await live({ message: 'production without email' });
  assert.equal(bad.status, 400);

  // logs_search: everything of this endpoint, newest first
  const all = await call('logs_search', { endpoint: ep.slug });
  assert.equal(all.window.tz, 'UTC');
  const methods = all.items.map((x) => `${x.environment} ${x.method} ${x.status_code}`);
  assert.deepEqual(methods, [
    'production POST 400', 'production POST 202', 'production POST 202', 'production POST 202',
    'sandbox GET 200', 'sandbox GET 200', 'sandbox POST 400', 'sandbox POST 202',
  ]);
  assert.equal(all.next_cursor, null);
  const first = all.items[all.items.length - 1];
  assert.equal(first.log_id, created.log_id);
  assert.equal(first.caller, 'mcp');
  assert.equal(first.record_id, recId);
  assert.deepEqual(first.endpoint, { id: ep.id, slug: ep.slug, name: ep.name });
  assert.equal(first.error, null);
  assert.match(first.payload_preview, /zebra/);
  assert.equal(all.items[0].caller, 'owner');
  assert.deepEqual(all.items[0].error.code, 'missing_required_fields');

  // filters: environment, status, status code, method, full-text query
  const prod = await call('logs_search', { endpoint: ep.id, environment: 'production' });
  assert.equal(prod.items.length, 4);
  const failedOnes = await call('logs_search', { endpoint: ep.id, status: 'failed' });
  assert.deepEqual(failedOnes.items.map((x) => x.status_code), [400, 400]);
  assert.ok(failedOnes.items.every((x) => x.outcome === 'failed'));
  const by400 = await call('logs_search', { endpoint: ep.id, status_code: 400, environment: 'sandbox' });
  assert.deepEqual(by400.items.map((x) => x.log_id), [failed.log_id]);
  const gets = await call('logs_search', { endpoint: ep.id, method: 'GET' });
  assert.equal(gets.items.length, 2);
  const zebra = await call('logs_search', { query: 'zebra' });
  assert.deepEqual(zebra.items.map((x) => x.log_id), [created.log_id], 'all owned endpoints, full-text');
  const byError = await call('logs_search', { endpoint: ep.id, query: 'missing_required_fields' });
  assert.equal(byError.items.length, 2);
  const phrase = await call('logs_search', { endpoint: ep.id, query: '"production order" -2' });
  assert.equal(phrase.items.length, 2);

  // pagination: limit 3 visits every entry once, in the same order
  const seen = [];
  let cursor, pages = 0;
  do {
    const page = await call('logs_search', cursor ? { endpoint: ep.id, limit: 3, cursor } : { endpoint: ep.id, limit: 3 });
    assert.ok(page.items.length <= 3);
    seen.push(...page.items.map((x) => x.log_id));
    cursor = page.next_cursor;
    pages++;
  } while (cursor && pages < 10);
  assert.equal(pages, 3);
  assert.deepEqual(seen, all.items.map((x) => x.log_id));
  const badCursor = await call('logs_search', { cursor: 'not-a-cursor' });
  assert.equal(badCursor.error?.code, 'invalid_argument');

  // the window: more than 93 days is refused, saying so; an old window is empty
  const long = await call('logs_search', { from: '2025-01-01', to: '2025-06-30' });
  assert.equal(long.error?.code, 'invalid_argument');
  assert.match(long.error.message, /93 days/);
  const longMixed = await call('logs_search', { from: '2025-01-01T00:00:00Z' });
  assert.equal(longMixed.error?.code, 'invalid_argument', 'from alone up to now is too long too');
  assert.match(longMixed.error.message, /93 days/);
  const old = await call('logs_search', { endpoint: ep.id, from: '2020-01-01', to: '2020-03-31' });
  assert.deepEqual(old.items, []);
  assert.equal(old.window.from, '2020-01-01T00:00:00.000Z');
  assert.equal(old.window.to, '2020-04-01T00:00:00.000Z');
  const reversed = await call('logs_search', { from: '2020-03-01', to: '2020-02-01' });
  assert.equal(reversed.error?.code, 'invalid_argument');
  const badDate = await call('logs_search', { from: '2025-02-30' });
  assert.equal(badDate.error?.code, 'invalid_argument');

  // logs_lookup by log id: the full entry
  const entry = await call('logs_lookup', { endpoint: ep.slug, log_id: failed.log_id });
  assert.equal(entry.log_id, failed.log_id);
  assert.equal(entry.status_code, 400);
  assert.equal(entry.outcome, 'failed');
  assert.equal(entry.error.code, 'missing_required_fields');
  assert.equal(entry.caller, 'mcp');
  assert.equal(entry.method, 'POST');
  assert.equal(entry.environment, 'sandbox');
  assert.deepEqual(entry.request_body, { message: 'no email' });
  assert.deepEqual(entry.payload, { message: 'no email' });
  assert.equal(entry.response_body.error.code, 'missing_required_fields');
  assert.equal(entry.archived, false);
  assert.equal(entry.webhook, null);
  assert.equal(typeof entry.created_at, 'string');
  assert.equal(typeof entry.processed_at, 'string');

  // logs_lookup by record id: the record's latest call, with its history
  const byRecord = await call('logs_lookup', { endpoint: ep.id, record_id: recId });
  assert.equal(byRecord.method, 'GET');
  assert.equal(byRecord.record_id, recId);
  assert.deepEqual(byRecord.record_history.map((h) => h.method), ['GET', 'POST']);
  assert.equal(byRecord.record_history[1].log_id, created.log_id);
  const prodRecord = await call('logs_lookup', { endpoint: ep.id, record_id: prodIds[0], environment: 'production' });
  assert.equal(prodRecord.caller, 'owner');
  assert.equal(prodRecord.ip, '127.0.0.1');
  assert.deepEqual(prodRecord.request_body, { email: 'p0@example.com', message: 'production order 0' });
  const wrongEnv = await call('logs_lookup', { endpoint: ep.id, record_id: prodIds[0], environment: 'sandbox' });
  assert.equal(wrongEnv.error?.code, 'not_found');

  // exactly one of log_id and record_id
  for (const args of [{ endpoint: ep.id }, { endpoint: ep.id, log_id: created.log_id, record_id: recId }]) {
    const r = await call('logs_lookup', args);
    assert.equal(r.error?.code, 'invalid_argument');
    assert.match(r.error.message, /exactly one of log_id/);
  }
  const missingLog = await call('logs_lookup', { endpoint: ep.id, log_id: '00000000-0000-4000-8000-000000000000' });
  assert.equal(missingLog.error?.code, 'not_found');

  // stats: production by default; all environments on request; the daily series
  const today = new Date().toISOString().slice(0, 10);
  const sp = await call('stats', { endpoint: ep.slug });
  assert.equal(sp.period.tz, 'UTC');
  assert.equal(sp.period.environment, 'production');
  assert.deepEqual([sp.totals.calls, sp.totals.success, sp.totals.failed], [4, 3, 1]);
  assert.equal(typeof sp.totals.avg_latency_ms, 'number');
  const day = sp.daily.find((d) => d.day === today);
  assert.deepEqual([day.calls, day.success, day.failed], [4, 3, 1]);
  assert.equal(sp.daily.reduce((n, d) => n + d.calls, 0), 4);
  assert.equal(sp.daily[0].day, `${today.slice(0, 7)}-01`, 'every day of the month is listed');
  const sa = await call('stats', { endpoint: ep.id, environment: 'all', from: today, to: today });
  assert.deepEqual([sa.totals.calls, sa.totals.success, sa.totals.failed], [8, 6, 2]);
  assert.deepEqual(sa.daily.map((d) => d.day), [today]);
  assert.deepEqual(sa.by_endpoint.map((e) => [e.endpoint.id, e.calls]), [[ep.id, 8]]);
  assert.deepEqual(sa.by_collaboration_key.map((k) => [k.collaboration_key_id, k.name, k.calls]), [[null, 'owner', 8]]);
  const sm = await call('stats', { environment: 'sandbox', month: today.slice(0, 7), granularity: 'month' });
  assert.equal(sm.daily.length, 1);
  assert.ok(sm.totals.calls >= 4);
  const both = await call('stats', { month: '2025-01', from: '2025-01-01' });
  assert.equal(both.error?.code, 'invalid_argument');

  // another account: the same not_found as a missing endpoint, and nothing of these logs or stats
  const missing = await call('logs_search', { endpoint: 'no-such-endpoint-anywhere' }, otherClient);
  assert.equal(missing.error?.code, 'not_found');
  for (const [name, args] of [
    ['logs_search', { endpoint: ep.id }],
    ['logs_lookup', { endpoint: ep.id, log_id: created.log_id }],
    ['logs_lookup', { endpoint: ep.slug, record_id: recId }],
    ['stats', { endpoint: ep.id }],
    ['api_call', { endpoint: ep.slug, method: 'GET', record_id: recId }],
    ['api_call', { endpoint: ep.id, method: 'POST', body: { email: 'intruder@example.com' } }],
  ]) {
    const r = await call(name, args, otherClient);
    assert.equal(r.error?.code, 'not_found', `${name} ${JSON.stringify(args)}`);
    assert.equal(r.error.message.replace(ep.id, 'X').replace(ep.slug, 'X'),
      missing.error.message.replace('no-such-endpoint-anywhere', 'X'), 'the same answer as a missing endpoint');
  }
  const theirs = await call('logs_search', {}, otherClient);
  assert.deepEqual(theirs.items, []);
  const theirsZebra = await call('logs_search', { query: 'zebra' }, otherClient);
  assert.deepEqual(theirsZebra.items, []);
  const theirStats = await call('stats', { environment: 'all' }, otherClient);
  assert.equal(theirStats.totals.calls, 0);
  assert.deepEqual(theirStats.by_endpoint, []);
  assert.equal(await psql(`SELECT count(*) FROM records WHERE endpoint_id = '${ep.id}' AND payload->>'email' = 'intruder@example.com'`)
    .then((r) => r[0]), '0');
});

test('date-only windows are days in the account\'s time zone', async () => {
  const a = await accountWithKey('tgw-tz');
  await psql(`UPDATE accounts SET timezone = 'Asia/Seoul' WHERE id = '${a.id}'`);
  const r = await tool(sys, a.key, 'logs_search', { from: '2025-03-01', to: '2025-03-01' });
  assert.equal(r.isError, false, JSON.stringify(r));
  assert.deepEqual(r.structuredContent.window,
    { from: '2025-02-28T15:00:00.000Z', to: '2025-03-01T15:00:00.000Z', tz: 'Asia/Seoul', date_basis: 'created_at' });
  // a wall-clock time without offset is in the account's zone too; with Z it is UTC
  const local = await tool(sys, a.key, 'logs_search', { from: '2025-03-01T09:00', to: '2025-03-01T10:00:00Z' });
  assert.equal(local.structuredContent.window.from, '2025-03-01T00:00:00.000Z');

  // a log created at 2025-03-01 00:30 in Seoul (the previous day in UTC) is found by that local date
  const { endpoint: ep } = (await tool(sys, a.key, 'endpoints_create', { name: unique('Tz') })).structuredContent;
  const sent = (await tool(sys, a.key, 'api_call', { endpoint: ep.id, method: 'POST', body: { x: 1 } })).structuredContent;
  await psql(`UPDATE call_logs SET created_at = '2025-02-28T15:30:00Z', processed_at = '2025-02-28T15:30:01Z'
    WHERE id = '${sent.log_id}'`);
  const seoulDay = (await tool(sys, a.key, 'logs_search', { from: '2025-03-01', to: '2025-03-01' })).structuredContent;
  assert.deepEqual(seoulDay.items.map((x) => x.log_id), [sent.log_id]);
  const dayBefore = (await tool(sys, a.key, 'logs_search', { from: '2025-02-28', to: '2025-02-28' })).structuredContent;
  assert.deepEqual(dayBefore.items, []);
  const processed = (await tool(sys, a.key, 'logs_search',
    { from: '2025-03-01', to: '2025-03-01', date_basis: 'processed_at' })).structuredContent;
  assert.deepEqual(processed.items.map((x) => x.log_id), [sent.log_id]);
});

test('a read-only key cannot call api_call (403 insufficient_scope) and does not see it', async () => {
  const readKey = await createKey(acct, { scopes: 'read', name: 'reader' });
  const { endpoint: ep } = await call('endpoints_create', { name: unique('Scoped') });
  const r = await callTool(sys, readKey, 'api_call', { endpoint: ep.id, method: 'POST', body: { a: 1 } });
  assert.equal(r.status, 403);
  assert.equal(r.json.error, 'insufficient_scope');
  assert.match(r.headers['www-authenticate'], /scope="[^"]*\bexecute\b/);
  assert.equal(await psql(`SELECT count(*) FROM call_logs WHERE endpoint_id = '${ep.id}'`).then((x) => x[0]), '0');
  // the read tools work with it
  const s = await tool(sys, readKey, 'logs_search', { endpoint: ep.id });
  assert.equal(s.isError, false);
  const st = await tool(sys, readKey, 'stats', {});
  assert.equal(st.isError, false);
  const e = toolError(await tool(sys, readKey, 'logs_lookup', { endpoint: ep.id }));
  assert.equal(e.code, 'invalid_argument');
});

test('each api_call is one logged, counted call', async () => {
  const { endpoint: ep } = await call('endpoints_create', { name: unique('Once') });
  const first = await call('api_call', { endpoint: ep.id, method: 'POST', body: { n: 1 } });
  const second = await call('api_call', { endpoint: ep.id, method: 'POST', body: { n: 1 } });
  assert.notEqual(first.response.body.id, second.response.body.id, 'two tool calls are two records');
  const logs = await call('logs_search', { endpoint: ep.id });
  assert.equal(logs.items.length, 2);
  assert.equal(await psql(`SELECT e.sandbox_test_calls + coalesce((SELECT sum(c.calls) FROM endpoint_sandbox_calls c
    WHERE c.endpoint_id = e.id), 0) FROM endpoints e WHERE e.id = '${ep.id}'`).then((x) => x[0]), '2');
});

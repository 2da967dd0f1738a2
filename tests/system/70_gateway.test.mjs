// The gateway over HTTP against a real edge, workers and PostgreSQL: every
// status code of DOMAIN.md §3 and every method, what is logged and counted
// (call_logs, usage_counters, daily_stats, sandbox_test_calls), the webhook
// and notification outboxes, keys shown masked by MCP and in full by
// `3min endpoint keys`, and deploy's sandbox-call precondition.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import {
  startSystem, accountWithKey, tool, toolError, request, psql, unique, BIN_DIR, DB_URL, sleep,
} from '../lib/system.mjs';

let sys, acct, other;

before(async () => {
  // A low per-key limit so that 429 is reachable; every test but the rate
  // limit one uses its own endpoint (and so its own keys) and stays below it.
  sys = await startSystem({ name: 'gateway', workers: 2, env: { GATEWAY_RATE_LIMIT: '10', GATEWAY_RATE_BURST: '40' } });
  acct = await accountWithKey('gw');
  other = await accountWithKey('gw-other');
});
after(async () => { await sys?.stop(); });

const FIELDS = [
  { name: 'email', type: 'string', required: true, validation: { format: 'email' } },
  { name: 'message', type: 'string', searchable: true },
  { name: 'age', type: 'number', validation: { minimum: 0 } },
];

// `3min endpoint keys`, with the system's STATE_DIR (where the workers keep the secrets key).
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

async function mcp(account, name, args) {
  const r = await tool(sys, account.key, name, args);
  if (r.isError) return { error: toolError(r) };
  return r.structuredContent;
}

// A new endpoint of acct with its full keys: {ep, keys}.
async function newEndpoint(label, fields = FIELDS, account = acct) {
  const { endpoint: ep } = await mcp(account, 'endpoints_create', { name: unique(label), fields });
  const keys = await endpointKeys(account.email, ep.slug);
  return { ep, keys };
}

function gw(method, path, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && !h['Content-Type']) h['Content-Type'] = 'application/json';
  return request(sys, { method, path: `/api/v1/data/${path}`, headers: h, body });
}

// The error code of a gateway answer. The worker answers {"error": {code, message}}
// (docs/GATEWAY.md); the edge's own early answers (malformed key) currently
// use {"error": code, "message"}.
const errCode = (r) => (typeof r.json?.error === 'string' ? r.json.error : r.json?.error?.code);

const logCount = async (epId, extra = 'true') =>
  Number((await psql(`SELECT count(*) FROM call_logs WHERE endpoint_id = '${epId}' AND ${extra}`))[0]);

test('keys: MCP shows them masked only; 3min endpoint keys prints them in full', async () => {
  const { ep, keys } = await newEndpoint('Keys');
  assert.match(keys.sandbox_key, /^tm_test_[A-Za-z0-9_-]{43}$/);
  assert.match(keys.production_key, /^tm_live_[A-Za-z0-9_-]{43}$/);
  assert.match(keys.sandbox_webhook_secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  assert.match(keys.production_webhook_secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  assert.equal(ep.keys.sandbox.masked, `tm_test_…${keys.sandbox_key.slice(-4)}`);
  assert.equal(ep.keys.production.masked, `tm_live_…${keys.production_key.slice(-4)}`);
  const got = await tool(sys, acct.key, 'endpoints_get', { endpoint: ep.slug });
  const text = JSON.stringify(got);
  for (const secret of Object.values(keys)) assert.ok(!text.includes(secret), 'no full secret in a tool result');
  // Only the hash and an encrypted copy are stored.
  const rows = await psql(`SELECT encode(key_hash, 'hex'), position('${keys.sandbox_key}' in encode(key_enc, 'escape'))
    FROM api_keys WHERE endpoint_id = '${ep.id}' AND environment = 'sandbox'`);
  const [hash, pos] = rows[0].split('|');
  assert.equal(hash, createHash('sha256').update(keys.sandbox_key).digest('hex'));
  assert.equal(pos, '0');
});

test('401 for a malformed or unknown key, 404 for another endpoint\'s slug; none is logged', async () => {
  const { ep, keys } = await newEndpoint('Auth');
  const { ep: ep2 } = await newEndpoint('Auth other');
  let r = await gw('GET', ep.slug, { key: 'tm_test_short' });
  assert.equal(r.status, 401);
  assert.equal(errCode(r), 'invalid_api_key');
  r = await gw('GET', ep.slug, { key: `tm_test_${'A'.repeat(43)}` });
  assert.equal(r.status, 401);
  assert.equal(r.json.error.code, 'invalid_api_key');
  r = await gw('GET', ep.slug);
  assert.equal(r.status, 401);
  r = await gw('GET', ep2.slug, { key: keys.sandbox_key });
  assert.equal(r.status, 404);
  r = await gw('POST', ep2.slug, { key: keys.sandbox_key, body: { email: 'a@example.com' } });
  assert.equal(r.status, 404);
  assert.equal(await logCount(ep.id), 0);
  assert.equal(await logCount(ep2.id), 0);
});

test('POST 202 then GET sees the record; PUT replaces; DELETE soft-deletes; 404 for missing records', async () => {
  const { ep, keys } = await newEndpoint('Crud');
  const key = keys.sandbox_key;
  let r = await gw('POST', ep.slug, { key, body: { email: 'ann@example.com', message: 'hello world', extra: [1, 2] } });
  assert.equal(r.status, 202, r.text);
  assert.match(r.json.id, /^rec_[0-9a-z]{26}$/);
  assert.deepEqual(r.json, { id: r.json.id, status: 'queued', environment: 'sandbox' });
  const id = r.json.id;

  r = await gw('GET', `${ep.slug}/${id}`, { key });
  assert.equal(r.status, 200);
  assert.equal(r.json.id, id);
  assert.deepEqual(r.json.payload, { email: 'ann@example.com', message: 'hello world', extra: [1, 2] }, 'unknown keys kept');
  assert.equal(typeof r.json.created_at, 'string');

  r = await gw('PUT', `${ep.slug}/${id}`, { key, body: { email: 'bob@example.com' } });
  assert.equal(r.status, 202);
  assert.deepEqual(r.json, { id, status: 'queued', environment: 'sandbox' });
  r = await gw('GET', `${ep.slug}/${id}`, { key });
  assert.deepEqual(r.json.payload, { email: 'bob@example.com' });

  const missing = 'rec_00000000000000000000000000';
  r = await gw('PUT', `${ep.slug}/${missing}`, { key, body: { email: 'x@example.com' } });
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'record_not_found');
  r = await gw('GET', `${ep.slug}/${missing}`, { key });
  assert.equal(r.status, 404);

  r = await gw('DELETE', `${ep.slug}/${id}`, { key });
  assert.equal(r.status, 202);
  assert.deepEqual(r.json, { id, status: 'queued', environment: 'sandbox' });
  r = await gw('GET', `${ep.slug}/${id}`, { key });
  assert.equal(r.status, 404);
  r = await gw('DELETE', `${ep.slug}/${id}`, { key });
  assert.equal(r.status, 404);
  assert.equal((await psql(`SELECT deleted_at IS NOT NULL FROM records WHERE id = '${id}'`))[0], 't', 'soft-deleted');

  // Every one of these calls is logged, with its method, record and status.
  const rows = await psql(`SELECT method, status_code, outcome, record_id IS NOT NULL FROM call_logs
    WHERE endpoint_id = '${ep.id}' ORDER BY created_at`);
  assert.deepEqual(rows, ['POST|202|success|t', 'GET|200|success|t', 'PUT|202|success|t', 'GET|200|success|t',
    'PUT|404|failed|t', 'GET|404|failed|t', 'DELETE|202|success|t', 'GET|404|failed|t', 'DELETE|404|failed|t']);
});

test('400 with the list of missing, mistyped or invalid fields; 415, 413, invalid JSON and non-objects are logged', async () => {
  const { ep, keys } = await newEndpoint('Validate');
  const key = keys.sandbox_key;
  let r = await gw('POST', ep.slug, { key, body: { message: 'no email' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'missing_required_fields');
  assert.deepEqual(r.json.error.details.fields, ['email']);
  r = await gw('POST', ep.slug, { key, body: { email: 'a@example.com', age: 'old' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'invalid_field_type');
  assert.deepEqual(r.json.error.details.fields, ['age']);
  r = await gw('POST', ep.slug, { key, body: { email: 'not an address' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'validation_failed');
  assert.deepEqual(r.json.error.details.fields, ['email']);

  r = await gw('POST', ep.slug, { key, body: 'email=a', headers: { 'Content-Type': 'text/plain' } });
  assert.equal(r.status, 415);
  r = await gw('POST', ep.slug, { key, body: JSON.stringify({ email: 'a@example.com', pad: 'x'.repeat(110 * 1024) }) });
  assert.equal(r.status, 413);
  r = await gw('POST', ep.slug, { key, body: '{"email": ' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'invalid_json');
  r = await gw('POST', ep.slug, { key, body: '[1,2]' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'invalid_body');

  const rows = await psql(`SELECT status_code, error_code FROM call_logs WHERE endpoint_id = '${ep.id}' ORDER BY created_at`);
  assert.deepEqual(rows, ['400|missing_required_fields', '400|invalid_field_type', '400|validation_failed',
    '415|unsupported_media_type', '413|payload_too_large', '400|invalid_json', '400|invalid_body']);
  assert.equal(await psql(`SELECT count(*) FROM records WHERE endpoint_id = '${ep.id}'`).then((x) => x[0]), '0');
});

test('GET list: newest first, 10 by default, cursor pages, limit at most 30', async () => {
  const { ep, keys } = await newEndpoint('List', []);
  const key = keys.sandbox_key;
  const ids = [];
  for (let i = 0; i < 12; i++) {
    const r = await gw('POST', ep.slug, { key, body: { n: i } });
    assert.equal(r.status, 202);
    ids.push(r.json.id);
  }
  let r = await gw('GET', ep.slug, { key });
  assert.equal(r.status, 200);
  assert.equal(r.json.items.length, 10);
  assert.deepEqual(r.json.items.map((x) => x.payload.n), [11, 10, 9, 8, 7, 6, 5, 4, 3, 2]);
  assert.equal(typeof r.json.next_cursor, 'string');
  r = await gw('GET', `${ep.slug}?cursor=${r.json.next_cursor}`, { key });
  assert.deepEqual(r.json.items.map((x) => x.payload.n), [1, 0]);
  assert.equal(r.json.next_cursor, null);
  r = await gw('GET', `${ep.slug}?limit=5`, { key });
  assert.equal(r.json.items.length, 5);
  r = await gw('GET', `${ep.slug}?limit=31`, { key });
  assert.equal(r.status, 400);
  r = await gw('GET', `${ep.slug}?cursor=bm90LWEtY3Vyc29y`, { key });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'invalid_query');
});

test('search: q required, finds searchable text, honours from/to', async () => {
  const { ep, keys } = await newEndpoint('Search');
  const key = keys.sandbox_key;
  await gw('POST', ep.slug, { key, body: { email: 'a@example.com', message: 'the quick brown fox' } });
  await gw('POST', ep.slug, { key, body: { email: 'b@example.com', message: '안녕하세요 세계' } });
  let r = await gw('GET', `${ep.slug}/search`, { key });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'invalid_query');
  r = await gw('GET', `${ep.slug}/search?q=brown`, { key });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.items.map((x) => x.payload.email), ['a@example.com']);
  r = await gw('GET', `${ep.slug}/search?q=${encodeURIComponent('세계')}`, { key });
  assert.deepEqual(r.json.items.map((x) => x.payload.email), ['b@example.com']);
  r = await gw('GET', `${ep.slug}/search?q=example`, { key });
  assert.equal(r.json.items.length, 0, 'email is not a searchable field');
  r = await gw('GET', `${ep.slug}/search?q=brown&from=2000-01-01&to=2000-12-31`, { key });
  assert.equal(r.json.items.length, 0);
  r = await gw('GET', `${ep.slug}/search?q=brown&from=yesterday-ish`, { key });
  assert.equal(r.status, 400);
});

test('production: 403 endpoint_not_deployed (not logged) until a deploy, which needs a sandbox call first', async () => {
  const { ep, keys } = await newEndpoint('Deploy');
  let r = await gw('POST', ep.slug, { key: keys.production_key, body: { email: 'a@example.com' } });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, 'endpoint_not_deployed');
  assert.equal(await logCount(ep.id), 0);

  const refused = await mcp(acct, 'endpoints_deploy', { endpoint: ep.id });
  assert.equal(refused.error?.code, 'precondition_failed');
  assert.match(refused.error.message, /sandbox/);
  assert.match(refused.error.message, /api_call/);

  r = await gw('POST', ep.slug, { key: keys.sandbox_key, body: { email: 'a@example.com' } });
  assert.equal(r.status, 202);
  const got = await mcp(acct, 'endpoints_get', { endpoint: ep.id });
  assert.equal(got.sandbox.test_calls, 1);
  const dep = await mcp(acct, 'endpoints_deploy', { endpoint: ep.id });
  assert.equal(dep.version, 1, JSON.stringify(dep));

  r = await gw('POST', ep.slug, { key: keys.production_key, body: { message: 'no email' } });
  assert.equal(r.status, 400, 'production validates with its own fields');
  r = await gw('POST', ep.slug, { key: keys.production_key, body: { email: 'live@example.com' } });
  assert.equal(r.status, 202);
  assert.equal(r.json.environment, 'production');
  // Environments are separate: the sandbox list does not show the production record.
  r = await gw('GET', ep.slug, { key: keys.sandbox_key });
  assert.deepEqual(r.json.items.map((x) => x.payload.email), ['a@example.com']);
  assert.equal((await mcp(acct, 'endpoints_get', { endpoint: ep.id })).sandbox.test_calls, 2,
    'production calls are not sandbox test calls');
});

test('403 endpoint_inactive and 403 key_inactive / permission_denied are logged', async () => {
  const { ep, keys } = await newEndpoint('Perm', []);
  // A collaboration key that may create and read but not delete.
  const collabKey = `tm_test_${randomBytes(32).toString('base64url')}`;
  const hash = createHash('sha256').update(collabKey).digest('hex');
  const [cid] = await psql(`INSERT INTO collaboration_keys (account_id, endpoint_id, name, can_create, can_read, can_update, can_delete)
    SELECT account_id, id, 'partner', true, true, false, false FROM endpoints WHERE id = '${ep.id}' RETURNING id`);
  await psql(`INSERT INTO api_keys (account_id, endpoint_id, environment, kind, collaboration_key_id, key_hash, key_enc, last4)
    SELECT account_id, id, 'sandbox', 'collaboration', '${cid}', '\\x${hash}', '\\x00', '${collabKey.slice(-4)}'
    FROM endpoints WHERE id = '${ep.id}'`);
  let r = await gw('POST', ep.slug, { key: collabKey, body: { a: 1 } });
  assert.equal(r.status, 202, r.text);
  const id = r.json.id;
  r = await gw('DELETE', `${ep.slug}/${id}`, { key: collabKey });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, 'permission_denied');
  r = await gw('PUT', `${ep.slug}/${id}`, { key: collabKey, body: { a: 2 } });
  assert.equal(r.status, 403);
  await psql(`UPDATE api_keys SET active = false WHERE collaboration_key_id = '${cid}'`);
  r = await gw('GET', ep.slug, { key: collabKey });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, 'key_inactive');
  await psql(`UPDATE api_keys SET active = true WHERE collaboration_key_id = '${cid}'`);
  await psql(`UPDATE collaboration_keys SET active = false WHERE id = '${cid}'`);
  r = await gw('GET', ep.slug, { key: collabKey });
  assert.equal(r.json.error.code, 'key_inactive');

  await psql(`UPDATE endpoints SET active = false WHERE id = '${ep.id}'`);
  r = await gw('GET', ep.slug, { key: keys.sandbox_key });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, 'endpoint_inactive');
  r = await gw('POST', ep.slug, { key: keys.production_key, body: { a: 1 } });
  assert.equal(r.json.error.code, 'endpoint_inactive', 'inactive is checked before not-deployed');

  const rows = await psql(`SELECT caller_kind, status_code, error_code, collaboration_key_id IS NOT NULL
    FROM call_logs WHERE endpoint_id = '${ep.id}' ORDER BY created_at`);
  assert.deepEqual(rows, ['collaboration|202||t', 'collaboration|403|permission_denied|t',
    'collaboration|403|permission_denied|t', 'collaboration|403|key_inactive|t', 'collaboration|403|key_inactive|t',
    'owner|403|endpoint_inactive|f', 'owner|403|endpoint_inactive|f']);
  // The collaborator's calls have their own daily rows (summed over the stripes).
  const stats = await psql(`SELECT environment, collaboration_key_id IS NOT NULL, sum(calls), sum(success), sum(failed)
    FROM daily_stats WHERE endpoint_id = '${ep.id}' GROUP BY 1, 2 ORDER BY 1, 2`);
  assert.deepEqual(stats, ['production|f|1|0|1', 'sandbox|f|1|0|1', 'sandbox|t|5|1|4']);
});

test('429 rate_limited with Retry-After beyond the per-key burst; logged, not counted as usage', async () => {
  const acc = await accountWithKey('gw-rate');
  const { ep, keys } = await newEndpoint('Rate', [], acc);
  const results = await Promise.all(Array.from({ length: 70 }, () => gw('GET', ep.slug, { key: keys.sandbox_key })));
  const limited = results.filter((r) => r.status === 429);
  const ok = results.filter((r) => r.status === 200);
  assert.ok(limited.length > 0, 'some calls are throttled');
  assert.equal(limited[0].json.error.code, 'rate_limited');
  assert.ok(Number(limited[0].headers['retry-after']) >= 1);
  assert.equal(await logCount(ep.id, 'status_code = 429'), limited.length);
  const [calls] = await psql(`SELECT sum(calls) FROM usage_counters WHERE account_id = '${acc.id}'`);
  assert.equal(Number(calls), ok.length, 'usage counts the answered calls only');
});

test('usage, daily stats, sandbox test calls and call log bodies (clipped at 16 KB)', async () => {
  const acc = await accountWithKey('gw-usage');
  const { ep, keys } = await newEndpoint('Usage', [], acc);
  const big = { text: 'é'.repeat(20000) };   // 40 KB of two-byte characters
  let r = await gw('POST', ep.slug, { key: keys.sandbox_key, body: big });
  assert.equal(r.status, 202);
  r = await gw('GET', `${ep.slug}/rec_00000000000000000000000000`, { key: keys.sandbox_key });
  assert.equal(r.status, 404);
  const [log] = await psql(`SELECT octet_length(request_body), request_truncated, request_bytes, ip IS NOT NULL,
    latency_ms >= 0 FROM call_logs WHERE endpoint_id = '${ep.id}' AND method = 'POST'`);
  const [len, cut, bytes, ip, lat] = log.split('|');
  assert.ok(Number(len) <= 16384 && Number(len) > 16000, len);
  assert.equal(cut, 't');
  assert.equal(Number(bytes), Buffer.byteLength(JSON.stringify(big)));
  assert.equal(ip, 't');
  assert.equal(lat, 't');
  // Counters are kept in stripes (migration 020): the counts are their sums.
  const [usage] = await psql(`SELECT sum(calls), count(DISTINCT period_start), max(period_end - period_start)
    FROM usage_counters WHERE account_id = '${acc.id}'`);
  assert.equal(usage, '2|1|30 days');
  const [stats] = await psql(`SELECT sum(calls), sum(success), sum(failed), sum(cud_calls) FROM daily_stats
    WHERE endpoint_id = '${ep.id}'`);
  assert.equal(stats, '2|1|1|1');
  assert.equal((await psql(`SELECT e.sandbox_test_calls + coalesce((SELECT sum(c.calls) FROM endpoint_sandbox_calls c
    WHERE c.endpoint_id = e.id), 0) FROM endpoints e WHERE e.id = '${ep.id}'`))[0], '2');
});

test('webhooks: the stored one and a per-request override queue a signed delivery after a write, never after a read', async () => {
  const { ep, keys } = await newEndpoint('Hooks', []);
  const upd = await mcp(acct, 'endpoints_update', {
    endpoint: ep.id, webhook: { url: 'http://127.0.0.1:9/hook', auth_header_name: 'X-Token', auth_value: 'sekrit' },
  });
  assert.equal(upd.changed, true, JSON.stringify(upd));
  assert.deepEqual(upd.endpoint.webhooks.sandbox,
    { url: 'http://127.0.0.1:9/hook', auth_header_name: 'X-Token', has_auth_value: true, enabled: true });
  assert.equal(upd.endpoint.webhooks.production.url, null);
  assert.ok(!JSON.stringify(upd).includes('sekrit'));

  let r = await gw('POST', ep.slug, { key: keys.sandbox_key, body: { a: 1 } });
  const id = r.json.id;
  await gw('GET', `${ep.slug}/${id}`, { key: keys.sandbox_key });
  r = await gw('PUT', `${ep.slug}/${id}`, {
    key: keys.sandbox_key, body: { a: 2 },
    headers: { 'X-Webhook-Callback': 'http://127.0.0.1:9/override', 'X-Webhook-Auth': 'Bearer xyz' },
  });
  assert.equal(r.status, 202);
  const rows = await psql(`SELECT d.url, d.auth_header_name, d.status, d.body, l.webhook_status, l.id = d.call_log_id,
      position('sekrit' in encode(d.auth_value_enc, 'escape')) FROM webhook_deliveries d
    JOIN call_logs l ON l.id = d.call_log_id WHERE d.endpoint_id = '${ep.id}' ORDER BY d.created_at`);
  assert.equal(rows.length, 2);
  const [first, second] = rows.map((l) => l.split('|'));
  assert.equal(first[0], 'http://127.0.0.1:9/hook');
  assert.equal(first[1], 'X-Token');
  assert.equal(first[2], 'pending');
  const body = JSON.parse(first[3]);
  assert.equal(body.event, 'record.created');
  assert.deepEqual(body.endpoint, { id: ep.id, slug: ep.slug, name: ep.name });
  assert.equal(body.environment, 'sandbox');
  assert.deepEqual(body.record, { id, payload: { a: 1 } });
  assert.equal(body.caller, 'owner');
  assert.equal(typeof body.log_id, 'string');
  assert.equal(first[4], 'pending');
  assert.equal(first[5], 't');
  assert.equal(first[6], '0', 'the auth value is stored encrypted');
  assert.equal(second[0], 'http://127.0.0.1:9/override');
  assert.equal(second[1], 'Authorization');
  assert.equal(JSON.parse(second[3]).event, 'record.updated');

  // Removing the URL turns the webhook off.
  const off = await mcp(acct, 'endpoints_update', { endpoint: ep.id, webhook: { url: null } });
  assert.deepEqual(off.endpoint.webhooks.sandbox, { url: null, auth_header_name: null, has_auth_value: false, enabled: false });
  await gw('POST', ep.slug, { key: keys.sandbox_key, body: { a: 3 } });
  assert.equal((await psql(`SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = '${ep.id}'`))[0], '2');
});

test('a failed call queues one call_failed e-mail when a rule asks for it, then cools down', async () => {
  const acc = await accountWithKey('gw-notify');
  const { ep, keys } = await newEndpoint('Notify', FIELDS, acc);
  await gw('POST', ep.slug, { key: keys.sandbox_key, body: { nothing: true } });
  assert.equal((await psql(`SELECT count(*) FROM notifications WHERE account_id = '${acc.id}'`))[0], '0', 'no rule, no mail');
  await psql(`INSERT INTO notification_rules (account_id, event) VALUES ('${acc.id}', 'call_failed')`);
  for (let i = 0; i < 3; i++) await gw('POST', ep.slug, { key: keys.sandbox_key, body: { nothing: true } });
  const rows = await psql(`SELECT kind, status, subject FROM notifications WHERE account_id = '${acc.id}'`);
  assert.equal(rows.length, 1, 'one mail for a burst');
  assert.match(rows[0], /^call_failed\|pending\|.*400/);
});

test('another account cannot reach the records: its keys are for its own endpoints only', async () => {
  const { ep, keys } = await newEndpoint('Mine');
  await gw('POST', ep.slug, { key: keys.sandbox_key, body: { email: 'x@example.com' } });
  const { ep: theirs, keys: theirKeys } = await newEndpoint('Theirs', [], other);
  const r = await gw('GET', ep.slug, { key: theirKeys.sandbox_key });
  assert.equal(r.status, 404);
  assert.equal(await logCount(theirs.id), 0);
  // And row-level security hides the records from the worker role without the account set.
  const seen = await psql(`SELECT count(*) FROM records WHERE endpoint_id = '${ep.id}'`, { user: 'tm_worker' });
  assert.equal(seen[0], '0');
  await sleep(0);
});

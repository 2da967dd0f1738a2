// Plans and quotas against a real edge, workers and PostgreSQL
// (docs/PLANS.md): the subscription tool through the official SDK client
// (validated against its outputSchema), the quota boundary of the free plan
// (the call that reaches the limit succeeds, the next is 402 with details,
// over api_call and over HTTP), the 80% and 100% alerts queued once,
// enterprise overage counted without a 402 in both environments, and
// `3min account plan` changing what subscription reports and what the
// gateway enforces. Usage is set close to the limit with psql as the owner
// rather than by making a thousand calls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Ajv from 'ajv';
import { startSystem, accountWithKey, run3min, request, psql, unique, BIN_DIR, DB_URL } from '../lib/system.mjs';

let sys;
const clients = [];
const validators = new Map();

async function sdkClient(key) {
  const c = new Client({ name: '3min-system-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(sys.mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  }));
  clients.push(c);
  return c;
}

before(async () => {
  sys = await startSystem({ name: 'plans', workers: 2 });
  const a = await accountWithKey('plans-list');
  const c = await sdkClient(a.key);
  const { tools } = await c.listTools();
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const t of tools) validators.set(t.name, ajv.compile(t.outputSchema));
});
after(async () => {
  for (const c of clients) await c.close();
  await sys?.stop();
});

async function call(c, name, args = {}) {
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

// `3min` with its exit code and both streams, for the error cases.
function run3minRaw(args) {
  return new Promise((resolve) => {
    execFile(join(BIN_DIR, '3min'), args, { env: { ...process.env, DATABASE_URL: DB_URL } },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

// An account with a key, a client and an endpoint with one sandbox call made.
async function setup(label) {
  const acct = await accountWithKey(label);
  const c = await sdkClient(acct.key);
  const { endpoint: ep } = await call(c, 'endpoints_create', { name: unique('Plan test') });
  const post = () => call(c, 'api_call', { endpoint: ep.id, method: 'POST', body: { n: 1 } });
  const first = await post();
  assert.equal(first.response.status, 202, JSON.stringify(first));
  return { acct, c, ep, post };
}

// The period's count is the sum of its stripes (migration 020): one stripe
// gets n, the others 0.
const setUsed = (acct, n, period = 'true') => psql(`UPDATE usage_counters u
  SET calls = CASE WHEN u.stripe = m.s THEN ${Number(n)} ELSE 0 END
  FROM (SELECT min(stripe) AS s, period_start FROM usage_counters WHERE account_id = '${acct.id}' AND ${period}
        GROUP BY period_start) m
  WHERE u.account_id = '${acct.id}' AND u.period_start = m.period_start`);
const alerts = async (acct) => {
  const rows = await psql(`SELECT kind, subject FROM notifications WHERE account_id = '${acct.id}' `
    + `AND kind IN ('usage_80', 'usage_100') ORDER BY created_at, kind`);
  return rows.map((r) => r.split('|')[0]);
};

test('subscription is listed read-only and idempotent with no arguments', async () => {
  const { acct } = { acct: await accountWithKey('plans-tool') };
  const c = await sdkClient(acct.key);
  const { tools } = await c.listTools();
  const t = tools.find((x) => x.name === 'subscription');
  assert.ok(t, 'subscription is listed');
  assert.equal(typeof t.title, 'string');
  assert.deepEqual(Object.keys(t.inputSchema.properties ?? {}), []);
  const a = t.annotations;
  assert.deepEqual([a.readOnlyHint, a.destructiveHint, a.idempotentHint, a.openWorldHint], [true, false, true, false]);
  const bad = await c.callTool({ name: 'subscription', arguments: { plan: 'pro' } });
  assert.equal(bad.isError, true, 'unknown arguments are refused');
});

test('a new account is on the free plan with a 30-day period and nothing used', async () => {
  const acct = await accountWithKey('plans-new');
  const c = await sdkClient(acct.key);
  const s = await call(c, 'subscription');
  assert.deepEqual(s.plan, { code: 'free', limit: 1000, price_usd: 0, overage_per_call: null });
  assert.equal(s.status, 'active');
  assert.deepEqual(s.usage, { used: 0, limit: 1000, remaining: 1000, percent: 0, overage_calls: 0 });
  assert.equal(s.billing.provider, 'manual');
  assert.equal(s.billing.next_billing_at, null, 'nothing to bill on free');
  assert.equal(s.billing.cancel_at_period_end, false);
  assert.match(s.manage_url, /^https?:\/\/.+\/settings\/subscription$/);
  const start = Date.parse(s.period.start), end = Date.parse(s.period.end);
  assert.equal(end - start, 30 * 86400 * 1000);
  const created = Date.parse((await psql(`SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') `
    + `FROM accounts WHERE id = '${acct.id}'`))[0]);
  assert.equal(start, created, 'the first period starts at the account creation');
  assert.ok(start <= Date.now() && Date.now() < end);
});

test('free plan: alerts at 80% and 100% once, the call reaching 1000 succeeds and the next is 402', async () => {
  const { acct, c, ep, post } = await setup('plans-free');
  assert.deepEqual((await call(c, 'subscription')).usage.used, 1);

  await setUsed(acct, 798);
  assert.equal((await post()).response.status, 202);          // 799
  assert.deepEqual(await alerts(acct), []);
  assert.equal((await post()).response.status, 202);          // 800: 80%
  assert.deepEqual(await alerts(acct), ['usage_80']);
  assert.equal((await post()).response.status, 202);          // 801
  assert.deepEqual(await alerts(acct), ['usage_80'], 'the 80% alert is queued once');
  const [subject80] = await psql(`SELECT subject FROM notifications WHERE account_id = '${acct.id}' AND kind = 'usage_80'`);
  assert.match(subject80, /80%/);

  await setUsed(acct, 998);
  assert.equal((await post()).response.status, 202);          // 999
  const reaching = await post();                              // 1000: reaches the limit, succeeds
  assert.equal(reaching.response.status, 202, JSON.stringify(reaching));
  assert.deepEqual(await alerts(acct), ['usage_80', 'usage_100']);

  const s = await call(c, 'subscription');
  assert.deepEqual(s.usage, { used: 1000, limit: 1000, remaining: 0, percent: 100, overage_calls: 0 });

  const refused = await post();                               // the next one
  assert.equal(refused.response.status, 402, JSON.stringify(refused));
  const err = refused.response.body.error;
  assert.equal(err.code, 'quota_exceeded');
  assert.equal(typeof err.message, 'string');
  assert.equal(err.details.limit, 1000);
  assert.equal(err.details.used, 1000);
  assert.equal(err.details.period_end, s.period.end);
  assert.equal(err.details.upgrade_url, s.manage_url);
  assert.ok(refused.log_id, 'a 402 is logged');

  // over HTTP with the sandbox key: the same 402, and a GET is refused too
  const keys = await endpointKeys(acct.email, ep.slug);
  const http = await request(sys, {
    method: 'POST', path: `/api/v1/data/${ep.slug}`, body: { n: 2 },
    headers: { Authorization: `Bearer ${keys.sandbox_key}`, 'Content-Type': 'application/json' },
  });
  assert.equal(http.status, 402, http.text);
  assert.equal(http.json.error.code, 'quota_exceeded');
  assert.deepEqual(http.json.error.details, err.details);
  const get = await request(sys, {
    method: 'GET', path: `/api/v1/data/${ep.slug}`, headers: { Authorization: `Bearer ${keys.sandbox_key}` },
  });
  assert.equal(get.status, 402);

  // refused calls are not counted and alert nobody again
  assert.equal((await call(c, 'subscription')).usage.used, 1000);
  assert.deepEqual(await alerts(acct), ['usage_80', 'usage_100'], 'the 100% alert is queued once');
  const [stored] = await psql(`SELECT alert80_at IS NOT NULL AND alert100_at IS NOT NULL FROM usage_counters `
    + `WHERE account_id = '${acct.id}' AND stripe = 0`);
  assert.equal(stored, 't');

  // an operator upgrade lets calls through at once, in the same period
  assert.equal(await run3min(['account', 'plan', '--email', acct.email, '--plan', 'basic']), 'basic');
  assert.equal((await post()).response.status, 202);
  const after = await call(c, 'subscription');
  assert.equal(after.plan.code, 'basic');
  assert.equal(after.usage.used, 1001);
  assert.equal(after.usage.remaining, 28999);
  assert.deepEqual(await alerts(acct), ['usage_80', 'usage_100'], 'no new alert below 80% of the new limit');
});

test('alerts are once per period: the next 30-day period counts from zero and alerts again', async () => {
  const { acct, c, post } = await setup('plans-period');
  await setUsed(acct, 799);
  assert.equal((await post()).response.status, 202);          // 800
  assert.equal((await post()).response.status, 202);          // 801
  assert.deepEqual(await alerts(acct), ['usage_80']);
  const before = await call(c, 'subscription');

  // the account is now 45 days older: now falls in its second period, which
  // started 15 days ago and has no count yet
  await psql(`UPDATE accounts SET created_at = created_at - interval '45 days' WHERE id = '${acct.id}'`);
  const s = await call(c, 'subscription');
  assert.equal(Date.parse(s.period.start), Date.parse(before.period.start) - 15 * 86400000);
  assert.equal(Date.parse(s.period.end), Date.parse(s.period.start) + 30 * 86400000);
  assert.deepEqual(s.usage, { used: 0, limit: 1000, remaining: 1000, percent: 0, overage_calls: 0 });
  assert.equal((await post()).response.status, 202);
  await setUsed(acct, 799, `period_start = (SELECT p.period_start FROM accounts a, usage_period(a.created_at, now()) p `
    + `WHERE a.id = '${acct.id}')`);
  assert.equal((await post()).response.status, 202);          // 800 of the new period
  assert.deepEqual(await alerts(acct), ['usage_80', 'usage_80']);
  assert.equal((await psql(`SELECT count(DISTINCT period_start) FROM usage_counters WHERE account_id = '${acct.id}'`))[0],
    '2');
});

test('enterprise: calls past the limit are allowed and counted as overage in sandbox and production', async () => {
  const { acct, c, ep, post } = await setup('plans-ent');
  assert.equal(await run3min(['account', 'plan', '--email', acct.email, '--plan', 'enterprise']), 'enterprise');
  const dep = await call(c, 'endpoints_deploy', { endpoint: ep.id });
  assert.equal(dep.version, 1);
  await setUsed(acct, 999999);

  assert.equal((await post()).response.status, 202);          // 1,000,000: the limit, no overage yet
  let s = await call(c, 'subscription');
  assert.deepEqual(s.usage, { used: 1000000, limit: 1000000, remaining: 0, percent: 100, overage_calls: 0 });
  assert.deepEqual(await alerts(acct), ['usage_100'], 'jumping past both thresholds sends the 100% alert only');

  assert.equal((await post()).response.status, 202);          // sandbox overage
  const keys = await endpointKeys(acct.email, ep.slug);
  const live = await request(sys, {
    method: 'POST', path: `/api/v1/data/${ep.slug}`, body: { n: 3 },
    headers: { Authorization: `Bearer ${keys.production_key}`, 'Content-Type': 'application/json' },
  });
  assert.equal(live.status, 202, live.text);                   // production overage

  s = await call(c, 'subscription');
  assert.deepEqual(s.plan, { code: 'enterprise', limit: 1000000, price_usd: 100, overage_per_call: 0.0005 });
  assert.equal(s.usage.used, 1000002);
  assert.equal(s.usage.overage_calls, 2);
  assert.equal(s.usage.remaining, 0);
  assert.equal(s.usage.percent, 100, "one decimal: 100.0002% shows as 100");
  assert.equal(s.billing.next_billing_at, s.period.end, 'a paid plan is billed at the period end');
  assert.deepEqual(await alerts(acct), ['usage_100']);
});

test('3min account plan changes the plan subscription reports, mirrored in accounts.plan; errors are clear', async () => {
  const acct = await accountWithKey('plans-cli');
  const c = await sdkClient(acct.key);
  assert.equal((await call(c, 'subscription')).plan.code, 'free');
  assert.equal(await run3min(['account', 'plan', '--email', acct.email.toUpperCase(), '--plan', 'pro']), 'pro');
  const s = await call(c, 'subscription');
  assert.deepEqual(s.plan, { code: 'pro', limit: 300000, price_usd: 30, overage_per_call: null });
  assert.equal(s.usage.limit, 300000);
  assert.equal(s.billing.next_billing_at, s.period.end);
  assert.deepEqual(await psql(`SELECT plan FROM accounts WHERE id = '${acct.id}'`), ['pro']);

  const badPlan = await run3minRaw(['account', 'plan', '--email', acct.email, '--plan', 'platinum']);
  assert.equal(badPlan.code, 2);
  assert.match(badPlan.stderr, /free, basic, pro, enterprise/);
  const noAcct = await run3minRaw(['account', 'plan', '--email', `${unique('nobody')}@example.com`, '--plan', 'pro']);
  assert.equal(noAcct.code, 1);
  assert.match(noAcct.stderr, /no account with the e-mail/);
  const missing = await run3minRaw(['account', 'plan', '--email', acct.email]);
  assert.equal(missing.code, 2);
  assert.equal((await call(c, 'subscription')).plan.code, 'pro', 'failed commands changed nothing');
});

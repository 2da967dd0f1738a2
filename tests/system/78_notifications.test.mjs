// Notification rules set by chat and the deployed e-mail, against a real
// edge, workers and PostgreSQL: endpoints_update's notifications argument
// (diff, dry_run, the endpoint's own rule winning over an account-wide one),
// the effective rules in endpoints_get, and endpoints_deploy queueing a
// `deployed` notification under the shared cool-down (docs/GATEWAY.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, accountWithKey, tool, toolError, psql, unique } from '../lib/system.mjs';

let sys;

before(async () => {
  sys = await startSystem({ name: 'notify', workers: 2 });
});
after(async () => { await sys?.stop(); });

async function mcp(account, name, args) {
  const r = await tool(sys, account.key, name, args);
  if (r.isError) return { error: toolError(r) };
  return r.structuredContent;
}

const FIELDS = [{ name: 'email', type: 'string', required: true }];
const OFF = { call_failed: false, webhook_failed: false, deployed: false };

async function newEndpoint(account, label, fields = []) {
  const r = await mcp(account, 'endpoints_create', { name: unique(label), fields });
  assert.ok(r.endpoint, JSON.stringify(r));
  return r.endpoint;
}

const ruleRows = (epId) =>
  psql(`SELECT event || '=' || enabled FROM notification_rules WHERE endpoint_id = '${epId}' ORDER BY event`);

const notifications = (accountId, kind) =>
  psql(`SELECT status || '|' || subject FROM notifications WHERE account_id = '${accountId}' AND kind = '${kind}'`);

test('endpoints_update sets the endpoint rules: diff entries, dry_run writes nothing, no deploy needed', async () => {
  const acc = await accountWithKey('nt-rules');
  const ep = await newEndpoint(acc, 'Rules');
  assert.deepEqual(ep.notifications, OFF, 'no rule: everything off');

  const dry = await mcp(acc, 'endpoints_update', { endpoint: ep.slug, notifications: { call_failed: true }, dry_run: true });
  assert.deepEqual(dry.diff, [
    { field: '(notifications.call_failed)', change: 'changed', before: { value: false }, after: { value: true } },
  ]);
  assert.equal(dry.changed, true);
  assert.equal(dry.dry_run, true);
  assert.equal(dry.deploy_required, false);
  assert.deepEqual(dry.endpoint.notifications, OFF, 'dry run shows the unchanged rules');
  assert.deepEqual(await ruleRows(ep.id), [], 'dry run wrote no rule');
  assert.deepEqual((await mcp(acc, 'endpoints_get', { endpoint: ep.id })).notifications, OFF);

  const set = await mcp(acc, 'endpoints_update', { endpoint: ep.slug, notifications: { call_failed: true, deployed: true } });
  assert.deepEqual(set.diff.map((d) => [d.field, d.before.value, d.after.value]), [
    ['(notifications.call_failed)', false, true], ['(notifications.deployed)', false, true],
  ]);
  assert.equal(set.changed, true);
  assert.equal(set.deploy_required, false, 'rules act at once');
  assert.deepEqual(set.endpoint.notifications, { call_failed: true, webhook_failed: false, deployed: true });
  assert.deepEqual(await ruleRows(ep.id), ['call_failed=true', 'deployed=true']);
  assert.deepEqual((await mcp(acc, 'endpoints_get', { endpoint: ep.name })).notifications,
    { call_failed: true, webhook_failed: false, deployed: true });

  // A key left out is unchanged; the same value again is no change.
  const again = await mcp(acc, 'endpoints_update', { endpoint: ep.id, notifications: { call_failed: true } });
  assert.deepEqual(again.diff, []);
  assert.equal(again.changed, false);
  const off = await mcp(acc, 'endpoints_update', { endpoint: ep.id, notifications: { deployed: false } });
  assert.deepEqual(off.diff, [
    { field: '(notifications.deployed)', change: 'changed', before: { value: true }, after: { value: false } },
  ]);
  assert.deepEqual(off.endpoint.notifications, { call_failed: true, webhook_failed: false, deployed: false });

  // Only the three events, only booleans.
  for (const bad of [{ usage_80: true }, { call_failed: 'yes' }, {}]) {
    const r = await mcp(acc, 'endpoints_update', { endpoint: ep.id, notifications: bad });
    assert.equal(r.error?.code, 'invalid_argument', JSON.stringify(bad));
  }
  assert.deepEqual(await ruleRows(ep.id), ['call_failed=true', 'deployed=false']);
});

test('an account-wide rule shows in every endpoint until the endpoint sets its own', async () => {
  const acc = await accountWithKey('nt-account');
  const a = await newEndpoint(acc, 'Wide A');
  const b = await newEndpoint(acc, 'Wide B');
  await psql(`INSERT INTO notification_rules (account_id, event) VALUES ('${acc.id}', 'webhook_failed')`);
  const expectOn = { call_failed: false, webhook_failed: true, deployed: false };
  assert.deepEqual((await mcp(acc, 'endpoints_get', { endpoint: a.id })).notifications, expectOn);
  assert.deepEqual((await mcp(acc, 'endpoints_get', { endpoint: b.id })).notifications, expectOn);

  const r = await mcp(acc, 'endpoints_update', { endpoint: a.id, notifications: { webhook_failed: false } });
  assert.deepEqual(r.diff, [
    { field: '(notifications.webhook_failed)', change: 'changed', before: { value: true }, after: { value: false } },
  ]);
  assert.deepEqual(r.endpoint.notifications, OFF, "the endpoint's rule wins");
  assert.deepEqual((await mcp(acc, 'endpoints_get', { endpoint: b.id })).notifications, expectOn, 'the other keeps it');
});

test('an endpoint rule that is off silences an account-wide call_failed rule', async () => {
  const acc = await accountWithKey('nt-failed');
  const quiet = await newEndpoint(acc, 'Quiet', FIELDS);
  const loud = await newEndpoint(acc, 'Loud', FIELDS);
  await psql(`INSERT INTO notification_rules (account_id, event) VALUES ('${acc.id}', 'call_failed')`);
  await mcp(acc, 'endpoints_update', { endpoint: quiet.id, notifications: { call_failed: false } });
  for (const ep of [quiet, loud]) {
    const r = await mcp(acc, 'api_call', { endpoint: ep.id, method: 'POST', body: { nothing: true } });
    assert.equal(r.response.status, 400, JSON.stringify(r));
  }
  const rows = await psql(`SELECT endpoint_id FROM notifications WHERE account_id = '${acc.id}' AND kind = 'call_failed'`);
  assert.deepEqual(rows, [loud.id]);
});

test('endpoints_deploy queues a deployed e-mail when the rule is on, once per cool-down; none when off', async () => {
  const acc = await accountWithKey('nt-deploy');
  const ep = await newEndpoint(acc, 'Shipped', FIELDS);
  await mcp(acc, 'endpoints_update', { endpoint: ep.id, notifications: { deployed: true } });
  const call = await mcp(acc, 'api_call', { endpoint: ep.id, method: 'POST', body: { email: 'a@example.com' } });
  assert.equal(call.response.status, 202, JSON.stringify(call));

  const dry = await mcp(acc, 'endpoints_deploy', { endpoint: ep.id, dry_run: true });
  assert.equal(dry.dry_run, true, JSON.stringify(dry));
  assert.deepEqual(await notifications(acc.id, 'deployed'), [], 'a dry run queues nothing');

  const dep = await mcp(acc, 'endpoints_deploy', { endpoint: ep.id, note: 'first release' });
  assert.equal(dep.version, 1, JSON.stringify(dep));
  const rows = await psql(`SELECT status || '|' || endpoint_id || '|' || subject FROM notifications
    WHERE account_id = '${acc.id}' AND kind = 'deployed'`);
  assert.equal(rows.length, 1, 'a deployed notification is queued');
  const [status, endpointId, subject] = rows[0].split('|');
  assert.equal(status, 'pending');
  assert.equal(endpointId, ep.id);
  assert.ok(subject.includes(ep.name), subject);
  assert.match(subject, /version 1\b/);
  const all = (await psql(`SELECT body FROM notifications WHERE account_id = '${acc.id}' AND kind = 'deployed'`)).join('\n');
  assert.match(all, /Version: 1/);
  assert.match(all, /via MCP/);
  assert.match(all, /- email: added/);
  assert.match(all, /first release/);

  // A second deploy within NOTIFY_COOLDOWN_S sends nothing more.
  await mcp(acc, 'endpoints_update', { endpoint: ep.id, fields: [...FIELDS, { name: 'age', type: 'number' }] });
  const dep2 = await mcp(acc, 'endpoints_deploy', { endpoint: ep.id });
  assert.equal(dep2.version, 2, JSON.stringify(dep2));
  assert.equal((await notifications(acc.id, 'deployed')).length, 1, 'cooling down');
  const [cool] = await psql(`SELECT until > now() FROM notify_cooldowns WHERE account_id = '${acc.id}' AND key = 'deployed:${ep.id}'`);
  assert.equal(cool, 't');

  // Off for this endpoint (even with an account-wide rule on): no e-mail.
  const other = await accountWithKey('nt-deploy-off');
  await psql(`INSERT INTO notification_rules (account_id, event) VALUES ('${other.id}', 'deployed')`);
  const quiet = await newEndpoint(other, 'Quiet deploy', FIELDS);
  await mcp(other, 'endpoints_update', { endpoint: quiet.id, notifications: { deployed: false } });
  await mcp(other, 'api_call', { endpoint: quiet.id, method: 'POST', body: { email: 'b@example.com' } });
  assert.equal((await mcp(other, 'endpoints_deploy', { endpoint: quiet.id })).version, 1);
  assert.deepEqual(await notifications(other.id, 'deployed'), []);
  // and no rule at all: no e-mail either.
  const none = await accountWithKey('nt-deploy-none');
  const plain = await newEndpoint(none, 'Plain deploy', FIELDS);
  await mcp(none, 'api_call', { endpoint: plain.id, method: 'POST', body: { email: 'c@example.com' } });
  assert.equal((await mcp(none, 'endpoints_deploy', { endpoint: plain.id })).version, 1);
  assert.deepEqual(await notifications(none.id, 'deployed'), []);
});

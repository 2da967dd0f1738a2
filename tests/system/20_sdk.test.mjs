// The official MCP TypeScript SDK client against a real edge and workers,
// signed in with an API key from `3min mcp-key create`: every tool of the
// foundation, each structuredContent validated against the tool's
// outputSchema with ajv (the SDK validates too), and the text block equal to
// structuredContent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Ajv from 'ajv';
import { startSystem, accountWithKey, psql, unique } from '../lib/system.mjs';

let sys, acct, client;
const validators = new Map();

before(async () => {
  sys = await startSystem({ name: 'sdk', workers: 2 });
  acct = await accountWithKey('sdk');
  client = new Client({ name: '3min-system-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(sys.mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${acct.key}` } },
  });
  await client.connect(transport);
});
after(async () => {
  await client?.close();
  await sys?.stop();
});

// Calls a tool through the SDK and checks the result's shape; returns
// structuredContent (or the parsed error of an isError result).
async function call(name, args) {
  const res = await client.callTool({ name, arguments: args });
  assert.ok(Array.isArray(res.content) && res.content[0].type === 'text', `${name}: a text block`);
  if (res.isError) return { error: JSON.parse(res.content[0].text).error };
  const validate = validators.get(name);
  assert.ok(validate, `${name} has an output schema`);
  assert.ok(validate(res.structuredContent), `${name} output: ${JSON.stringify(validate.errors)}`);
  assert.deepEqual(JSON.parse(res.content[0].text), res.structuredContent, `${name}: text block == structuredContent`);
  return res.structuredContent;
}

test('the SDK client initializes and lists every tool with its schemas', async () => {
  assert.equal(typeof client.getServerVersion().name, 'string');
  assert.ok(client.getServerCapabilities().tools);
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(),
    ['api_call', 'archives_download', 'archives_list', 'collaborators_create_key', 'collaborators_invite',
      'collaborators_list_invitations', 'collaborators_list_keys', 'collaborators_update_permissions', 'endpoints_create', 'endpoints_deploy', 'endpoints_get', 'endpoints_list', 'endpoints_update', 'help',
      'logs_fetch_archived', 'logs_lookup', 'logs_search', 'stats', 'subscription']);
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const t of tools) {
    assert.ok(t.outputSchema, t.name);
    validators.set(t.name, ajv.compile(t.outputSchema));
    ajv.compile(t.inputSchema);   // the input schemas are valid JSON Schema too
  }
});

test('create -> get -> update (dry run, then real) -> deploy, each output valid', async () => {
  const name = unique('Orders');
  const created = await call('endpoints_create', {
    name,
    description: 'orders from the shop',
    fields: [
      { name: 'customer', type: 'string', required: true, searchable: true, validation: { max_length: 80 } },
      { name: 'total', type: 'number', validation: { minimum: 0 } },
    ],
  });
  const ep = created.endpoint;
  assert.equal(ep.name, name);
  assert.equal(ep.description, 'orders from the shop');
  assert.deepEqual(ep.sandbox.fields.map((f) => f.name), ['customer', 'total']);
  assert.equal(ep.production.version, 0);
  assert.ok(ep.urls.gateway.endsWith(`/api/v1/data/${ep.slug}`), ep.urls.gateway);
  assert.ok(Array.isArray(created.next_steps) && created.next_steps.length > 0);

  // get by id, slug and name (any case) answers the same endpoint
  const byId = await call('endpoints_get', { endpoint: ep.id });
  assert.equal(byId.id, ep.id);
  assert.deepEqual(await call('endpoints_get', { endpoint: ep.slug }), byId);
  assert.deepEqual(await call('endpoints_get', { endpoint: name.toUpperCase() }), byId);
  assert.deepEqual(byId.sandbox.fields, ep.sandbox.fields);

  // dry run: a diff, and nothing changes
  const newFields = [...byId.sandbox.fields, { name: 'paid', type: 'boolean' }];
  const dry = await call('endpoints_update', { endpoint: ep.id, fields: newFields, dry_run: true });
  assert.equal(dry.dry_run, true);
  assert.equal(dry.changed, true);
  assert.deepEqual(dry.diff.map((d) => [d.field, d.change]), [['paid', 'added']]);
  assert.deepEqual(await call('endpoints_get', { endpoint: ep.id }), byId, 'the dry run changed nothing');

  // the real update applies the same diff to the sandbox only
  const upd = await call('endpoints_update', { endpoint: ep.id, fields: newFields });
  assert.equal(upd.dry_run, false);
  assert.equal(upd.changed, true);
  assert.deepEqual(upd.diff, dry.diff);
  assert.equal(upd.deploy_required, true);
  const afterUpd = await call('endpoints_get', { endpoint: ep.id });
  assert.deepEqual(afterUpd.sandbox.fields.map((f) => f.name), ['customer', 'total', 'paid']);
  assert.deepEqual(afterUpd.production.fields, []);
  assert.equal(afterUpd.has_undeployed_changes, true);
  assert.ok(afterUpd.pending_changes.length >= 3);

  // a deploy needs a sandbox test call first (recorded here directly; 70_gateway makes real ones)
  const early = await call('endpoints_deploy', { endpoint: ep.id, dry_run: true });
  assert.equal(early.error?.code, 'precondition_failed', JSON.stringify(early));
  await psql(`UPDATE endpoints SET sandbox_test_calls = 1 WHERE id = '${ep.id}'`);
  const afterCall = await call('endpoints_get', { endpoint: ep.id });

  // deploy dry run changes nothing
  const dryDeploy = await call('endpoints_deploy', { endpoint: ep.id, dry_run: true });
  assert.equal(dryDeploy.dry_run, true);
  assert.equal(dryDeploy.version, 1);
  assert.deepEqual(await call('endpoints_get', { endpoint: ep.id }), afterCall, 'the deploy dry run changed nothing');

  // deploy: production version 1 with the sandbox fields
  const dep = await call('endpoints_deploy', { endpoint: ep.slug, note: 'first release' });
  assert.equal(dep.dry_run, false);
  assert.equal(dep.version, 1);
  assert.equal(typeof dep.deployed_at, 'string');
  assert.ok(dep.diff.length >= 3);
  const afterDep = await call('endpoints_get', { endpoint: ep.id });
  assert.equal(afterDep.production.version, 1);
  assert.deepEqual(afterDep.production.fields, afterDep.sandbox.fields);
  assert.equal(afterDep.has_undeployed_changes, false);
  assert.deepEqual(afterDep.pending_changes, []);
  assert.equal(afterDep.deployments.length, 1);
  assert.equal(afterDep.deployments[0].note, 'first release');
  assert.equal(afterDep.deployments[0].via, 'mcp');

  // nothing to deploy: precondition_failed
  const again = await call('endpoints_deploy', { endpoint: ep.id });
  assert.equal(again.error?.code, 'precondition_failed', JSON.stringify(again));

  // a second change and deploy bump the version to 2
  await call('endpoints_update', { endpoint: ep.id, fields: afterDep.sandbox.fields.slice(0, 2), description: 'changed' });
  const dep2 = await call('endpoints_deploy', { endpoint: ep.id });
  assert.equal(dep2.version, 2);
  assert.deepEqual(dep2.diff.map((d) => [d.field, d.change]).filter(([f]) => f === 'paid'), [['paid', 'removed']]);
  const final = await call('endpoints_get', { endpoint: ep.id });
  assert.equal(final.production.version, 2);
  assert.equal(final.description, 'changed');
  assert.equal(final.deployments.length, 2);

  // a second create with the same name is a conflict
  const dup = await call('endpoints_create', { name: name.toLowerCase() });
  assert.equal(dup.error?.code, 'conflict');
});

test('endpoints_list: limit 1 pages visit every endpoint once; status and query filter', async () => {
  const tag = unique('listing').replace(/-/g, '');
  const names = [];
  for (let i = 0; i < 5; i++) {
    const n = `${tag} Item ${i}`;
    names.push(n);
    await call('endpoints_create', { name: n });
  }
  const all = (await call('endpoints_list', { limit: 100 })).items;
  const seen = [];
  let cursor, pages = 0;
  do {
    const page = await call('endpoints_list', cursor ? { limit: 1, cursor } : { limit: 1 });
    assert.ok(page.items.length <= 1);
    seen.push(...page.items.map((e) => e.id));
    cursor = page.next_cursor;
    pages++;
  } while (cursor && pages < 200);
  assert.equal(cursor, null, 'the last page has next_cursor null');
  assert.equal(new Set(seen).size, seen.length, 'no endpoint twice');
  assert.deepEqual(seen, all.map((e) => e.id), 'the pages visit the same endpoints in the same order');
  for (const n of names) assert.ok(all.some((e) => e.name === n), n);

  const q = await call('endpoints_list', { query: tag.toLowerCase() });
  assert.deepEqual(q.items.map((e) => e.name).sort(), [...names].sort());
  const q1 = await call('endpoints_list', { query: `${tag} Item 3` });
  assert.deepEqual(q1.items.map((e) => e.name), [names[3]]);
  const none = await call('endpoints_list', { query: '%' });
  assert.deepEqual(none.items, [], '% is a literal character, not a wildcard');

  // Deactivation has no tool yet: do it in the database.
  await psql(`UPDATE endpoints SET active = false WHERE account_id = '${acct.id}' AND name = '${names[0]}'`);
  const inactive = await call('endpoints_list', { status: 'inactive', query: tag });
  assert.deepEqual(inactive.items.map((e) => e.name), [names[0]]);
  assert.equal(inactive.items[0].active, false);
  const active = await call('endpoints_list', { status: 'active', query: tag });
  assert.deepEqual(active.items.map((e) => e.name).sort(), names.slice(1).sort());
  const everything = await call('endpoints_list', { status: 'all', query: tag });
  assert.equal(everything.items.length, 5);

  const badCursor = await call('endpoints_list', { cursor: '!!not-a-cursor!!' });
  assert.equal(badCursor.error?.code, 'invalid_argument');
});

test('help without a topic gives the index; with a topic, that topic', async () => {
  const index = await call('help', {});
  for (const t of ['endpoints', 'deploy', 'safety', 'mcp']) assert.ok(index.content_md.includes(t), t);
  const deploy = await call('help', { topic: 'deploy' });
  assert.equal(deploy.topic, 'deploy');
  assert.ok(deploy.title.length > 0);
  assert.ok(deploy.content_md.length > 100);
  assert.ok(Array.isArray(deploy.related));
  assert.notEqual(deploy.content_md, index.content_md);
});

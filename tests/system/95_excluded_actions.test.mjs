// What stays out of MCP (DOMAIN.md §4 "Excluded actions"): deleting or
// deactivating endpoints and keys, regenerating keys, revoking invitations,
// changing plans, managing MCP keys, deleting archives or the account. No
// tool exists for them, arguments cannot smuggle them into the tools that do
// exist, and `help` says where each is done. Every attempt changes nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSystem, accountWithKey, tool, toolError, callTool, listAllTools, unique,
} from '../lib/system.mjs';

let sys;
after(async () => { await sys?.stop(); });

const EXCLUDED_NAMES = [
  'endpoints_delete', 'endpoints_deactivate', 'endpoints_set_active', 'endpoints_clear_sandbox',
  'keys_regenerate', 'endpoints_regenerate_key', 'collaborators_delete_key', 'collaborators_deactivate_key',
  'collaborators_revoke_invitation', 'subscription_change_plan', 'subscription_cancel', 'mcp_keys_create',
  'mcp_keys_regenerate', 'mcp_keys_delete', 'archives_delete', 'account_delete',
];

test('no tool deletes, deactivates, revokes, regenerates, changes a plan or manages MCP keys', async () => {
  sys = await startSystem({ name: 'excluded', workers: 1 });
  const a = await accountWithKey('excluded');
  const names = (await listAllTools(sys, a.key)).map((t) => t.name);
  for (const n of names) {
    assert.doesNotMatch(n, /delete|deactivat|revoke|regenerat|cancel|change_plan|set_plan|mcp_key|reveal|clear/, n);
  }
  for (const n of EXCLUDED_NAMES) {
    const r = await callTool(sys, a.key, n, {});
    assert.equal(r.status, 200);
    assert.equal(r.json.error?.code, -32602, `${n} must be an unknown tool: ${r.text}`);
  }
});

test('arguments cannot smuggle an excluded action into an existing tool, and nothing changes', async () => {
  const a = await accountWithKey('smuggle');
  const name = unique('smuggle');
  const created = await tool(sys, a.key, 'endpoints_create', { name });
  assert.equal(created.isError, false, JSON.stringify(created));
  const before = (await tool(sys, a.key, 'endpoints_get', { endpoint: name })).structuredContent;
  const attempts = [
    ['endpoints_update', { endpoint: name, active: false }],
    ['endpoints_update', { endpoint: name, deleted: true }],
    ['endpoints_update', { endpoint: name, slug: 'taken-over' }],
    ['endpoints_update', { endpoint: name, regenerate_keys: true }],
    ['endpoints_deploy', { endpoint: name, delete: true }],
    ['subscription', { plan: 'enterprise' }],
    ['collaborators_create_key', { endpoint: name, name: 'k', active: false }],
    ['archives_list', { delete: true }],
  ];
  for (const [t, args] of attempts) {
    const r = await tool(sys, a.key, t, args);
    assert.equal(r.isError, true, `${t} ${JSON.stringify(args)} must be refused: ${JSON.stringify(r)}`);
    assert.equal(toolError(r).code, 'invalid_argument', JSON.stringify(r));
  }
  const after = (await tool(sys, a.key, 'endpoints_get', { endpoint: name })).structuredContent;
  assert.deepEqual(after, before, 'the endpoint is unchanged');
  const sub = (await tool(sys, a.key, 'subscription', {})).structuredContent;
  assert.equal(sub.plan.code, 'free', 'the plan is unchanged');
});

test('help "safety" names where each excluded action is done', async () => {
  const a = await accountWithKey('safety');
  const r = (await tool(sys, a.key, 'help', { topic: 'safety' })).structuredContent;
  for (const path of ['/dashboard', '/settings/ai', '/settings/subscription', '/archives', '/settings/profile']) {
    assert.ok(r.content_md.includes(path), `${path} in: ${r.content_md}`);
  }
  assert.match(r.content_md, /Delete an endpoint/);
  assert.match(r.content_md, /MCP keys/);
  assert.match(r.content_md, /plan/);
  assert.match(r.content_md, /Delete the account/);
});

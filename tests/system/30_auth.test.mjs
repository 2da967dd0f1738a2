// API-key sign-in against a real edge and workers: scopes (listing and 403
// insufficient_scope, MCP.md §7 item 35), revocation within the key cache's
// lifetime, no database query per request for a known key, and the
// per-credential rate limit.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSystem, accountWithKey, createKey, revokeKey, legacy, modern, callTool, listAllTools, tool, sleep,
} from '../lib/system.mjs';

const systems = [];
async function system(opts) {
  const s = await startSystem(opts);
  systems.push(s);
  return s;
}
after(async () => { await Promise.all(systems.map((s) => s.stop())); });

const READ_TOOLS = ['archives_download', 'archives_list', 'collaborators_list_invitations', 'collaborators_list_keys', 'endpoints_get', 'endpoints_list', 'help', 'logs_fetch_archived',
  'logs_lookup', 'logs_search', 'stats', 'subscription'];

test('a read-only key sees only read tools and gets 403 insufficient_scope for a write tool', async () => {
  const sys = await system({ name: 'scopes', workers: 1 });
  const acct = await accountWithKey('scopes');
  const readKey = await createKey(acct, { scopes: 'read', name: 'reader' });

  for (const era of ['legacy', 'modern']) {
    const names = (await listAllTools(sys, readKey, { era })).map((t) => t.name).sort();
    assert.deepEqual(names, READ_TOOLS, era);
    const full = (await listAllTools(sys, acct.key, { era })).map((t) => t.name);
    assert.ok(full.includes('endpoints_create'), 'the full key sees write tools');
  }

  for (const era of ['legacy', 'modern']) {
    const r = await callTool(sys, readKey, 'endpoints_create', { name: 'not allowed' }, { era });
    assert.equal(r.status, 403, era);
    const h = r.headers['www-authenticate'];
    assert.match(h, /^Bearer /);
    assert.match(h, /error="insufficient_scope"/);
    const scope = /scope="([^"]*)"/.exec(h)?.[1];
    assert.ok(scope && scope.split(' ').includes('write'), h);
    assert.ok(h.includes(`resource_metadata="${sys.url}/.well-known/oauth-protected-resource/api/mcp"`), h);
    assert.equal(r.json.error, 'insufficient_scope');
  }
  // nothing was created, and read tools work with the read key
  const list = await tool(sys, readKey, 'endpoints_list', {});
  assert.equal(list.isError, false);
  assert.deepEqual(list.structuredContent.items, []);

  // a key with write but not read cannot list endpoints
  const writeKey = await createKey(acct, { scopes: 'write', name: 'writer' });
  const names = (await listAllTools(sys, writeKey)).map((t) => t.name).sort();
  assert.deepEqual(names, ['collaborators_create_key', 'collaborators_invite', 'collaborators_update_permissions',
    'endpoints_create', 'endpoints_deploy', 'endpoints_update']);
  const r = await callTool(sys, writeKey, 'endpoints_list', {});
  assert.equal(r.status, 403);
  assert.match(r.headers['www-authenticate'], /scope="[^"]*\bread\b/);
});

test('a revoked key stops working within API_KEY_CACHE_MS; other keys keep working', async () => {
  const CACHE_MS = 1000;
  const sys = await system({ name: 'revoke', workers: 1, env: { API_KEY_CACHE_MS: String(CACHE_MS) } });
  const acct = await accountWithKey('revoke');
  const other = await createKey(acct, { name: 'other' });
  assert.equal((await legacy(sys, acct.key, 'tools/list', {})).status, 200);   // now cached
  assert.equal((await legacy(sys, other, 'tools/list', {})).status, 200);

  await revokeKey(acct, acct.key);
  const revokedAt = Date.now();
  let status;
  // Poll until the cache entry expires; it must within CACHE_MS (plus time
  // for the worker round trip).
  while (Date.now() - revokedAt < CACHE_MS + 3000) {
    status = (await legacy(sys, acct.key, 'tools/list', {})).status;
    if (status === 401) break;
    await sleep(50);
  }
  assert.equal(status, 401, 'the revoked key is refused');
  assert.ok(Date.now() - revokedAt <= CACHE_MS + 3000);
  const r = await legacy(sys, acct.key, 'tools/list', {});
  assert.equal(r.status, 401, 'and stays refused');
  assert.match(r.headers['www-authenticate'], /error="invalid_token"/);
  assert.equal((await legacy(sys, other, 'tools/list', {})).status, 200, 'the other key still works');
});

test('a known key needs no database: tools/list works with every worker stopped; an unknown one is 503', async () => {
  const sys = await system({ name: 'cached', workers: 2, env: { REQUEST_DEADLINE_MS: '1500' } });
  const acct = await accountWithKey('cached');
  const unknown = await createKey(acct, { name: 'never-used' });
  assert.equal((await legacy(sys, acct.key, 'tools/list', {})).status, 200);
  await sys.stopWorkers();
  for (let i = 0; i < 5; i++) {
    for (const era of ['legacy', 'modern']) {
      const r = era === 'modern' ? await modern(sys, acct.key, 'tools/list') : await legacy(sys, acct.key, 'tools/list', {});
      assert.equal(r.status, 200, `${era} #${i}`);
      assert.ok(r.json.result.tools.length > 0);
    }
  }
  // A key the edge has not seen needs a worker to check it.
  const r = await legacy(sys, unknown, 'tools/list', {});
  assert.equal(r.status, 503);
  assert.ok(Number(r.headers['retry-after']) > 0);
});

test('the rate limit answers 429 with Retry-After after the burst, per credential', async () => {
  const sys = await system({ name: 'ratelimit', workers: 1, env: { MCP_RATE_LIMIT: '1', MCP_RATE_BURST: '5' } });
  const acct = await accountWithKey('ratelimit');
  const other = await createKey(acct, { name: 'other' });
  const started = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: 12 }, () => legacy(sys, acct.key, 'tools/list', {})));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const ok = results.filter((r) => r.status === 200).length;
  const limited = results.filter((r) => r.status === 429);
  // 5 from the burst, plus what refills (1/s) while the 12 are handled (a loaded
  // machine stretches that time; the bound counts it).
  assert.ok(elapsed < 6, `the 12 requests took ${elapsed.toFixed(2)} s: too slow to see the burst`);
  assert.ok(ok >= 5 && ok <= 5 + Math.ceil(elapsed), `${ok} of 12 passed in ${elapsed.toFixed(2)} s; the burst is 5`);
  assert.ok(limited.length >= 1);
  assert.equal(ok + limited.length, 12);
  for (const r of limited) {
    assert.ok(Number.isInteger(Number(r.headers['retry-after'])) && Number(r.headers['retry-after']) >= 1,
      `Retry-After: ${r.headers['retry-after']}`);
  }
  // another credential has its own bucket
  assert.equal((await legacy(sys, other, 'tools/list', {})).status, 200);
  // the bucket refills at 1/s
  await sleep(Number(limited[0].headers['retry-after']) * 1000);
  assert.equal((await legacy(sys, acct.key, 'tools/list', {})).status, 200);
});

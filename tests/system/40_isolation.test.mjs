// Tenant isolation: account B cannot see or change account A's endpoints
// through any tool, and gets exactly the answer a missing endpoint gets; and
// PostgreSQL's row-level security hides other accounts' rows from the
// worker role even without the workers' own account filter.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, accountWithKey, tool, toolError, psql, unique } from '../lib/system.mjs';

let sys, a, b, epA;

before(async () => {
  sys = await startSystem({ name: 'isolation', workers: 2 });
  a = await accountWithKey('tenant-a');
  b = await accountWithKey('tenant-b');
  const r = await tool(sys, a.key, 'endpoints_create', { name: unique('Secret Ledger'), fields: [{ name: 'amount', type: 'number' }] });
  assert.equal(r.isError, false, JSON.stringify(r));
  epA = r.structuredContent.endpoint;
});
after(async () => { await sys?.stop(); });

// The error of B's call on `ref`, with the reference itself masked so that
// an error about A's endpoint and one about a missing endpoint compare equal.
async function errorAs(key, name, args, ref) {
  const res = await tool(sys, key, name, args);
  const err = toolError(res);
  return { ...err, message: err.message.split(ref).join('<ref>') };
}

test("B's list does not show A's endpoint; A's does", async () => {
  const listA = (await tool(sys, a.key, 'endpoints_list', {})).structuredContent.items;
  assert.ok(listA.some((e) => e.id === epA.id));
  const listB = (await tool(sys, b.key, 'endpoints_list', {})).structuredContent.items;
  assert.deepEqual(listB, []);
  const byQuery = (await tool(sys, b.key, 'endpoints_list', { query: epA.slug })).structuredContent.items;
  assert.deepEqual(byQuery, []);
});

test("B cannot get, update or deploy A's endpoint, and gets exactly the not_found of a missing one", async () => {
  const missing = ['00000000-0000-4000-8000-000000000000', 'no-such-slug', 'No Such Name'];
  const refs = [epA.id, epA.slug, epA.name];
  const ops = [
    ['endpoints_get', (ref) => ({ endpoint: ref })],
    ['endpoints_update', (ref) => ({ endpoint: ref, description: 'taken over' })],
    ['endpoints_update', (ref) => ({ endpoint: ref, fields: [], dry_run: true })],
    ['endpoints_deploy', (ref) => ({ endpoint: ref })],
    ['endpoints_deploy', (ref) => ({ endpoint: ref, dry_run: true })],
  ];
  for (const [name, args] of ops) {
    for (let i = 0; i < refs.length; i++) {
      const foreign = await errorAs(b.key, name, args(refs[i]), refs[i]);
      const absent = await errorAs(b.key, name, args(missing[i]), missing[i]);
      assert.equal(foreign.code, 'not_found', `${name} ${refs[i]}`);
      assert.deepEqual(foreign, absent, `${name}: A's endpoint answers like a missing one`);
    }
  }
  // A's endpoint is untouched
  const mine = (await tool(sys, a.key, 'endpoints_get', { endpoint: epA.id })).structuredContent;
  assert.equal(mine.description, epA.description);
  assert.deepEqual(mine.sandbox.fields, epA.sandbox.fields);
  assert.equal(mine.production.version, 0);
});

test('B may use the same endpoint name as A (names are per account)', async () => {
  const r = await tool(sys, b.key, 'endpoints_create', { name: epA.name });
  assert.equal(r.isError, false, JSON.stringify(r));
  assert.notEqual(r.structuredContent.endpoint.slug, epA.slug, 'slugs are global');
  const mine = (await tool(sys, b.key, 'endpoints_get', { endpoint: epA.name })).structuredContent;
  assert.equal(mine.id, r.structuredContent.endpoint.id, "B's name resolves to B's endpoint");
});

test('row-level security: the worker role sees no rows without app.account_id, and only its account with it', async () => {
  const owner = await psql(`SELECT count(*) FROM endpoints WHERE account_id = '${a.id}'`);
  assert.equal(owner.at(-1), '1', 'the owner role sees A\'s endpoint');
  for (const table of ['endpoints', 'endpoint_configs', 'mcp_api_keys', 'accounts']) {
    const none = await psql(`SELECT count(*) FROM ${table}`, { user: 'tm_worker' });
    assert.equal(none.at(-1), '0', `${table} without app.account_id`);
  }
  const asB = await psql([
    'BEGIN',
    `SELECT set_config('app.account_id', '${b.id}', true)`,
    `SELECT count(*) FROM endpoints WHERE account_id = '${a.id}' OR id = '${epA.id}'`,
    `SELECT count(*) FROM endpoint_configs WHERE account_id = '${a.id}'`,
    `UPDATE endpoints SET description = 'rls breached' WHERE id = '${epA.id}'`,
    `SELECT count(*) FROM endpoints`,
    'COMMIT',
  ], { user: 'tm_worker' });
  assert.deepEqual(asB.slice(1), ['0', '0', '1'], `as B: ${asB}`);
  const asA = await psql([
    'BEGIN',
    `SELECT set_config('app.account_id', '${a.id}', true)`,
    `SELECT count(*) FROM endpoints WHERE id = '${epA.id}'`,
    'COMMIT',
  ], { user: 'tm_worker' });
  assert.equal(asA.at(-1), '1', 'with A\'s id the worker role sees A\'s endpoint');
  const desc = await psql(`SELECT description FROM endpoints WHERE id = '${epA.id}'`);
  assert.notEqual(desc.at(-1), 'rls breached');
  // The worker role cannot write a row into another account.
  await assert.rejects(psql([
    'BEGIN',
    `SELECT set_config('app.account_id', '${b.id}', true)`,
    `INSERT INTO endpoints (account_id, name, slug) VALUES ('${a.id}', 'planted', '${unique('planted')}')`,
    'COMMIT',
  ], { user: 'tm_worker' }), /row-level security/);
});

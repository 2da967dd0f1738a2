// Faults: a worker killed under load loses no request and duplicates none
// (idempotent writes behind nng's at-least-once delivery); with no worker
// left, tools/call fails as a clean tool error within the request deadline
// (MCP.md §7 item 34) and /readyz turns 503 while /healthz stays 200.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, accountWithKey, tool, toolError, request, psql, unique, sleep } from '../lib/system.mjs';

const systems = [];
after(async () => { await Promise.all(systems.map((s) => s.stop())); });

test('SIGKILL of one of 3 workers while 64 clients create endpoints: all succeed, no duplicate, none lost', async () => {
  const sys = await startSystem({ name: 'kill', workers: 3, env: { MCP_RATE_LIMIT: '0' } });
  systems.push(sys);
  const acct = await accountWithKey('kill');
  assert.equal((await request(sys, { method: 'GET', path: '/healthz' })).status, 200);
  assert.equal((await request(sys, { method: 'GET', path: '/readyz' })).status, 200);

  const CLIENTS = 64, EACH = 5, KILL_AFTER = 48;
  const tag = unique('bulk');
  const names = [];
  const failures = [];
  let done = 0, killed = null;
  const client = async (c) => {
    for (let j = 0; j < EACH; j++) {
      const name = `${tag} c${c} n${j}`;
      names.push(name);
      try {
        const res = await tool(sys, acct.key, 'endpoints_create', { name, fields: [{ name: 'n', type: 'number' }] });
        if (res.isError) failures.push(`${name}: ${res.content[0].text}`);
        else if (res.structuredContent.endpoint.name !== name) failures.push(`${name}: answered ${res.structuredContent.endpoint.name}`);
      } catch (e) {
        failures.push(`${name}: ${e.message}`);
      }
      if (++done === KILL_AFTER) killed = sys.killWorker(1);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  assert.ok(killed, 'the worker was killed during the run');
  const exit = await killed;
  assert.equal(exit.signal, 'SIGKILL');
  assert.deepEqual(failures, [], `failed requests:\n${failures.slice(0, 10).join('\n')}\n${sys.logs()}`);

  const rows = await psql(`SELECT name FROM endpoints WHERE account_id = '${acct.id}' AND deleted_at IS NULL ORDER BY name`);
  assert.equal(rows.length, CLIENTS * EACH, 'one endpoint per request');
  assert.deepEqual(rows, [...names].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)), 'exactly the names sent, each once');
  const configs = await psql(`SELECT count(*) FROM endpoint_configs WHERE account_id = '${acct.id}'`);
  assert.equal(configs.at(-1), String(CLIENTS * EACH * 2), 'a sandbox and a production row each');
  // The two live workers still serve.
  assert.equal(sys.liveWorkers().length, 2);
  const list = await tool(sys, acct.key, 'endpoints_list', { query: tag, limit: 100 });
  assert.equal(list.isError, false);
});

test('34: with every worker gone, tools/call is an isError "unavailable" within REQUEST_DEADLINE_MS; /readyz 503, /healthz 200', async () => {
  const DEADLINE = 1500;
  const sys = await startSystem({ name: 'noworkers', workers: 2, env: { REQUEST_DEADLINE_MS: String(DEADLINE) } });
  systems.push(sys);
  const acct = await accountWithKey('noworkers');
  assert.equal((await tool(sys, acct.key, 'endpoints_list', {})).isError, false);   // the key is now cached
  await sys.stopWorkers();

  for (const era of ['legacy', 'modern']) {
    const t0 = Date.now();
    const res = await tool(sys, acct.key, 'endpoints_create', { name: unique('too late') }, { era });
    const elapsed = Date.now() - t0;
    const err = toolError(res);
    assert.equal(err.code, 'unavailable', era);
    assert.ok(elapsed < DEADLINE + 1000, `answered after ${elapsed} ms`);
    assert.equal(res.structuredContent, undefined);
    const text = res.content[0].text;
    assert.doesNotMatch(text, /\.c:\d+|\bat [\w.]+ \(|Traceback|SQLSTATE|postgres|nng/i, `no internals leaked: ${text}`);
  }

  assert.equal((await request(sys, { method: 'GET', path: '/healthz' })).status, 200);
  const r = await sys.waitReady(503, 15000);
  assert.equal(r.json.workers_answering, false);

  // A worker started again makes the system ready and serving.
  sys.startWorker();
  await sys.waitReady(200, 30000);
  const ok = await tool(sys, acct.key, 'endpoints_list', {});
  assert.equal(ok.isError, false);
});

test('a worker restarted under light load rejoins without errors', async () => {
  const sys = await startSystem({ name: 'restart', workers: 2, env: { MCP_RATE_LIMIT: '0' } });
  systems.push(sys);
  const acct = await accountWithKey('restart');
  let stop = false;
  const errors = [];
  let calls = 0;
  const load = (async () => {
    while (!stop) {
      try {
        const res = await tool(sys, acct.key, 'endpoints_create', { name: unique('rolling') });
        if (res.isError) errors.push(res.content[0].text);
      } catch (e) {
        errors.push(e.message);
      }
      calls++;
    }
  })();
  await sleep(200);
  await sys.restartWorker(0);   // SIGTERM: finishes what it runs
  await sleep(300);
  await sys.restartWorker(1);
  await sleep(300);
  stop = true;
  await load;
  assert.deepEqual(errors, []);
  assert.ok(calls > 10, `${calls} calls`);
  for (const w of sys.workers) assert.ok(w.running);
});

// Graceful shutdown of the edge: SIGTERM with requests in flight lets them
// complete, refuses new connections, and exits 0.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, accountWithKey, tool, legacy, request, unique, sleep } from '../lib/system.mjs';

let sys;
after(async () => { await sys?.stop(); });

test('SIGTERM to the edge with requests in flight: they complete, then the edge exits 0', async () => {
  sys = await startSystem({ name: 'drain', workers: 1, env: { MCP_RATE_LIMIT: '0' } });
  const acct = await accountWithKey('drain');
  assert.equal((await tool(sys, acct.key, 'endpoints_list', {})).isError, false);   // key cached

  // Hold the only worker so the calls stay in flight at the edge.
  const worker = sys.workers[0];
  worker.signal('SIGSTOP');
  const N = 10;
  const names = Array.from({ length: N }, () => unique('drain'));
  const calls = names.map((name) => tool(sys, acct.key, 'endpoints_create', { name }, { keepAlive: false }));
  // Wait until the edge has every call in flight.
  let inflight = 0;
  for (let i = 0; i < 200 && inflight < N; i++) {
    inflight = (await request(sys, { method: 'GET', path: '/readyz', keepAlive: false })).json.in_flight;
    if (inflight < N) await sleep(25);
  }
  assert.ok(inflight >= N, `in flight: ${inflight}`);

  sys.edge.signal('SIGTERM');
  await sleep(300);
  assert.ok(sys.edge.running, 'the edge waits for the calls in flight');
  // No new connections once draining.
  await assert.rejects(legacy(sys, acct.key, 'ping', {}, { keepAlive: false, timeoutMs: 2000 }));

  worker.signal('SIGCONT');
  const results = await Promise.all(calls);
  for (let i = 0; i < N; i++) {
    assert.equal(results[i].isError, false, JSON.stringify(results[i]));
    assert.equal(results[i].structuredContent.endpoint.name, names[i]);
  }
  const exit = await sys.edge.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, sys.edge.tail());
});

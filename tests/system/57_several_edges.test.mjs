// Several edges on one machine (docs/DESIGN.md "Several edges"): one worker
// dials both edges listed in EDGE_URLS over TCP and serves both, and with
// EDGE_COUNT=2 the per-credential rate limit holds across the two edges: a
// burst spread over both gets the configured burst in all, not twice it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, accountWithKey, tool, legacy, freePort } from '../lib/system.mjs';

const systems = [];
after(async () => { for (const s of systems.reverse()) await s.stop(); });

test('one worker serves two edges; EDGE_COUNT=2 makes two edges together allow MCP_RATE_BURST, not twice it', async () => {
  const [pa, pb] = [await freePort(), await freePort()];
  const urls = `tcp://127.0.0.1:${pa},tcp://127.0.0.1:${pb}`;
  const common = { EDGE_URLS: urls, EDGE_COUNT: '2', MCP_RATE_LIMIT: '2', MCP_RATE_BURST: '10' };
  const b = await startSystem({ name: 'two-b', workers: 0, env: { ...common, WORKER_LISTEN: `tcp://127.0.0.1:${pb}` } });
  systems.push(b);
  const a = await startSystem({ name: 'two-a', workers: 1, env: { ...common, WORKER_LISTEN: `tcp://127.0.0.1:${pa}` } });
  systems.push(a);
  await b.waitReady(200, 20000);   // the worker started with `a` dials `b` too

  const acct = await accountWithKey('two-edges');
  // A burst over both edges at once: 12 requests to each.
  const send = (sys) => legacy(sys, acct.key, 'tools/list', {});
  const started = process.hrtime.bigint();
  const answers = await Promise.all([...Array(12)].flatMap(() => [send(a), send(b)]));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const okA = answers.filter((r, i) => i % 2 === 0 && r.status === 200).length;
  const okB = answers.filter((r, i) => i % 2 === 1 && r.status === 200).length;
  const limited = answers.filter((r) => r.status === 429);
  assert.equal(okA + okB + limited.length, 24, answers.map((r) => r.status).join(' '));
  // Each edge holds half the burst (5), plus what refills at its half of the rate (1/s)
  // while the burst lasts: a loaded machine stretches the burst, so the bound counts it.
  // Without the division each edge would allow its whole burst of 10.
  const refill = Math.ceil(elapsed);
  assert.ok(refill <= 4, `the burst took ${elapsed.toFixed(2)} s: too slow to tell 5 from 10`);
  assert.ok(okA >= 5 && okA <= 5 + refill && okB >= 5 && okB <= 5 + refill,
    `allowed ${okA} at a and ${okB} at b in ${elapsed.toFixed(2)} s`);
  assert.ok(limited.every((r) => Number(r.headers['retry-after']) >= 1), 'Retry-After on every 429');

  // Both edges reach the one worker (a fresh key each time: the other's tokens are spent).
  for (const sys of [a, b]) {
    const other = await accountWithKey('two-edges-call');
    const res = await tool(sys, other.key, 'endpoints_list', {});
    assert.equal(res.isError, false, JSON.stringify(res));
  }
});

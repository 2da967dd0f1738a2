// PostgreSQL stopped and restarted under load, on a cluster of this test's
// own (the suite's shared cluster must stay up for the other files): workers
// reconnect by themselves; a call during the outage is a clear `unavailable`
// tool error within REQUEST_DEADLINE_MS, never a hang; an API key that cannot
// be resolved while the database is down is 503 with Retry-After, not 401;
// nothing that was answered as done is lost and nothing is applied twice.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSystem, tool, legacy, unique, sleep, BIN_DIR, PSQL } from '../lib/system.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), '3min-pgr-'));
let sys;

function sh(script, env = {}) {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', `source "${ROOT}/tests/lib/pg.sh"; ${script}`], { env: { ...process.env, ...env }, timeout: 120000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${script}: ${stderr}`)) : resolve(stdout.trim())));
  });
}

function run(bin, args, env) {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env: { ...process.env, ...env }, timeout: 60000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${bin} ${args.join(' ')}: ${stderr}`)) : resolve(stdout.trim())));
  });
}

after(async () => {
  await sys?.stop();
  await sh(`pg_destroy "${dir}"`).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

test('PostgreSQL stopped, started and restarted under load: unavailable within the deadline, 503 for an unresolvable key, workers reconnect, each write once', async (t) => {
  const url = await sh(`pg_start "${dir}" >/dev/null && printf '%s' "$DATABASE_URL"`);
  const env = { DATABASE_URL: url };
  await run(join(BIN_DIR, '3min'), ['migrate'], env);
  const email = `${unique('pgr')}@example.com`;
  const acctId = await run(join(BIN_DIR, '3min'), ['account', 'create', '--email', email, '--password', 'correct horse battery'], env);
  const key = await run(join(BIN_DIR, '3min'), ['mcp-key', 'create', '--email', email], env);
  const freshKey = await run(join(BIN_DIR, '3min'), ['mcp-key', 'create', '--email', email, '--name', 'never used'], env);

  const DEADLINE = 3000;
  sys = await startSystem({ name: 'pgr', workers: 3, env: { DATABASE_URL: url, REQUEST_DEADLINE_MS: String(DEADLINE), MCP_RATE_LIMIT: '0' } });
  assert.equal((await tool(sys, key, 'endpoints_list', {})).isError, false);   // the key is cached

  const tag = unique('pg');
  const outcome = new Map();   // name -> 'ok' | 'unavailable'
  const problems = [];
  let slowest = 0, stop = false, okAfterStart = 0, phase = 'before';
  const client = async (c) => {
    for (let j = 0; !stop; j++) {
      const name = `${tag} c${c} n${j}`;
      const t0 = Date.now();
      try {
        const res = await tool(sys, key, 'endpoints_create', { name }, { timeoutMs: DEADLINE + 5000 });
        if (!res.isError) {
          outcome.set(name, 'ok');
          if (phase === 'after') okAfterStart++;
        } else {
          const err = JSON.parse(res.content[0].text).error;
          if (err.code !== 'unavailable') problems.push(`${name}: ${err.code} ${err.message}`);
          assert.doesNotMatch(err.message, /SQLSTATE|postgres|libpq|\.c:\d+/i, 'no internals in the message');
          outcome.set(name, 'unavailable');
          await sleep(50);
        }
      } catch (e) {
        problems.push(`${name}: ${e.message}`);
      }
      slowest = Math.max(slowest, Date.now() - t0);
    }
  };
  const clients = Array.from({ length: 6 }, (_, c) => client(c));
  await sleep(500);

  // An outage: the server is stopped (fast: sessions are cut off).
  phase = 'down';
  await sh(`pg_stop "${dir}"`);
  await sleep(800);
  const r = await legacy(sys, freshKey, 'tools/call', { name: 'endpoints_list', arguments: {} }, { timeoutMs: DEADLINE + 5000 });
  assert.equal(r.status, 503, `an unresolvable key while the database is down: ${r.status} ${r.text}`);
  assert.ok(Number(r.headers['retry-after']) > 0, 'Retry-After is set');
  const during = [...outcome.values()].filter((v) => v === 'unavailable').length;
  assert.ok(during > 0, 'calls during the outage were answered unavailable');

  // Back: the workers reconnect by themselves.
  await sh(`pg_start "${dir}" >/dev/null`);
  phase = 'after';
  const end = Date.now() + 15000;
  while (okAfterStart < 10 && Date.now() < end) await sleep(100);
  assert.ok(okAfterStart >= 10, `calls succeed again after the start (${okAfterStart})\n${sys.logs()}`);

  // A restart as an operator does it.
  okAfterStart = 0;
  await sh(`_pg_as "$PG_BIN/pg_ctl" -D "$(_pg_base "${dir}")/data" -m fast -w restart >/dev/null`);
  const end2 = Date.now() + 15000;
  while (okAfterStart < 10 && Date.now() < end2) await sleep(100);
  assert.ok(okAfterStart >= 10, `calls succeed again after the restart (${okAfterStart})`);
  stop = true;
  await Promise.all(clients);

  t.diagnostic(`${outcome.size} calls, ${[...outcome.values()].filter((v) => v === 'ok').length} ok, slowest ${slowest} ms`);
  assert.deepEqual(problems, [], problems.slice(0, 10).join('\n'));
  assert.ok(slowest < DEADLINE + 1500, `slowest call ${slowest} ms (deadline ${DEADLINE})`);
  // The fresh key works now that the database is back. A worker thread
  // whose reconnection is still in its backoff (at most 2 s) answers
  // unavailable meanwhile, so a client retrying for a few seconds gets in.
  // Both refusals are retryable: 503 while the key cannot be resolved, and a
  // tool result `unavailable` from a thread still waiting to reconnect.
  let fresh;
  const retryable = (res) => res.status === 503 ||
    (res.status === 200 && res.json.result?.isError && JSON.parse(res.json.result.content[0].text).error.code === 'unavailable');
  for (let i = 0; i < 50; i++) {
    fresh = await legacy(sys, freshKey, 'tools/call', { name: 'endpoints_list', arguments: {} });
    if (fresh.status === 200 && fresh.json.result?.isError === false) break;
    assert.ok(retryable(fresh), fresh.text);
    await sleep(100);
  }
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal(fresh.json.result.isError, false, fresh.text);

  const rows = (await run(PSQL, [url, '-XtAq', '-c', `SELECT name FROM endpoints WHERE account_id = '${acctId}' AND name LIKE '${tag}%'`], {}))
    .split('\n').filter(Boolean);
  assert.equal(new Set(rows).size, rows.length, 'no name stored twice');
  for (const [name, v] of outcome) {
    if (v === 'ok') assert.ok(rows.includes(name), `${name} was answered as created and is stored`);
  }
  for (const name of rows) assert.ok(outcome.has(name), `${name} was sent`);
  for (const w of sys.workers) assert.ok(w.running, 'no worker died');
});

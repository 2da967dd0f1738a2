// More faults (docs/DESIGN.md "Edge dispatch", "Faults"): a worker that hangs
// (SIGSTOP) holds no request hostage; the edge restarted under a retrying
// client; SIGTERM to a worker or to bin/jobs drains what it runs; `make run`
// restarts a worker or jobs process that dies. Each shows nothing lost and
// nothing applied twice.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startSystem, startMakeRun, accountWithKey, tool, legacy, request, psql, unique, sleep, run3min, BIN_DIR } from '../lib/system.mjs';

const systems = [];
after(async () => { await Promise.all(systems.map((s) => s.stop())); });

// Each call's time to its answer; calls fail the test only at the end, with all failures listed.
async function timedCreate(sys, key, name, failures, times) {
  const t0 = Date.now();
  try {
    const res = await tool(sys, key, 'endpoints_create', { name });
    if (res.isError) failures.push(`${name}: ${res.content[0].text}`);
    else if (res.structuredContent.endpoint.name !== name) failures.push(`${name}: answered ${res.structuredContent.endpoint.name}`);
  } catch (e) {
    failures.push(`${name}: ${e.message}`);
  }
  times.push(Date.now() - t0);
}

async function namesOf(acct) {
  return psql(`SELECT name FROM endpoints WHERE account_id = '${acct.id}' AND deleted_at IS NULL ORDER BY name`);
}

const sorted = (a) => [...a].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

test('SIGSTOP of one of 3 workers under load: every call answered within 5 s, none lost, none applied twice (also after SIGCONT)', async (t) => {
  const sys = await startSystem({ name: 'stop', workers: 3, env: { MCP_RATE_LIMIT: '0' } });
  systems.push(sys);
  const acct = await accountWithKey('stop');
  assert.equal((await tool(sys, acct.key, 'endpoints_list', {})).isError, false);   // the key is cached

  const CLIENTS = 24, EACH = 12, STOP_AFTER = 60;
  const tag = unique('hang');
  const names = [], failures = [], times = [];
  let done = 0;
  const stopped = sys.workers[1];
  const client = async (c) => {
    for (let j = 0; j < EACH; j++) {
      const name = `${tag} c${c} n${j}`;
      names.push(name);
      await timedCreate(sys, acct.key, name, failures, times);
      if (++done === STOP_AFTER) stopped.signal('SIGSTOP');
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  assert.deepEqual(failures, [], `failed calls:\n${failures.slice(0, 10).join('\n')}\n${sys.logs()}`);
  const slowest = Math.max(...times);
  t.diagnostic(`slowest call ${slowest} ms of ${times.length}`);
  assert.ok(slowest < 5000, `slowest call ${slowest} ms\n${sys.logs()}`);
  // Either the frozen worker held jobs and the edge took them back, or it held none and nobody waited.
  const edgeLog = readFileSync(sys.edge.logPath, 'utf8');
  assert.ok(/silent for \d+ ms with a job/.test(edgeLog) || slowest < 1000, `slowest ${slowest} ms and no take-back logged`);
  assert.deepEqual(await namesOf(acct), sorted(names), 'exactly the names sent, each once');

  // The frozen worker runs its stale jobs when it wakes: still one endpoint per name.
  stopped.signal('SIGCONT');
  await sleep(1500);
  assert.ok(stopped.running, 'the worker survived its pause');
  assert.deepEqual(await namesOf(acct), sorted(names), 'still each once after SIGCONT');
  const again = await tool(sys, acct.key, 'endpoints_list', { query: tag, limit: 5 });
  assert.equal(again.isError, false);
});

test('the edge restarted: a client that retries succeeds, and the running workers serve the new edge', async () => {
  const sys = await startSystem({ name: 'edgerestart', workers: 2, env: { MCP_RATE_LIMIT: '0' } });
  systems.push(sys);
  const acct = await accountWithKey('edgerestart');
  const workerPids = sys.workers.map((w) => w.pid);
  const tag = unique('edge');
  const names = [];
  let stop = false, ok = 0, retries = 0;
  const failures = [];
  // A client as a person writes one: on a connection error or a 503, wait and retry.
  const client = async (c) => {
    for (let j = 0; !stop; j++) {
      const name = `${tag} c${c} n${j}`;
      for (let attempt = 0; ; attempt++) {
        if (attempt > 100) { failures.push(`${name}: gave up`); return; }
        try {
          const r = await legacy(sys, acct.key, 'tools/call', { name: 'endpoints_create', arguments: { name } }, { timeoutMs: 10000 });
          if (r.status === 200 && r.json.result && !r.json.result.isError) { names.push(name); ok++; break; }
          if (r.status === 200 && r.json.result?.isError) {
            const err = JSON.parse(r.json.result.content[0].text).error;
            // A call cut off by the restart may have been applied: retrying
            // the same name then finds it, which is not a failure here.
            if (err.code === 'conflict' || err.code === 'already_exists') { names.push(name); break; }
            if (err.code !== 'unavailable') { failures.push(`${name}: ${err.code}`); return; }
          }
        } catch { /* the edge is down: retry */ }
        retries++;
        await sleep(100);
      }
    }
  };
  const clients = Array.from({ length: 4 }, (_, c) => client(c));
  await sleep(500);
  const exit = await sys.edge.stop();
  assert.deepEqual(exit, { code: 0, signal: null }, sys.edge.tail());
  await sleep(300);
  sys.startEdge();
  await sys.waitReady(200, 20000);
  const before = ok;
  await sleep(700);
  stop = true;
  await Promise.all(clients);
  assert.deepEqual(failures, []);
  assert.ok(ok > before, `calls succeeded after the restart (${before} before, ${ok} in all, ${retries} retries)`);
  assert.deepEqual(sys.workers.map((w) => w.pid), workerPids, 'the same workers');
  for (const w of sys.workers) assert.ok(w.running);
  const rows = await namesOf(acct);
  assert.equal(new Set(rows).size, rows.length, 'no name twice');
  for (const n of names) assert.ok(rows.includes(n), `${n} is stored`);
});

test('rolling restart of all 3 workers (SIGTERM, then a new one) under load: no failed call, each write once', async () => {
  const sys = await startSystem({ name: 'rolling', workers: 3, env: { MCP_RATE_LIMIT: '0' } });
  systems.push(sys);
  const acct = await accountWithKey('rolling');
  const tag = unique('roll');
  const names = [], failures = [], times = [];
  let stop = false;
  const client = async (c) => {
    for (let j = 0; !stop; j++) {
      const name = `${tag} c${c} n${j}`;
      names.push(name);
      await timedCreate(sys, acct.key, name, failures, times);
    }
  };
  const clients = Array.from({ length: 8 }, (_, c) => client(c));
  await sleep(300);
  for (let i = 0; i < 3; i++) {
    const old = sys.workers[i];
    const w = await sys.restartWorker(i);
    assert.deepEqual(old.exit, { code: 0, signal: null }, `worker ${i + 1} drained and exited 0\n${old.tail()}`);
    assert.ok(w.running);
    await sleep(400);
  }
  stop = true;
  await Promise.all(clients);
  assert.deepEqual(failures, [], `failed calls:\n${failures.slice(0, 10).join('\n')}`);
  assert.ok(names.length > 30, `${names.length} calls`);
  assert.deepEqual(await namesOf(acct), sorted(names));
});

test('make run restarts a worker and the jobs process that die; the platform keeps serving', async () => {
  const run = await startMakeRun({ name: 'make-run-restart', workers: 2 });
  try {
    // The whole log (run.logs() keeps only its tail, which the build fills).
    const logPath = run.logs().match(/^--- (.*) ---$/m)[1];
    const logs = () => readFileSync(logPath, 'utf8');
    const workerPids = () => [...logs().matchAll(/worker (\d+)\b[^\n]*started: pid/g)].map((m) => Number(m[1]));
    await waitFor(() => workerPids().length >= 2, 20000, 'two workers to start');
    const jobsPid = await waitFor(() => Number(logs().match(/jobs (\d+)\b[^\n]*started: pid/)?.[1]) || null, 20000, 'the jobs process to start');
    process.kill(workerPids()[0], 'SIGKILL');   // a process make run started for this test
    await waitFor(() => /worker \d exited with status/.test(logs()), 10000, 'the worker exit to be noticed');
    await waitFor(() => workerPids().length >= 3, 15000, 'a new worker');
    process.kill(jobsPid, 'SIGKILL');
    await waitFor(() => /jobs exited with status/.test(logs()), 10000, 'the jobs exit to be noticed');
    await waitFor(() => [...logs().matchAll(/jobs (\d+)\b[^\n]*started: pid/g)].some((m) => Number(m[1]) !== jobsPid), 15000,
      'jobs to start again');
    const key = logs().match(/tm_mcp_[A-Za-z0-9_-]{43}/)[0];
    const r = await legacy(run, key, 'tools/call', { name: 'endpoints_list', arguments: {} });
    assert.equal(r.status, 200);
    assert.equal(r.json.result.isError, false, JSON.stringify(r.json));
  } finally {
    await run.stop();   // its jobs process shares the test database: it must not outlive this test
  }
});

async function waitFor(fn, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('SIGTERM to bin/jobs during a webhook delivery: the delivery completes and is recorded once, then jobs exits 0', async () => {
  const sys = await startSystem({ name: 'jobsdrain', workers: 1, env: { ALLOW_PRIVATE_WEBHOOKS: '1' } });
  systems.push(sys);
  // A receiver that answers 200 only after 1.5 s, so the delivery is in hand when SIGTERM comes.
  const got = [];
  let arrived;
  const inHand = new Promise((r) => { arrived = r; });
  const rx = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      got.push(req.headers['x-3minapi-delivery']);
      arrived();
      setTimeout(() => { res.writeHead(200); res.end('ok'); }, 1500);
    });
  });
  await new Promise((r) => rx.listen(0, '127.0.0.1', r));
  try {
    const acct = await accountWithKey('jobsdrain');
    const r = await tool(sys, acct.key, 'endpoints_create', { name: unique('drain form'), fields: [{ name: 'email', type: 'string' }] });
    assert.equal(r.isError, false, JSON.stringify(r));
    const slug = r.structuredContent.endpoint.slug;
    // `3min endpoint keys` opens the stored secrets with the system's key file.
    const saved = process.env.STATE_DIR;
    process.env.STATE_DIR = sys.stateDir;
    let keys;
    try {
      keys = await run3min(['endpoint', 'keys', '--email', acct.email, '--endpoint', slug]);
    } finally {
      if (saved === undefined) delete process.env.STATE_DIR; else process.env.STATE_DIR = saved;
    }
    const gatewayKey = keys.match(/tm_test_[A-Za-z0-9_-]{43}/)[0];
    const post = await request(sys, {
      method: 'POST', path: `/api/v1/data/${slug}`, body: { email: 'a@example.com' },
      headers: { Authorization: `Bearer ${gatewayKey}`, 'Content-Type': 'application/json',
        'X-Webhook-Callback': `http://127.0.0.1:${rx.address().port}/hook` },
    });
    assert.equal(post.status, 202, post.text);

    const child = spawn(join(BIN_DIR, 'jobs'), [], { env: sys.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => { err += c; });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    await Promise.race([inHand, sleep(20000)]);
    assert.equal(got.length, 1, `the delivery reached the receiver\n${err}`);
    child.kill('SIGTERM');
    const exit = await Promise.race([exited, sleep(15000).then(() => 'timeout')]);
    if (exit === 'timeout') child.kill('SIGKILL');
    assert.deepEqual(exit, { code: 0, signal: null }, err);
    const rows = await psql(`SELECT status || '|' || attempt || '|' || coalesce(response_status::text, '') FROM webhook_deliveries WHERE id = '${got[0]}'`);
    assert.deepEqual(rows, ['delivered|1|200'], `the delivery in hand was finished and recorded\n${err}`);
    assert.equal(got.length, 1, 'delivered once');
  } finally {
    await new Promise((r) => rx.close(r));
  }
});


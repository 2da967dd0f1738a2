// Observability (docs/OBSERVABILITY.md): GET /metrics on the edge in the
// Prometheus text format, with bounded route labels, tool call counters,
// latency histograms, dispatch gauges and the workers' metrics under a
// `worker` label; who may read it; and the request id that an HTTP client
// gets as X-Request-Id and that appears in the edge's and the worker's JSON
// logs and in the worker's database transaction.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import {
  BIN_DIR, LOG_DIR, startSystem, accountWithKey, freePort, callTool, tool, toolError, request, psql, unique, sleep,
} from '../lib/system.mjs';

let sys, acct;

before(async () => {
  sys = await startSystem({
    name: 'metrics', workers: 2,
    env: { LOG_FORMAT: 'json', LOG_LEVEL: 'debug', ACCESS_LOG: '1', MCP_RATE_BURST: '1000' },
  });
  acct = await accountWithKey('metrics');
});
after(async () => {
  await psql(['DROP TRIGGER IF EXISTS metrics_test_rid ON endpoints', 'DROP FUNCTION IF EXISTS metrics_test_rid()',
    'DROP TABLE IF EXISTS metrics_test_rids']).catch(() => {});
  await sys?.stop();
});

// ---- the exposition format -------------------------------------------------

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;

// Parses a 0.0.4 exposition strictly: throws on a line it does not understand.
function parse(text) {
  const samples = [];
  const types = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [, name, type] = line.split(' ').slice(1);
      assert.ok(!types.has(name), `TYPE of ${name} given twice: a family must be one group`);
      types.set(name, type);
      continue;
    }
    const m = SAMPLE_RE.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = {};
    if (m[2]) {
      LABEL_RE.lastIndex = 0;
      let consumed = 0;
      let l;
      while ((l = LABEL_RE.exec(m[2]))) {
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        consumed = LABEL_RE.lastIndex;
      }
      assert.equal(consumed, m[2].length, `bad labels: ${line}`);
    }
    const value = Number(m[3].replace('+Inf', 'Infinity'));
    assert.ok(!Number.isNaN(value), `bad value: ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, types };
}

async function scrape(headers = {}) {
  const r = await request(sys, { method: 'GET', path: '/metrics', headers });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return { ...parse(r.text), text: r.text };
}

// The sum of the samples of `name` whose labels include `want`.
function sum(m, name, want = {}) {
  return m.samples
    .filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

// Polls /metrics until pred(metrics) holds.
async function scrapeUntil(pred, what, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  let m;
  while (Date.now() < end) {
    m = await scrape();
    if (pred(m)) return m;
    await sleep(200);
  }
  assert.fail(`${what} not seen on /metrics within ${timeoutMs} ms:\n${m?.text}`);
}

test('/metrics is Prometheus text with the edge gauges and build info', async () => {
  const m = await scrapeUntil((x) => sum(x, 'tm_workers_connected') === 2, 'two connected workers');
  for (const [name, type] of [
    ['tm_http_requests_total', 'counter'], ['tm_http_request_duration_seconds', 'histogram'],
    ['tm_http_requests_in_flight', 'gauge'], ['tm_tool_calls_total', 'counter'],
    ['tm_tool_call_duration_seconds', 'histogram'], ['tm_dispatch_in_flight', 'gauge'],
    ['tm_dispatch_queue_depth', 'gauge'], ['tm_dispatch_idle_threads', 'gauge'], ['tm_workers_connected', 'gauge'],
    ['tm_workers_ready', 'gauge'], ['tm_build_info', 'gauge'],
  ]) assert.equal(m.types.get(name), type, name);
  await scrapeUntil((x) => sum(x, 'tm_dispatch_idle_threads') >= 1, 'an idle worker thread waiting for a job');
  assert.equal(sum(m, 'tm_workers_ready'), 1);
  assert.equal(sum(m, 'tm_dispatch_queue_depth'), 0);
  assert.ok(sum(m, 'tm_http_requests_in_flight') >= 1, 'the scrape itself is in flight');
  const build = m.samples.find((s) => s.name === 'tm_build_info' && s.labels.service === 'edge');
  assert.match(build.labels.version, /^\d+\.\d+\.\d+/);
  assert.equal(build.value, 1);
});

test('requests are counted by route pattern, method and status; unknown paths share one label', async () => {
  const before = await scrape();
  const junk = `zz${randomBytes(6).toString('hex')}`;
  for (let i = 0; i < 3; i++) assert.equal((await request(sys, { method: 'GET', path: '/healthz' })).status, 200);
  assert.equal((await request(sys, { method: 'GET', path: `/${junk}` })).status, 404);
  assert.equal((await request(sys, { method: 'GET', path: `/api/v1/data/${junk}/1` })).status !== 200, true);
  assert.equal((await request(sys, { method: 'DELETE', path: `/${junk}/x?${junk}=1` })).status, 404);
  const after = await scrape();

  const d = (name, labels) => sum(after, name, labels) - sum(before, name, labels);
  assert.equal(d('tm_http_requests_total', { route: '/healthz', method: 'GET', status: '200' }), 3);
  assert.equal(d('tm_http_requests_total', { route: 'other', method: 'GET', status: '404' }), 1);
  assert.equal(d('tm_http_requests_total', { route: 'other', method: 'DELETE', status: '404' }), 1);
  assert.equal(d('tm_http_requests_total', { route: '/api/v1/data/*', method: 'GET' }), 1);
  assert.ok(!after.text.includes(junk), 'a raw path never becomes a label value');
  const routes = new Set(after.samples.filter((s) => s.name === 'tm_http_requests_total').map((s) => s.labels.route));
  for (const r of routes) assert.match(r, /^(\/[a-z0-9./-]*(\*)?|other)$/, `route label ${r}`);

  // The latency histogram moved by the same requests, and is cumulative.
  assert.equal(d('tm_http_request_duration_seconds_count', { route: '/healthz' }), 3);
  assert.ok(d('tm_http_request_duration_seconds_sum', { route: '/healthz' }) > 0);
  const buckets = after.samples
    .filter((s) => s.name === 'tm_http_request_duration_seconds_bucket' && s.labels.route === '/healthz');
  assert.equal(buckets.at(-1).labels.le, '+Inf');
  assert.equal(buckets.at(-1).value, sum(after, 'tm_http_request_duration_seconds_count', { route: '/healthz' }));
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(Number(buckets[i].labels.le.replace('+Inf', 'Infinity')) > Number(buckets[i - 1].labels.le));
    assert.ok(buckets[i].value >= buckets[i - 1].value, 'buckets are cumulative');
  }
});

test('tool calls are counted by tool and outcome, with a latency histogram', async (t) => {
  const before = await scrape();
  await tool(sys, acct.key, 'endpoints_list', {});
  await tool(sys, acct.key, 'endpoints_list', {});
  const bad = await tool(sys, acct.key, 'endpoints_create', { name: 'x', colour: 'blue' });
  assert.equal(toolError(bad).code, 'invalid_argument');
  const missing = await tool(sys, acct.key, 'endpoints_get', { endpoint: 'no-such-endpoint-anywhere' });
  assert.equal(toolError(missing).code, 'not_found');
  const after = await scrape();

  const d = (name, labels) => sum(after, name, labels) - sum(before, name, labels);
  assert.equal(d('tm_tool_calls_total', { tool: 'endpoints_list', outcome: 'ok' }), 2);
  assert.equal(d('tm_tool_calls_total', { tool: 'endpoints_create', outcome: 'invalid_argument' }), 1);
  assert.equal(d('tm_tool_calls_total', { tool: 'endpoints_get', outcome: 'not_found' }), 1);
  assert.equal(d('tm_tool_call_duration_seconds_count', { tool: 'endpoints_list' }), 2);
  assert.equal(d('tm_http_requests_total', { route: '/api/mcp', method: 'POST', status: '200' }), 4);

  // The workers' own counters arrive through the edge, one `worker` label per process.
  const m = await scrapeUntil((x) => {
    const workers = new Set(x.samples.filter((s) => s.name === 'tm_worker_threads').map((s) => s.labels.worker));
    return workers.size === 2
      && sum(x, 'tm_worker_requests_total', { op: 'tool', name: 'endpoints_list', outcome: 'ok' })
        >= sum(after, 'tm_tool_calls_total', { tool: 'endpoints_list', outcome: 'ok' });
  }, 'both workers\' tool counters');
  assert.equal(m.types.get('tm_worker_requests_total'), 'counter');
  assert.equal(m.types.get('tm_worker_request_duration_seconds'), 'histogram');
  assert.equal(sum(m, 'tm_workers_reporting'), 2);
  for (const s of m.samples.filter((x) => x.name.startsWith('tm_worker_'))) assert.match(s.labels.worker, /^.+:\d+$/);
  assert.equal(sum(m, 'tm_worker_threads'), 2 * 4, 'WORKER_THREADS (4) per worker');
  // The edge's heartbeats and metrics asks are not counted as work, nor as in flight.
  assert.ok(!m.samples.some((s) => s.name === 'tm_worker_requests_total' && s.labels.name.startsWith('health.')));
  assert.ok(sum(m, 'tm_worker_requests_total', { op: 'auth', name: 'auth.resolve_mcp_key' }) >= 1, 'the key lookup');
  assert.equal(sum(m, 'tm_dispatch_in_flight'), 0);

  // Prometheus's own linter accepts the whole page, workers' families included.
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: m.text, encoding: 'utf8' });
  if (lint.error?.code === 'ENOENT') {
    t.diagnostic('promtool is not installed: the page was checked by this file\'s parser only');
  } else {
    assert.equal(lint.status, 0, `promtool check metrics:\n${lint.stdout}${lint.stderr}`);
  }
});

test('/metrics: loopback only by default, never through a proxy; GET only', async () => {
  const fwd = await request(sys, { method: 'GET', path: '/metrics', headers: { 'X-Forwarded-For': '203.0.113.9' } });
  assert.equal(fwd.status, 404);
  const fwd2 = await request(sys, { method: 'GET', path: '/metrics', headers: { Forwarded: 'for=203.0.113.9' } });
  assert.equal(fwd2.status, 404);
  const post = await request(sys, { method: 'POST', path: '/metrics', body: '' });
  assert.equal(post.status, 405);
});

test('/metrics with METRICS_TOKEN(_FILE): the bearer token is required, from loopback too; METRICS_LISTEN serves it alone', async () => {
  const token = randomBytes(16).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), '3min-metrics-'));
  writeFileSync(join(dir, 'token'), `${token}\n`);   // a mounted secret, newline and all
  const mport = await freePort();
  const other = await startSystem({
    name: 'metrics-token', workers: 0,
    env: { METRICS_TOKEN_FILE: join(dir, 'token'), METRICS_LISTEN: `127.0.0.1:${mport}` },
  });
  try {
    const get = (headers) => request(other, { method: 'GET', path: '/metrics', headers });
    assert.equal((await get({})).status, 404);
    assert.equal((await get({ Authorization: `Bearer ${token}x` })).status, 404);
    assert.equal((await get({ Authorization: `Bearer ${token.slice(0, -1)}` })).status, 404);
    assert.equal((await get({ Authorization: `Basic ${token}` })).status, 404);
    const ok = await get({ Authorization: `Bearer ${token}`, 'X-Forwarded-For': '203.0.113.9' });
    assert.equal(ok.status, 200);
    assert.match(ok.text, /^tm_workers_connected 0$/m);

    // The metrics listener: reaching it is the permission, and it serves nothing else.
    const onPort = (path) => request({ port: mport }, { method: 'GET', path });
    const m = await onPort('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /^# TYPE tm_http_requests_total counter$/m);
    assert.match(m.headers['x-request-id'], /^[0-9a-f]{16}$/);
    assert.equal((await onPort('/healthz')).status, 404);
    assert.equal((await onPort('/api/mcp')).status, 404);
  } finally {
    await other.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- bin/jobs ------------------------------------------------------------------

test('bin/jobs serves the outboxes and its own work on METRICS_LISTEN', async (t) => {
  const port = await freePort();
  const log = createWriteStream(join(LOG_DIR, `metrics-jobs-${process.pid}.log`));
  const child = spawn(join(BIN_DIR, 'jobs'), [], {
    env: { ...sys.env, METRICS_LISTEN: `127.0.0.1:${port}` }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise((r) => child.on('exit', r));
  // Rows due tomorrow: counted as pending, not due, and left alone by every jobs process.
  const marker = unique('metrics-outbox');
  const clean = () => psql([
    `DELETE FROM webhook_deliveries WHERE url = 'http://127.0.0.1:9/${marker}'`,
    `DELETE FROM notifications WHERE subject = '${marker}'`,
  ]);
  try {
    const jobsMetrics = async () => {
      const end = Date.now() + 15000;
      for (;;) {
        try {
          const r = await request({ port }, { method: 'GET', path: '/metrics', keepAlive: false });
          assert.equal(r.status, 200, r.text);
          assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
          return { ...parse(r.text), text: r.text };
        } catch (e) {
          if (Date.now() > end) throw e;
          await sleep(100);
        }
      }
    };
    const before = await jobsMetrics();
    assert.equal(sum(before, 'tm_jobs_database_up'), 1, before.text);
    await psql([
      `INSERT INTO webhook_deliveries (account_id, endpoint_id, environment, call_log_id, call_log_created_at, url,
         secret_enc, body, next_attempt_at)
       VALUES ('${acct.id}', gen_random_uuid(), 'sandbox', gen_random_uuid(), now(), 'http://127.0.0.1:9/${marker}',
         '\\x00', '{}', now() + interval '1 day')`,
      `INSERT INTO notifications (account_id, kind, subject, body, next_attempt_at)
       VALUES ('${acct.id}', 'deployed', '${marker}', 'b', now() + interval '1 day')`,
    ]);
    const after = await jobsMetrics();
    for (const outbox of ['webhook', 'mail']) {
      assert.equal(sum(after, 'tm_jobs_outbox_pending', { outbox }) - sum(before, 'tm_jobs_outbox_pending', { outbox }), 1, outbox);
      assert.equal(sum(after, 'tm_jobs_outbox_due', { outbox }), sum(before, 'tm_jobs_outbox_due', { outbox }), outbox);
      assert.ok(after.samples.some((x) => x.name === 'tm_jobs_handled_total' && x.labels.outbox === outbox));
    }
    assert.equal(after.types.get('tm_jobs_handled_total'), 'counter');
    assert.equal(sum(after, 'tm_jobs_build_info'), 1);
    assert.equal((await request({ port }, { method: 'GET', path: '/other', keepAlive: false })).status, 404);
    assert.equal((await request({ port }, { method: 'POST', path: '/metrics', body: 'x', keepAlive: false })).status, 405);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: after.text, encoding: 'utf8' });
    if (lint.error?.code === 'ENOENT') t.diagnostic('promtool is not installed');
    else assert.equal(lint.status, 0, `promtool check metrics:\n${lint.stdout}${lint.stderr}`);
  } finally {
    await clean();
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
    await exited;
    clearTimeout(killer);
  }
});

// ---- the request id ----------------------------------------------------------

// JSON log lines of a process (every line must be one JSON object).
function jsonLines(proc) {
  const text = readFileSync(proc.logPath, 'utf8');
  return text.split('\n').filter((l) => l !== '').map((l) => {
    try { return JSON.parse(l); } catch { assert.fail(`${proc.name}: not a JSON log line: ${l}`); }
  });
}

async function linesWith(procs, rid, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const found = procs.flatMap((p) => jsonLines(p).filter((l) => l.request_id === rid));
    if (found.length || Date.now() > end) return found;
    await sleep(100);
  }
}

test('X-Request-Id follows a request into the edge and worker JSON logs and the database', async () => {
  // The transaction of a write sees its request id in app.request_id and application_name.
  await psql([
    'CREATE TABLE IF NOT EXISTS metrics_test_rids (name text, rid text, app text)',
    `CREATE OR REPLACE FUNCTION metrics_test_rid() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
       BEGIN INSERT INTO metrics_test_rids VALUES (NEW.name, current_setting('app.request_id', true),
         current_setting('application_name')); RETURN NEW; END $$`,
    'DROP TRIGGER IF EXISTS metrics_test_rid ON endpoints',
    'CREATE TRIGGER metrics_test_rid AFTER INSERT ON endpoints FOR EACH ROW EXECUTE FUNCTION metrics_test_rid()',
  ]);
  const name = unique('Traced');
  const r = await callTool(sys, acct.key, 'endpoints_create', { name, fields: [{ name: 'a', type: 'string' }] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result.isError, false, r.text);
  const rid = r.headers['x-request-id'];
  assert.match(rid, /^[0-9a-f]{16}$/);

  const other = await request(sys, { method: 'GET', path: '/healthz' });
  assert.match(other.headers['x-request-id'], /^[0-9a-f]{16}$/);
  // A browser client of /api/mcp may read it.
  const cors = await callTool(sys, acct.key, 'endpoints_list', {}, { headers: { Origin: sys.url } });
  assert.match(cors.headers['access-control-expose-headers'], /\bX-Request-Id\b/);
  assert.match(cors.headers['x-request-id'], /^[0-9a-f]{16}$/);
  assert.notEqual(other.headers['x-request-id'], rid, 'each request its own id');

  const edgeLines = await linesWith([sys.edge], rid);
  assert.ok(edgeLines.some((l) => /tools\/call endpoints_create/.test(l.msg)), JSON.stringify(edgeLines));
  // The access log line: method, path, status, time at the edge, client address.
  assert.ok(edgeLines.some((l) => /^POST \/api\/mcp 200 \d+\.\dms client=127\.0\.0\.1$/.test(l.msg)),
    JSON.stringify(edgeLines));
  for (const l of edgeLines) {
    assert.equal(l.proc, 'edge');
    assert.match(l.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(l.level));
  }
  const workerLines = await linesWith(sys.workers, rid);
  assert.ok(workerLines.some((l) => /endpoints_create/.test(l.msg)), JSON.stringify(workerLines));

  const db = await psql(`SELECT rid || ' ' || app FROM metrics_test_rids WHERE name = '${name}'`);
  assert.deepEqual(db, [`${rid} worker ${rid}`]);
});

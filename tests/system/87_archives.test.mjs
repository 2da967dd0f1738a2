// Daily archives (issue 5 item 3, DOMAIN.md §2 "Retention → archives"):
// old production call logs are written by `bin/jobs --once archive` into a
// gzipped JSONL and a CSV file per endpoint and UTC day, then read back
// through the MCP tools and the signed download route of the edge.
//
// - archives_list → archives_download → GET the URL → gunzip: the SHA-256
//   of the download is the one archives_list/archives_download report, and
//   every line is one log entry with its payload; logs_fetch_archived
//   returns the payload, logs_lookup says archived: true with null bodies;
//   with no endpoint, archives_list adds a per-endpoint summary;
// - sandbox logs and records older than the retention are deleted, recent
//   production logs are left alone until --now moves the clock;
// - expired (validly signed), tampered and re-pointed links are 403;
// - another account lists nothing and gets not_found for the archive and
//   the entry;
// - a pass killed between the files of a day leaves the logs unarchived and
//   intact, and a rerun archives every entry exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, createHmac } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import http from 'node:http';
import {
  BIN_DIR, LOG_DIR, startSystem, accountWithKey, tool, toolError, psql, unique, sleep,
} from '../lib/system.mjs';

let sys;
let runs = 0;

// `bin/jobs --once archive ...args` with the system's environment; resolves {code, signal, out}.
function startPass(args = [], env = {}) {
  const log = createWriteStream(join(LOG_DIR, `jobs-archive-${process.pid}-${++runs}.log`));
  const child = spawn(join(BIN_DIR, 'jobs'), ['--once', 'archive', ...args],
    { env: { ...sys.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c) => { log.write(c); out += c.toString(); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const done = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal, out })));
  return { child, done };
}
const runPass = async (args, env) => {
  const r = await startPass(args, env).done;
  assert.equal(r.code, 0, `archive pass failed: ${r.out}`);
  return r;
};

const sc = (r) => {
  assert.ok(!r.isError, `tool error: ${JSON.stringify(r)}`);
  return r.structuredContent;
};

// Inserts a call log row as the database owner; returns its id.
async function insertLog(acct, ep, { env = 'production', daysAgo, hour = 12, body, response, recordId }) {
  const [id] = await psql(`INSERT INTO call_logs (created_at, account_id, endpoint_id, environment, method, record_id,
      caller_kind, status_code, outcome, request_body, request_bytes, response_body, response_bytes)
    VALUES (date_trunc('day', now() - interval '${Number(daysAgo)} days') + interval '${Number(hour)} hours',
      '${acct}', '${ep}', '${env}', 'POST', ${recordId ? `'${recordId}'` : 'NULL'}, 'owner', 201, 'success',
      $b$${body}$b$, ${body.length}, $r$${response}$r$, ${response.length})
    RETURNING id`);
  return id;
}

// GET on the edge; resolves {status, headers, buffer} (the body as bytes: archives are binary).
function getRaw(path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: sys.port, path, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, buffer: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const rec = () => `rec_${Math.random().toString(36).slice(2, 14)}`;

async function newEndpoint(a, label) {
  return sc(await tool(sys, a.key, 'endpoints_create', { name: unique(label) })).endpoint;
}

before(async () => {
  sys = await startSystem({ name: 'archives' });
});

after(async () => {
  await sys?.stop();
});

test('old production logs are archived per UTC day, downloadable, and readable back', async () => {
  const a = await accountWithKey('arch');
  const ep = await newEndpoint(a, 'Orders');
  const day1 = [];
  for (let i = 0; i < 3; i++) {
    const r = rec();
    const body = JSON.stringify({ n: i, note: `line "${i}", with comma` });
    day1.push({ id: await insertLog(a.id, ep.id, { daysAgo: 40, hour: 10 + i, body, response: `{"id":"${r}"}`, recordId: r }), body, r });
  }
  const d2r = rec();
  const day2 = await insertLog(a.id, ep.id, { daysAgo: 39, body: 'not json', response: '{"error":"invalid_json"}', recordId: d2r });
  const recent = await insertLog(a.id, ep.id, { daysAgo: 3, body: '{"recent":true}', response: '{}', recordId: rec() });
  const sandbox = await insertLog(a.id, ep.id, { env: 'sandbox', daysAgo: 40, body: '{"s":1}', response: '{}' });
  await psql(`INSERT INTO records (id, account_id, endpoint_id, environment, payload, created_at)
    VALUES ('${rec()}', '${a.id}', '${ep.id}', 'sandbox', '{}', now() - interval '40 days'),
           ('${rec()}', '${a.id}', '${ep.id}', 'sandbox', '{}', now() - interval '2 days')`);

  await runPass();

  // Sandbox data past the retention is gone; recent sandbox data stays.
  assert.deepEqual(await psql(`SELECT count(*) FROM call_logs WHERE id = '${sandbox}'`), ['0']);
  assert.deepEqual(await psql(`SELECT count(*) FROM records WHERE endpoint_id = '${ep.id}'`), ['1']);
  // Archived rows keep their metadata and lose their bodies; the recent row is untouched.
  const rows = await psql(`SELECT id, archive_line, request_body IS NULL, response_body IS NULL FROM call_logs
    WHERE endpoint_id = '${ep.id}' AND archive_id IS NOT NULL ORDER BY created_at`);
  assert.deepEqual(rows, [...day1.map((d, i) => `${d.id}|${i + 1}|t|t`), `${day2}|1|t|t`]);
  assert.deepEqual(await psql(`SELECT archive_id IS NULL, request_body FROM call_logs WHERE id = '${recent}'`),
    ['t|{"recent":true}']);

  const list = sc(await tool(sys, a.key, 'archives_list', { endpoint: ep.slug }));
  assert.equal(list.items.length, 2);
  assert.equal(list.next_cursor, null);
  const [newer, older] = list.items;
  assert.equal(older.record_count, 3);
  assert.equal(newer.record_count, 1);
  assert.deepEqual(older.endpoint, { id: ep.id, slug: ep.slug, name: ep.name });
  assert.ok(older.day < newer.day);
  assert.deepEqual(older.formats.map((f) => f.format), ['jsonl', 'csv']);

  // Paging: limit 1 and the cursor give the same two archives.
  const p1 = sc(await tool(sys, a.key, 'archives_list', { endpoint: ep.id, limit: 1 }));
  const p2 = sc(await tool(sys, a.key, 'archives_list', { endpoint: ep.id, limit: 1, cursor: p1.next_cursor }));
  assert.deepEqual([...p1.items, ...p2.items].map((x) => x.id), [newer.id, older.id]);
  assert.equal(p2.next_cursor, null);
  const ranged = sc(await tool(sys, a.key, 'archives_list', { from: older.day, to: older.day }));
  assert.deepEqual(ranged.items.map((x) => x.id), [older.id]);

  // With no endpoint: a per-endpoint summary over the same days, whatever the page size; an endpoint's own
  // listing has none.
  assert.equal(list.summary, undefined);
  const all = sc(await tool(sys, a.key, 'archives_list', { limit: 1 }));
  assert.equal(all.items.length, 1);
  assert.deepEqual(all.summary, [{
    endpoint: { id: ep.id, slug: ep.slug, name: ep.name }, files: 2, record_count: 4,
    size_bytes: older.size_bytes + newer.size_bytes, oldest_day: older.day, newest_day: newer.day,
  }]);
  assert.equal(older.size_bytes, older.formats[0].size_bytes + older.formats[1].size_bytes);
  assert.deepEqual(ranged.summary, [{ ...all.summary[0], files: 1, record_count: 3, size_bytes: older.size_bytes,
    newest_day: older.day }]);

  const dl = sc(await tool(sys, a.key, 'archives_download', { archive_id: older.id }));
  assert.equal(dl.sha256, older.formats[0].sha256);
  assert.match(dl.filename, new RegExp(`^${ep.slug}-${older.day}\\.jsonl\\.gz$`));
  const ttl = Date.parse(dl.expires_at) - Date.now();
  assert.ok(ttl > 0 && ttl <= 15 * 60 * 1000 + 2000, `expires_at ${dl.expires_at}`);
  const url = new URL(dl.url);
  const got = await getRaw(url.pathname + url.search);
  assert.equal(got.status, 200);
  const bytes = got.buffer;
  assert.equal(bytes.length, dl.size_bytes);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), dl.sha256);
  const lines = gunzipSync(bytes).toString().trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.log_id), day1.map((d) => d.id));
  assert.deepEqual(lines.map((l) => l.payload), day1.map((d) => JSON.parse(d.body)));
  assert.deepEqual(lines[0].response, { id: day1[0].r });
  assert.equal(lines[0].method, 'POST');
  assert.equal(lines[0].status_code, 201);

  const csv = sc(await tool(sys, a.key, 'archives_download', { archive_id: older.id, format: 'csv' }));
  const cu = new URL(csv.url);
  const gotCsv = await getRaw(cu.pathname + cu.search);
  assert.equal(gotCsv.status, 200);
  assert.equal(createHash('sha256').update(gotCsv.buffer).digest('hex'), csv.sha256);

  // The file downloads (answered without the edge's usual reply path) are
  // counted on /metrics with their latency, like every other request.
  const metrics = (await getRaw('/metrics')).buffer.toString();
  const sample = (re) => Number((metrics.match(re) || [])[1] ?? NaN);
  assert.ok(sample(/^tm_http_requests_total\{route="\/archives\/\*",method="GET",status="200"\} (\d+)$/m) >= 2, metrics);
  assert.ok(sample(/^tm_http_request_duration_seconds_count\{route="\/archives\/\*"\} (\d+)$/m) >= 2, metrics);
  const csvLines = gotCsv.buffer.toString().trimEnd().split('\r\n');
  assert.equal(csvLines[0], 'log_id,record_id,method,status_code,payload,response,created_at');
  assert.equal(csvLines.length, 4);
  assert.ok(csvLines[1].includes('""note"":""line \\""0\\"", with comma""'), csvLines[1]);

  // One archived entry read back, by log id and by record id; a body that was not JSON stays text.
  const f = sc(await tool(sys, a.key, 'logs_fetch_archived', { endpoint: ep.slug, log_id: day1[1].id }));
  assert.deepEqual(f.payload, JSON.parse(day1[1].body));
  assert.deepEqual(f.archive, { id: older.id, day: older.day, line: 2 });
  const f2 = sc(await tool(sys, a.key, 'logs_fetch_archived', { endpoint: ep.id, record_id: d2r }));
  assert.equal(f2.payload, 'not json');
  assert.equal(f2.archive.id, newer.id);
  const notArchived = await tool(sys, a.key, 'logs_fetch_archived', { endpoint: ep.id, log_id: recent });
  assert.equal(toolError(notArchived).code, 'not_found');

  const look = sc(await tool(sys, a.key, 'logs_lookup', { endpoint: ep.id, log_id: day1[0].id }));
  assert.equal(look.archived, true);
  assert.equal(look.request_body, null);

  // A second pass finds nothing left to do.
  const again = await runPass();
  assert.match(again.out, /0 archives written/);
  assert.deepEqual(await psql(`SELECT count(*) FROM archives WHERE endpoint_id = '${ep.id}'`), ['2']);

  // --now moves the retention clock: the 3-day-old entry goes too.
  const later = new Date(Date.now() + 40 * 86400e3).toISOString();
  await runPass(['--now', later]);
  assert.deepEqual(await psql(`SELECT archive_line FROM call_logs WHERE id = '${recent}'`), ['1']);
});

test('download links: expired, tampered or re-pointed ones are 403; other accounts see nothing', async () => {
  const a = await accountWithKey('arch-own');
  const ep = await newEndpoint(a, 'Links');
  const logId = await insertLog(a.id, ep.id, { daysAgo: 45, body: '{"secret":1}', response: '{}', recordId: rec() });
  await runPass();
  const [item] = sc(await tool(sys, a.key, 'archives_list', { endpoint: ep.id })).items;
  const dl = sc(await tool(sys, a.key, 'archives_download', { archive_id: item.id }));
  const url = new URL(dl.url);
  const get = (u) => getRaw(u.pathname + u.search);

  const tampered = new URL(url);
  const sig = tampered.searchParams.get('sig');
  tampered.searchParams.set('sig', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
  assert.equal((await get(tampered)).status, 403);
  const otherFormat = new URL(url);
  otherFormat.searchParams.set('format', 'csv');
  assert.equal((await get(otherFormat)).status, 403);
  const longer = new URL(url);
  longer.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
  assert.equal((await get(longer)).status, 403);
  const noSig = new URL(url);
  noSig.searchParams.delete('sig');
  assert.equal((await get(noSig)).status, 403);

  // A correctly signed link whose time has passed (signed here with the shared key file).
  const secret = Buffer.from(readFileSync(join(sys.stateDir, 'keys-secret'), 'utf8').trim(), 'base64url');
  const key = createHmac('sha256', secret).update('3min archive download links v1').digest();
  const signFor = (id, format, expires) => createHmac('sha256', key).update(`${id}\n${format}\n${expires}`).digest('hex');
  const now = Math.floor(Date.now() / 1000);
  const expired = new URL(url);
  expired.searchParams.set('expires', String(now - 5));
  expired.searchParams.set('sig', signFor(item.id, 'jsonl', now - 5));
  assert.equal((await get(expired)).status, 403);
  const fresh = new URL(url);
  fresh.searchParams.set('expires', String(now + 60));
  fresh.searchParams.set('sig', signFor(item.id, 'jsonl', now + 60));
  assert.equal((await get(fresh)).status, 200, 'the test signs links the way the server does');

  const b = await accountWithKey('arch-other');
  assert.deepEqual(sc(await tool(sys, b.key, 'archives_list', {})), { items: [], next_cursor: null, summary: [] });
  assert.equal(toolError(await tool(sys, b.key, 'archives_download', { archive_id: item.id })).code, 'not_found');
  assert.equal(toolError(await tool(sys, b.key, 'logs_fetch_archived', { endpoint: ep.id, log_id: logId })).code,
    'not_found');
});

test('a pass killed between the files of a day loses and duplicates nothing', async () => {
  const a = await accountWithKey('arch-kill');
  const ep = await newEndpoint(a, 'Crash');
  const ids = [];
  for (const daysAgo of [50, 49]) {
    for (let i = 0; i < 4; i++)
      ids.push(await insertLog(a.id, ep.id, { daysAgo, hour: 1 + i, body: `{"d":${daysAgo},"i":${i}}`, response: '{}', recordId: rec() }));
  }
  const dir = join(sys.stateDir, 'archives', a.id, ep.id);
  const pass = startPass([], { ARCHIVE_TEST_PAUSE_MS: '5000' });
  const t0 = Date.now();
  while (!(existsSync(dir) && readdirSync(dir).some((n) => n.endsWith('.jsonl.gz'))) && Date.now() - t0 < 20000)
    await sleep(20);
  assert.ok(existsSync(dir), 'the pass started writing');
  pass.child.kill('SIGKILL');
  assert.equal((await pass.done).signal, 'SIGKILL');

  // Nothing was recorded and every body is still in place.
  assert.deepEqual(await psql(`SELECT count(*) FROM archives WHERE endpoint_id = '${ep.id}'`), ['0']);
  assert.deepEqual(await psql(`SELECT count(*) FROM call_logs WHERE endpoint_id = '${ep.id}'
    AND archive_id IS NULL AND request_body IS NOT NULL`), ['8']);

  await runPass();
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp')), [], 'the rerun removed the killed pass\'s temporary files');
  assert.equal(readdirSync(dir).length, 4, readdirSync(dir).join(' '));
  const arch = await psql(`SELECT day, record_count FROM archives WHERE endpoint_id = '${ep.id}' ORDER BY day`);
  assert.equal(arch.length, 2);
  assert.ok(arch.every((r) => r.endsWith('|4')), arch.join(','));
  const lines = await psql(`SELECT archive_id, archive_line, count(*) FROM call_logs WHERE endpoint_id = '${ep.id}'
    GROUP BY 1, 2 HAVING count(*) > 1`);
  assert.deepEqual(lines, [], 'no line is shared by two entries');
  assert.deepEqual(await psql(`SELECT count(*) FROM call_logs WHERE endpoint_id = '${ep.id}' AND archive_id IS NULL`), ['0']);
  // Each file holds its day's four entries once, and every entry reads back.
  for (const item of sc(await tool(sys, a.key, 'archives_list', { endpoint: ep.id })).items) {
    const dl = sc(await tool(sys, a.key, 'archives_download', { archive_id: item.id }));
    const u = new URL(dl.url);
    const got = await getRaw(u.pathname + u.search);
    const entries = gunzipSync(got.buffer).toString().trimEnd().split('\n').map((l) => JSON.parse(l).log_id);
    assert.equal(new Set(entries).size, 4);
  }
  for (const id of ids) {
    const f = sc(await tool(sys, a.key, 'logs_fetch_archived', { endpoint: ep.id, log_id: id }));
    assert.equal(typeof f.payload.d, 'number');
  }
});

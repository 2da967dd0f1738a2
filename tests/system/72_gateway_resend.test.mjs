// A gateway envelope that reaches the workers twice (nng delivers at least
// once) is applied once: the second copy gets the first one's answer, and
// the record, the call log, the usage counter, the daily statistics and the
// sandbox call count are written once (services/worker/gateway.c: the
// idempotency record is written with the answer by gateway_finish, and a
// copy that finds it rolls its own writes back). bin/wire_probe plays the
// edge, so the test can send the very same envelope (same request id) twice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN_DIR, DB_URL, System, createAccount, psql, unique } from '../lib/system.mjs';
import { Probe, who } from '../lib/wire_probe.mjs';

let sys, probe, acct, ep, keyHash;


// `3min endpoint keys`, with the system's STATE_DIR (where the workers keep the secrets key).
function endpointKeys(email, slug) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DATABASE_URL: DB_URL, STATE_DIR: sys.stateDir };
    execFile(join(BIN_DIR, '3min'), ['endpoint', 'keys', '--email', email, '--endpoint', slug], { env },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`3min endpoint keys: ${stderr}`));
        resolve(Object.fromEntries(stdout.trim().split('\n').map((l) => l.split(' '))));
      });
  });
}

before(async () => {
  assert.ok(existsSync(join(BIN_DIR, 'wire_probe')), `${BIN_DIR}/wire_probe is missing: build first`);
  const stateDir = mkdtempSync(join(tmpdir(), '3min-st-'));
  const base = { ...process.env };
  delete base.DATABASE_URL;
  sys = new System({ ...base, STATE_DIR: stateDir, DATABASE_URL: DB_URL, ACCESS_LOG: '0', WORKER_THREADS: '2' },
    'resend');
  sys.stateDir = stateDir;
  probe = new Probe(`ipc://${stateDir}/workers.ipc`, 'wire-probe-resend');
  assert.ok((await probe.next()).listening, 'the probe listens');
  sys.startWorker();
  sys.startWorker();
  const w = await probe.send({ cmd: 'wait', workers: 2, timeout_ms: 30000 });
  assert.equal(w.workers, 2, `both workers dialled in and beat\n${sys.logs()}`);

  acct = await createAccount('resend');
  const r = await probe.send({
    op: 'tool', name: 'endpoints_create', who: who(acct.id, 'apikey'),
    args: { name: unique('Resend'), fields: [{ name: 'email', type: 'string', required: true, searchable: true }] },
  });
  assert.equal(r.ok, true, JSON.stringify(r));
  ep = r.result.endpoint;
  const keys = await endpointKeys(acct.email, ep.slug);
  keyHash = createHash('sha256').update(keys.sandbox_key).digest('hex');
});

after(async () => {
  await probe?.stop();
  await sys?.stop();
});

// A gateway.call envelope as the edge sends it for POST /api/v1/data/{slug}, encoded once: the bytes
// (and so the request id) of both copies are the same.
async function postEnvelope(body) {
  const args = {
    method: 'POST', slug: ep.slug, key_hash: keyHash, environment: 'sandbox', query: {}, body, reject: null,
    throttled: false, ip: '127.0.0.1', webhook: null, search: false,
  };
  const e = await probe.send({ op: 'gateway', name: 'gateway.call', who: who('', 'anon', []), args, encode_only: true });
  assert.match(e.hex ?? '', /^[0-9a-f]+$/, JSON.stringify(e));
  return e.hex;
}

const answer = (r) => {
  assert.equal(r.ok, true, JSON.stringify(r));
  return typeof r.result === 'string' ? JSON.parse(r.result) : r.result;
};

async function counts() {
  const [row] = await psql(`SELECT (SELECT count(*) FROM records WHERE endpoint_id = '${ep.id}'),
    (SELECT count(*) FROM call_logs WHERE endpoint_id = '${ep.id}'),
    (SELECT coalesce(sum(calls), 0) FROM daily_stats WHERE endpoint_id = '${ep.id}'),
    (SELECT coalesce(sum(failed), 0) FROM daily_stats WHERE endpoint_id = '${ep.id}'),
    (SELECT coalesce(sum(calls), 0) FROM usage_counters WHERE account_id = '${acct.id}'),
    (SELECT e.sandbox_test_calls + coalesce((SELECT sum(c.calls) FROM endpoint_sandbox_calls c
      WHERE c.endpoint_id = e.id), 0) FROM endpoints e WHERE e.id = '${ep.id}')`);
  const [records, logs, stats, failed, usage, sandbox] = row.split('|').map(Number);
  return { records, logs, stats, failed, usage, sandbox };
}

test('a resent POST gets the first answer and writes one record, one call log and one count', async () => {
  const before0 = await counts();
  const hex = await postEnvelope(JSON.stringify({ email: 'ada@example.com' }));
  const first = answer(await probe.send({ hex }));
  assert.equal(first.status, 202);
  assert.match(first.body.id, /^rec_/);
  assert.match(first.log_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const second = answer(await probe.send({ hex }));
  assert.deepEqual(second, first, 'the second copy answers with the first one\'s answer');
  const after1 = await counts();
  assert.deepEqual(after1, {
    records: before0.records + 1, logs: before0.logs + 1, stats: before0.stats + 1, failed: before0.failed,
    usage: before0.usage + 1, sandbox: before0.sandbox + 1,
  });
  assert.deepEqual(await psql(`SELECT id::text, record_id, status_code FROM call_logs WHERE endpoint_id = '${ep.id}'
    AND record_id = '${first.body.id}'`), [`${first.log_id}|${first.body.id}|202`], 'the answer names the call log');
  assert.deepEqual(await psql(`SELECT payload->>'email' FROM records WHERE id = '${first.body.id}'`), ['ada@example.com']);

  // Another envelope with the same body is another request: a second record.
  const other = answer(await probe.send({ hex: await postEnvelope(JSON.stringify({ email: 'ada@example.com' })) }));
  assert.equal(other.status, 202);
  assert.notEqual(other.body.id, first.body.id);
  assert.equal((await counts()).records, before0.records + 2);
});

test('a resent refused POST (400) is logged and counted once', async () => {
  const before0 = await counts();
  const hex = await postEnvelope(JSON.stringify({ name: 'no email' }));
  const first = answer(await probe.send({ hex }));
  assert.equal(first.status, 400);
  assert.equal(first.body.error.code, 'missing_required_fields');
  const second = answer(await probe.send({ hex }));
  assert.deepEqual(second, first);
  assert.deepEqual(await counts(), {
    records: before0.records, logs: before0.logs + 1, stats: before0.stats + 1, failed: before0.failed + 1,
    usage: before0.usage + 1, sandbox: before0.sandbox + 1,
  });
});

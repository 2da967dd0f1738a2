// bin/jobs (issue 4 item 6): webhook deliveries and notification e-mails,
// through the real gateway, real bin/jobs processes, a real HTTP receiver
// and a real SMTP server on loopback (a minimal RFC 5321 server written here
// with node:net — it speaks SMTP to bin/jobs, nothing of bin/jobs is mocked).
//
// - a POST with X-Webhook-Callback reaches the receiver once, with the
//   delivery id, timestamp and a v1= signature that verifies with the
//   endpoint's signing secret (from `3min endpoint keys`); the call log
//   says delivered;
// - a receiver answering 500 gets the retries of WEBHOOK_RETRY_SCHEDULE=1,1,1
//   (4 attempts, same delivery id), then the delivery and the call log are
//   failed;
// - without ALLOW_PRIVATE_WEBHOOKS a loopback or plain-http target is never
//   contacted and the refusal is recorded;
// - a burst of failed calls with a call_failed rule sends one e-mail to the
//   account's address (NOTIFY_COOLDOWN_S), with the SMTP conversation
//   checked (EHLO, MAIL FROM, RCPT TO, DATA, dot-stuffing undone).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import {
  BIN_DIR, LOG_DIR, startSystem, accountWithKey, createAccount, tool, run3min, psql, request, unique, sleep,
} from '../lib/system.mjs';
import { smtpServer } from '../lib/mail.mjs';

let sys;
const jobsProcs = [];

// Starts one bin/jobs with the system's environment plus env.
function startJobs(env = {}) {
  const log = createWriteStream(join(LOG_DIR, `jobs-${process.pid}-${jobsProcs.length + 1}.log`));
  const child = spawn(join(BIN_DIR, 'jobs'), [], { env: { ...sys.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { child, lines: [], exited: new Promise((r) => child.on('exit', (code, signal) => r({ code, signal }))) };
  const keep = (c) => { log.write(c); p.lines.push(...c.toString().split('\n').filter(Boolean)); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  jobsProcs.push(p);
  return p;
}

async function stopJobs(p) {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 15000);
  const r = await p.exited;
  clearTimeout(t);
  return r;
}

// An HTTP receiver on loopback answering `status`; records every request.
async function receiver(status = 200) {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status < 300 ? 'ok' : 'receiver says no');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { got, server, url: `http://127.0.0.1:${server.address().port}/hook`, close: () => new Promise((r) => server.close(r)) };
}

async function until(what, fn, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${jobsProcs.map((p) => p.lines.slice(-15).join('\n')).join('\n')}`);
    await sleep(100);
  }
}

// An account with a sandbox endpoint; returns its gateway key and signing secret.
async function endpointWithKeys(label) {
  const acct = await accountWithKey(label);
  const name = unique('Jobs form');
  const r = await tool(sys, acct.key, 'endpoints_create', { name, fields: [{ name: 'email', type: 'string', required: true }] });
  assert.ok(!r.isError, JSON.stringify(r));
  const { slug, id: endpointId } = r.structuredContent.endpoint;
  const keys = await run3min(['endpoint', 'keys', '--email', acct.email, '--endpoint', slug]);
  const sandboxLine = keys.split('\n').filter((l) => /sandbox/i.test(l)).join('\n') || keys;
  const gatewayKey = (keys.match(/tm_test_[A-Za-z0-9_-]{43}/) || [])[0];
  const secret = (sandboxLine.match(/whsec_[A-Za-z0-9_-]{43}/) || keys.match(/whsec_[A-Za-z0-9_-]{43}/) || [])[0];
  assert.ok(gatewayKey && secret, `3min endpoint keys printed no sandbox key and secret:\n${keys}`);
  return { acct, slug, gatewayKey, secret, endpointId };
}

function gatewayPost(slug, key, body, headers = {}) {
  return request(sys, {
    method: 'POST', path: `/api/v1/data/${slug}`, body,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers },
  });
}

before(async () => {
  sys = await startSystem({ name: 'jobs', env: { ALLOW_PRIVATE_WEBHOOKS: '1', WEBHOOK_RETRY_SCHEDULE: '1,1,1' } });
  // `3min endpoint keys` opens the stored secrets with the system's key file.
  process.env.STATE_DIR = sys.stateDir;
});

after(async () => {
  for (const p of jobsProcs) await stopJobs(p);
  await sys?.stop();
});

test('a webhook is delivered once with a signature that verifies; the call log says delivered', async () => {
  const rx = await receiver(200);
  const jobs = startJobs();
  try {
    const ep = await endpointWithKeys('wh-ok');
    const r = await gatewayPost(ep.slug, ep.gatewayKey, { email: 'a@example.com' }, { 'X-Webhook-Callback': rx.url });
    assert.equal(r.status, 202, r.text);
    const recordId = r.json.id;
    await until('the delivery', () => rx.got.length > 0);
    const d = rx.got[0];
    assert.equal(d.method, 'POST');
    assert.equal(d.headers['content-type'], 'application/json');
    const ts = d.headers['x-3minapi-timestamp'];
    assert.match(ts, /^\d+$/);
    assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60, 'timestamp is now');
    const expected = 'v1=' + createHmac('sha256', ep.secret).update(`${ts}.${d.body}`).digest('hex');
    assert.equal(d.headers['x-3minapi-signature'], expected);
    assert.match(d.headers['x-3minapi-delivery'], /^[0-9a-f-]{36}$/);
    const payload = JSON.parse(d.body);
    assert.equal(payload.event, 'record.created');
    assert.equal(payload.record.id, recordId);
    // A wrong secret does not verify (the check above is not vacuous).
    assert.notEqual(d.headers['x-3minapi-signature'], 'v1=' + createHmac('sha256', 'whsec_wrong').update(`${ts}.${d.body}`).digest('hex'));
    const status = await until('webhook_status delivered', async () => {
      const rows = await psql(`SELECT webhook_status FROM call_logs WHERE record_id = '${recordId}' AND method = 'POST'`);
      return rows[0] === 'delivered' && rows[0];
    });
    assert.equal(status, 'delivered');
    const [row] = await psql(`SELECT status || '|' || attempt || '|' || response_status || '|' || response_snippet FROM webhook_deliveries WHERE id = '${d.headers['x-3minapi-delivery']}'`);
    assert.equal(row, 'delivered|1|200|ok');
    await sleep(1500);
    assert.equal(rx.got.length, 1, 'delivered exactly once');
  } finally {
    assert.deepEqual(await stopJobs(jobs), { code: 0, signal: null });
    await rx.close();
  }
});

test('a failing receiver gets the scheduled retries with one delivery id, then the delivery is failed', async () => {
  const rx = await receiver(500);
  const jobs = [startJobs(), startJobs()];   // two processes share the outbox without double sends
  try {
    const ep = await endpointWithKeys('wh-fail');
    const r = await gatewayPost(ep.slug, ep.gatewayKey, { email: 'b@example.com' }, { 'X-Webhook-Callback': rx.url });
    assert.equal(r.status, 202, r.text);
    const recordId = r.json.id;
    const status = await until('webhook_status failed', async () => {
      const rows = await psql(`SELECT webhook_status FROM call_logs WHERE record_id = '${recordId}' AND method = 'POST'`);
      return rows[0] === 'failed' && rows[0];
    }, 30000);
    assert.equal(status, 'failed');
    assert.equal(rx.got.length, 4, 'the first attempt and three retries');
    assert.equal(new Set(rx.got.map((g) => g.headers['x-3minapi-delivery'])).size, 1, 'one delivery id across retries');
    const [row] = await psql(`SELECT status || '|' || attempt || '|' || response_status || '|' || response_snippet FROM webhook_deliveries WHERE call_log_id = (SELECT id FROM call_logs WHERE record_id = '${recordId}' AND method = 'POST')`);
    assert.equal(row, 'failed|4|500|receiver says no');
  } finally {
    for (const j of jobs) assert.deepEqual(await stopJobs(j), { code: 0, signal: null });
    await rx.close();
  }
});

test('without ALLOW_PRIVATE_WEBHOOKS loopback and plain http targets are refused without a connection', async () => {
  const rx = await receiver(200);
  const jobs = startJobs({ ALLOW_PRIVATE_WEBHOOKS: '0' });
  try {
    const ep = await endpointWithKeys('wh-ssrf');
    const targets = [rx.url, rx.url.replace('127.0.0.1', 'localhost'),
      `https://127.0.0.1:${new URL(rx.url).port}/hook`, `https://[::1]:${new URL(rx.url).port}/hook`];
    const ids = [];
    for (const t of targets) {
      const r = await gatewayPost(ep.slug, ep.gatewayKey, { email: 'c@example.com' }, { 'X-Webhook-Callback': t });
      assert.equal(r.status, 202, r.text);
      ids.push(r.json.id);
    }
    for (const id of ids) {
      const err = await until(`a recorded refusal for ${id}`, async () => {
        const rows = await psql(`SELECT last_error FROM webhook_deliveries WHERE call_log_id = (SELECT id FROM call_logs WHERE record_id = '${id}' AND method = 'POST') AND last_error IS NOT NULL`);
        return rows[0];
      });
      assert.match(err, /https|loopback|not fetched/);
    }
    assert.equal(rx.got.length, 0, 'the receiver was never contacted');
  } finally {
    await stopJobs(jobs);
    // Leave nothing of this test for the next jobs process to deliver.
    await psql("UPDATE webhook_deliveries SET status = 'failed' WHERE status = 'pending'");
    await rx.close();
  }
});

test('a burst of failed calls sends one call_failed e-mail to the account through SMTP', async () => {
  const smtp = await smtpServer();
  const jobs = startJobs({ SMTP_URL: smtp.url, MAIL_FROM: '3Min API <alerts@3minapi.test>', NOTIFY_COOLDOWN_S: '600' });
  try {
    const ep = await endpointWithKeys('mail');
    await psql(`INSERT INTO notification_rules (account_id, event) SELECT account_id, 'call_failed' FROM endpoints WHERE slug = '${ep.slug}'`);
    for (let i = 0; i < 8; i++) {
      const r = await gatewayPost(ep.slug, ep.gatewayKey, { not_email: i });   // missing required field: 400, logged failed
      assert.equal(r.status, 400, r.text);
    }
    // The database is shared by the suite: earlier files may have left other
    // accounts' notifications queued, which this jobs process sends too.
    const ours = () => smtp.messages.filter((msg) => msg.rcpt.includes(`<${ep.acct.email}>`));
    await until('the e-mail', () => ours().length > 0);
    await sleep(2000);   // time for any second message to arrive
    assert.equal(ours().length, 1, 'one message despite the burst');
    const m = ours()[0];
    assert.equal(m.from, '<alerts@3minapi.test> BODY=8BITMIME');
    assert.deepEqual(m.rcpt, [`<${ep.acct.email}>`]);
    assert.match(m.data, /^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\n/);
    assert.match(m.data, /\r\nFrom: 3Min API <alerts@3minapi\.test>\r\n/);
    assert.match(m.data, new RegExp(`\\r\\nTo: ${ep.acct.email.replace(/[.+]/g, '\\$&')}\\r\\n`));
    assert.match(m.data, /\r\nMessage-ID: <[0-9a-f]+@3minapi\.test>\r\n/);
    assert.match(m.data, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
    assert.match(m.data, /\r\nSubject: .+\r\n/);
    assert.ok(smtp.transcript.some((l) => /^EHLO 3minapi\.test$/.test(l)), smtp.transcript.join('\n'));
    assert.ok(smtp.transcript.includes('QUIT'));
    const rows = await psql(`SELECT status FROM notifications n JOIN endpoints e ON e.id = n.endpoint_id WHERE e.slug = '${ep.slug}'`);
    assert.deepEqual(rows, ['sent']);
  } finally {
    assert.deepEqual(await stopJobs(jobs), { code: 0, signal: null });
    await smtp.close();
  }
});

test('bin/jobs forgets applied request ids older than an hour and keeps recent ones', async () => {
  const acct = await createAccount('prune');
  const [old, fresh] = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')];
  await psql([
    `INSERT INTO applied_requests (request_id, account_id, name, created_at) VALUES ('\\x${old}', '${acct.id}', 't', now() - interval '2 hours')`,
    `INSERT INTO applied_requests (request_id, account_id, name) VALUES ('\\x${fresh}', '${acct.id}', 't')`,
  ]);
  const p = startJobs();
  try {
    const end = Date.now() + 20000;
    for (;;) {
      const left = await psql(`SELECT encode(request_id, 'hex') FROM applied_requests WHERE request_id IN ('\\x${old}', '\\x${fresh}')`);
      if (!left.includes(old)) {
        assert.deepEqual(left, [fresh]);
        break;
      }
      if (Date.now() > end) throw new Error(`the old request id was not pruned\n${p.lines.slice(-15).join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await stopJobs(p);
  }
});

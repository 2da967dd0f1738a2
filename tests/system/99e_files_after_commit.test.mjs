// Archive files are removed only after the deleting transaction commits
// (docs/DASHBOARD.md, "Files and the commit"): deleting an archive from
// /archives and deleting the account from /settings/profile. A deferred
// constraint trigger, created by this test as the database owner for the
// rows of this test only, makes the COMMIT fail: the page says the service is
// unavailable, and the rows and every file stay. Without the trigger the same
// request succeeds and the files go.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  BIN_DIR, LOG_DIR, startSystem, accountWithKey, tool, psql, unique,
} from '../lib/system.mjs';
import { CookieJar, httpReq, postForm, hiddenFields } from '../lib/oauth.mjs';

const PASSWORD = 'correct horse battery';
let sys, archiveDir;
const triggers = [];

before(async () => {
  sys = await startSystem({ name: 'files-after-commit', workers: 1 });
  archiveDir = join(sys.env.STATE_DIR, 'archives');
  await psql(`CREATE OR REPLACE FUNCTION test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'this commit is refused by system test 99e'; END $$`);
});
after(async () => {
  for (const t of triggers) await psql(t).catch(() => {});
  await sys?.stop();
});

const q = async (sql) => (await psql(sql)).join('\n');
const csrfIn = (html) => hiddenFields(html).find(([k]) => k === 'csrf_token')?.[1];

// A trigger that fails the COMMIT of any transaction that updated `table`'s row `id`.
async function refuseCommit(table, id) {
  const name = `test_refuse_${unique('t').replace(/[^a-z0-9]/gi, '_')}`;
  await psql(`CREATE CONSTRAINT TRIGGER ${name} AFTER UPDATE ON ${table} DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.id = '${id}') EXECUTE FUNCTION test_refuse_commit()`);
  const drop = `DROP TRIGGER IF EXISTS ${name} ON ${table}`;
  triggers.push(drop);
  return () => psql(drop);
}

async function archivePass() {
  const log = createWriteStream(join(LOG_DIR, `jobs-archive-99e-${process.pid}-${unique('p')}.log`));
  const child = spawn(join(BIN_DIR, 'jobs'), ['--once', 'archive'], { env: sys.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c) => { log.write(c); out += c.toString(); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0, `archive pass failed: ${out}`);
}

// An account with two archived days (older than the 30-day retention) of production call logs: its archive rows.
async function accountWithArchives(label, days = [40, 41]) {
  const a = await accountWithKey(label);
  const r = await tool(sys, a.key, 'endpoints_create', { name: unique(label) });
  assert.ok(!r.isError, JSON.stringify(r));
  const ep = r.structuredContent.endpoint;
  const values = days.map((d, i) => `(date_trunc('day', now() - interval '${d} days') + interval '12 hours',
    '${a.id}', '${ep.id}', 'production', 'POST', 'rec_${unique('r').replace(/[^a-z0-9]/gi, '')}${i}', 'owner', 201,
    'success', '{"day":${d}}', 11, '{}', 2)`);
  await psql(`INSERT INTO call_logs (created_at, account_id, endpoint_id, environment, method, record_id,
      caller_kind, status_code, outcome, request_body, request_bytes, response_body, response_bytes)
    VALUES ${values.join(',')}`);
  await archivePass();
  const rows = (await psql(`SELECT id || '|' || jsonl_path || '|' || csv_path FROM archives
    WHERE account_id = '${a.id}' AND deleted_at IS NULL ORDER BY day`)).map((l) => {
    const [id, jsonl, csv] = l.split('|');
    return { id, files: [jsonl, csv, `by-id/${id}.jsonl.gz`, `by-id/${id}.csv`] };
  });
  assert.equal(rows.length, days.length);
  for (const x of rows) for (const f of x.files) assert.ok(existsSync(join(archiveDir, f)), `${f} was written`);
  return { a, rows };
}

async function signIn(email) {
  const jar = new CookieJar();
  const page = await httpReq(sys, { path: '/login', jar });
  const r = await postForm(sys, '/login', [['csrf_token', csrfIn(page.text)], ['email', email], ['password', PASSWORD]], { jar });
  assert.equal(r.status, 303, r.text.slice(-300));
  const dash = await httpReq(sys, { path: '/archives', jar });
  assert.equal(dash.status, 200);
  return { jar, csrf: csrfIn(dash.text) };
}

const allThere = (rows) => rows.every((x) => x.files.every((f) => existsSync(join(archiveDir, f))));
const noneThere = (rows) => rows.every((x) => x.files.every((f) => !existsSync(join(archiveDir, f))));

test('archive delete: a failed commit keeps the row and its files; a successful one removes them', async () => {
  const { a, rows } = await accountWithArchives('after-commit-arch');
  const [first, second] = rows;
  const { jar, csrf } = await signIn(a.email);
  const allow = await refuseCommit('archives', first.id);

  let r = await postForm(sys, '/archives/delete', [['csrf_token', csrf], ['id', first.id], ['password', PASSWORD]], { jar });
  assert.equal(r.status, 503, r.text.slice(-400));
  assert.match(r.text, /The service is unavailable right now\. Try again in a minute\./);
  assert.equal(await q(`SELECT deleted_at IS NULL FROM archives WHERE id = '${first.id}'`), 't');
  assert.equal(await q(`SELECT count(*) FROM audit_log WHERE account_id = '${a.id}' AND action = 'archive.delete'`), '0');
  assert.ok(allThere([first]), 'every file of the archive is still there');

  await allow();
  r = await postForm(sys, '/archives/delete', [['csrf_token', csrf], ['id', first.id], ['password', PASSWORD]], { jar });
  assert.equal(r.status, 303, r.text.slice(-400));
  assert.equal(await q(`SELECT deleted_at IS NOT NULL FROM archives WHERE id = '${first.id}'`), 't');
  assert.ok(noneThere([first]), 'the files are gone after the commit');
  assert.ok(allThere([second]), 'the other archive stays');
});

test('account delete: a failed commit keeps the account and every file; a successful one removes them', async () => {
  const { a, rows } = await accountWithArchives('after-commit-acct');
  const { jar, csrf } = await signIn(a.email);
  const allow = await refuseCommit('accounts', a.id);
  const form = [['csrf_token', csrf], ['confirm_email', a.email], ['password', PASSWORD]];

  let r = await postForm(sys, '/settings/profile/delete', form, { jar });
  assert.equal(r.status, 503, r.text.slice(-400));
  assert.match(r.text, /The service is unavailable right now\. Try again in a minute\./);
  assert.equal(await q(`SELECT deleted_at IS NULL FROM accounts WHERE id = '${a.id}'`), 't');
  assert.equal(await q(`SELECT count(*) FROM archives WHERE account_id = '${a.id}'`), String(rows.length));
  assert.ok(allThere(rows), 'every archive file is still there');
  assert.ok(existsSync(join(archiveDir, a.id)), 'the account\'s directory is still there');
  assert.equal((await httpReq(sys, { path: '/dashboard', jar })).status, 200, 'still signed in');

  await allow();
  r = await postForm(sys, '/settings/profile/delete', form, { jar });
  assert.equal(r.status, 303, r.text.slice(-400));
  assert.equal(await q(`SELECT deleted_at IS NOT NULL FROM accounts WHERE id = '${a.id}'`), 't');
  assert.ok(noneThere(rows), 'the archive files are gone after the commit');
  assert.ok(!existsSync(join(archiveDir, a.id)), 'and so is the account\'s directory');
});

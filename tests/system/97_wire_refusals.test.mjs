// The actions kept out of MCP, refused on the wire itself (issue 5 item 4,
// DOMAIN.md §4 "Enforcement, not just hiding"): bin/wire_probe plays the
// edge's side of the nng wire, PostgreSQL-backed workers dial it, and the
// test sends envelopes the edge never would.
//
// - every web operation (the worker's table in services/worker/web_ops.c,
//   the sign-in operations, and the names of the destructive dashboard
//   actions) is refused for principals apikey, oauth, collab and anon — even
//   carrying the account's live session and its password — and for kind
//   web with a missing, forged, revoked or other account's session, or no
//   account; sent as op tool, auth or gateway the names are unknown;
// - the whole database is byte for byte the same afterwards;
// - malformed envelopes (truncated, wrong version, oversize name, unknown
//   principal kind, not msgpack, hostile lengths, arguments that are not an
//   object) get a clean invalid_argument answer, and both workers still
//   answer afterwards.
// The probe speaks worker pull (proto/pull.h) as the edge does, gives each
// envelope to one worker thread and never sends it twice, so a worker that
// died on a message would show as a missing answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  BIN_DIR, DB_URL, System, createAccount, createKey, psql, unique,
} from '../lib/system.mjs';
import { Probe, who } from '../lib/wire_probe.mjs';

const PASSWORD = 'correct horse battery';   // createAccount's
const ROOT = new URL('../../', import.meta.url).pathname;

// The destructive dashboard actions (DOMAIN.md §4 "Excluded actions", issue 6), under the names the
// dashboard's web operations are likely to take, so each is sent even before it exists; the worker's own
// table (read below) adds every operation it really has.
const DESTRUCTIVE = [
  'endpoints.delete', 'endpoints.set_active', 'endpoints.deactivate', 'endpoints.clear_sandbox',
  'endpoints.regenerate_key', 'endpoints.keys.regenerate', 'endpoints.reveal_key',
  'collaborators.key_deactivate', 'collaborators.key_activate', 'collaborators.key_delete',
  'collaborators.key_regenerate', 'collaborators.key_reveal', 'collaborators.invitation_revoke',
  'collaborators.keys.deactivate', 'collaborators.keys.delete', 'collaborators.keys.regenerate',
  'collaborators.invitations.revoke',
  'subscription.change', 'subscription.change_plan', 'subscription.cancel', 'plan.change', 'plan.cancel',
  'mcp_keys.create', 'mcp_keys.regenerate', 'mcp_keys.delete', 'mcp_keys.revoke',
  'apps.revoke', 'connected_apps.revoke', 'grants.revoke',
  'archives.delete', 'account.delete', 'profile.delete', 'profile.delete_account',
];
// Operations of op auth (principal anon, before sign-in) named web.*: as op web or tool they are unknown.
const SIGN_IN_OPS = ['web.login', 'web.session', 'web.accept_invitation', 'web.signup', 'web.verify',
  'web.password_forgot', 'web.password_reset', 'web.invitation_peek'];

// The worker's web operations: the handlers table of services/worker/web_ops.c, so a new one cannot escape
// this test. [{name, readOnly}]
function workerWebOps() {
  const path = join(ROOT, 'services/worker/web_ops.c');
  if (!existsSync(path)) return [];
  const src = readFileSync(path, 'utf8');
  const table = src.match(/struct web_handler handlers\[\]\s*=\s*\{([\s\S]*?)\n\};/);
  assert.ok(table, 'web_ops.c has a handlers[] table');
  const ops = [...table[1].matchAll(/\{\s*"([^"]+)",\s*\w+,\s*(true|false)\s*\}/g)]
    .map((m) => ({ name: m[1], readOnly: m[2] === 'true' }));
  const entries = (table[1].match(/\{\s*"/g) || []).length;
  assert.equal(ops.length, entries, 'every entry of the table was read');
  return ops;
}

let sys, probe, A, B, target;


// A whole-database fingerprint: every public table's rows, hashed in a stable order.
async function fingerprint() {
  const tables = await psql(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
  const q = tables.map((t) => `SELECT '${t}', (SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))
    FROM public."${t}" x)`).join(' UNION ALL ');
  return new Map((await psql(q)).map((l) => l.split('|')));
}

function assertSame(before, afterFp, what) {
  const changed = [...before.keys()].filter((t) => afterFp.get(t) !== before.get(t));
  assert.deepEqual(changed, [], `${what}: these tables changed`);
}

// A tool call as the edge makes it for an MCP key (principal apikey with every scope).
async function asOwner(account, name, args) {
  const r = await probe.send({ op: 'tool', name, who: who(account.id, 'apikey'), args });
  assert.equal(r.ok, true, `${name}: ${JSON.stringify(r)}`);
  return r.result;
}

before(async () => {
  assert.ok(existsSync(join(BIN_DIR, 'wire_probe')), `${BIN_DIR}/wire_probe is missing: build first`);
  const stateDir = mkdtempSync(join(tmpdir(), '3min-st-'));
  const base = { ...process.env };
  delete base.DATABASE_URL;
  sys = new System({ ...base, STATE_DIR: stateDir, DATABASE_URL: DB_URL, ACCESS_LOG: '0', WORKER_THREADS: '2' },
    'wire');
  sys.stateDir = stateDir;
  probe = new Probe(`ipc://${stateDir}/workers.ipc`);
  assert.ok((await probe.next()).listening, 'the probe listens');
  sys.startWorker();
  sys.startWorker();
  const w = await probe.send({ cmd: 'wait', workers: 2, timeout_ms: 30000 });
  assert.equal(w.workers, 2, `both workers dialled in and beat\n${sys.logs()}`);

  // Account A owns something of every kind a destructive action could touch; B is another account.
  A = await createAccount('wire-a');
  B = await createAccount('wire-b');
  A.mcpKey = await createKey(A);
  const ep = (await asOwner(A, 'endpoints_create', { name: unique('Wire target') })).endpoint;
  const ck = (await asOwner(A, 'collaborators_create_key', { endpoint: ep.id, name: 'Agency' })).key;
  const inv = (await asOwner(A, 'collaborators_invite', { endpoint: ep.id, email: `${unique('guest')}@example.com` }))
    .invitation;
  const archiveId = randomUUID();
  const sha = 'a'.repeat(64);
  await psql(`INSERT INTO archives (id, account_id, endpoint_id, day, record_count, jsonl_path, jsonl_bytes, jsonl_sha256,
      csv_path, csv_bytes, csv_sha256)
    VALUES ('${archiveId}', '${A.id}', '${ep.id}', '2026-01-01', 1, 'x.jsonl.gz', 1, '${sha}', 'x.csv', 1, '${sha}')`);
  const clientId = `https://${unique('app')}.example/client`;
  await psql(`INSERT INTO oauth_clients (client_id, client_name, redirect_uris, token_endpoint_auth_method, reg_type)
    VALUES ('${clientId}', 'Wire app', ARRAY['https://app.example/cb'], 'none', 'cimd')`);
  const [grantId] = await psql(`INSERT INTO oauth_grants (account_id, client_id, scope)
    VALUES ('${A.id}', '${clientId}', 'read write execute') RETURNING id`);
  const [mcpKeyId] = await psql(`SELECT id FROM mcp_api_keys WHERE account_id = '${A.id}' LIMIT 1`);

  // Live dashboard sessions of A and B, and a revoked one of A, made by the sign-in operation itself.
  const login = async (acct) => {
    const r = await probe.send({ op: 'auth', name: 'web.login', who: who('', 'anon', []), args: { email: acct.email, password: PASSWORD, ip: '127.0.0.1' } });
    assert.equal(r.ok, true, `web.login: ${JSON.stringify(r)}`);
    return r.result.session;
  };
  A.session = await login(A);
  B.session = await login(B);
  A.revoked = await login(A);
  await psql(`UPDATE web_sessions SET revoked_at = now() WHERE token_hash = sha256(convert_to('${A.revoked}', 'UTF8'))`);
  assert.deepEqual(await psql(`SELECT count(*) FROM web_sessions WHERE token_hash = sha256(convert_to('${A.session}', 'UTF8'))
    AND account_id = '${A.id}' AND revoked_at IS NULL`), ['1'], 'the session token is what web_sessions holds');

  // Every argument name a dashboard form could carry, all pointing at A's objects, with A's password.
  target = {
    endpoint: ep.id, endpoint_id: ep.id, id: ep.id, slug: ep.slug, name: ep.name, confirm: ep.name,
    key_id: ck.id, collaboration_key_id: ck.id, environment: 'production', active: false,
    invitation_id: inv.id, archive_id: archiveId, grant_id: grantId, client_id: clientId, app_id: grantId,
    mcp_key_id: mcpKeyId, plan: 'enterprise', email: A.email, confirm_email: A.email,
    password: PASSWORD, ip: '127.0.0.1',
  };
});

after(async () => {
  await probe?.stop();
  await sys?.stop();
});

test('web operations refuse every principal but a live dashboard session of the account, and change nothing', async () => {
  const table = workerWebOps();
  const names = [...new Set([...table.map((o) => o.name), ...DESTRUCTIVE, ...SIGN_IN_OPS])];
  for (const d of ['endpoints.delete', 'archives.delete', 'account.delete']) assert.ok(names.includes(d));

  const before = await fingerprint();
  const forged = randomBytes(32).toString('base64url');
  // [label, who, extra args]: none of these is a signed-in dashboard session of the account.
  const callers = [
    ...['apikey', 'oauth', 'collab', 'anon'].map((kind) => [`${kind} with A's live session`, who(A.id, kind),
      { session: A.session }]),
    ['apikey without a session', who(A.id, 'apikey'), {}],
    ['oauth, client set', { ...who(A.id, 'oauth'), client: 'https://app.example/client' }, { session: A.session }],
    ['web without a session', who(A.id, 'web'), {}],
    ['web with an empty session', who(A.id, 'web'), { session: '' }],
    ['web with a forged session', who(A.id, 'web'), { session: forged }],
    ['web with a session that is not a string', who(A.id, 'web'), { session: { token: A.session } }],
    ['web with an oversize session', who(A.id, 'web'), { session: 'x'.repeat(5000) }],
    ['web with a revoked session', who(A.id, 'web'), { session: A.revoked }],
    ["web with B's session for A", who(A.id, 'web'), { session: B.session }],
    ["web with A's session for B", who(B.id, 'web'), { session: A.session }],
    ["web with A's session, no account", who('', 'web'), { session: A.session }],
    ["web with A's session, an account that does not exist", who(randomUUID(), 'web'), { session: A.session }],
  ];
  let sent = 0;
  for (const name of names) {
    for (const [label, principal, extra] of callers) {
      const r = await probe.send({ op: 'web', name, who: principal, args: { ...target, ...extra } });
      sent++;
      assert.equal(r.ok, false, `web ${name}, ${label}: must be refused: ${JSON.stringify(r)}`);
      assert.equal(r.id_match, true);
      assert.ok(['permission_denied', 'not_found'].includes(r.error.code), `web ${name}, ${label}: ${JSON.stringify(r)}`);
      // A known operation is refused for the caller, never reported as missing.
      if (table.some((o) => o.name === name)) assert.equal(r.error.code, 'permission_denied', `web ${name}, ${label}`);
    }
    // The same names over the other ops, with every scope and A's session: unknown there.
    for (const op of ['tool', 'auth', 'gateway']) {
      if (op === 'auth' && SIGN_IN_OPS.includes(name)) continue;   // the sign-in operations themselves
      for (const kind of ['apikey', 'oauth', 'web']) {
        const r = await probe.send({ op, name, who: who(A.id, kind), args: { ...target, session: A.session } });
        sent++;
        assert.equal(r.ok, false, `${op} ${name} as ${kind}: ${JSON.stringify(r)}`);
        assert.ok(['permission_denied', 'not_found'].includes(r.error.code), `${op} ${name} as ${kind}: ${JSON.stringify(r)}`);
      }
    }
    // Tool-style names (endpoints_delete) are no tools either; a read-only operation such as endpoints.list
    // has its MCP tool (endpoints_list).
    if (table.some((o) => o.name === name && o.readOnly)) continue;
    const toolName = name.replace(/\./g, '_');
    const r = await probe.send({ op: 'tool', name: toolName, who: who(A.id, 'apikey'), args: target });
    sent++;
    assert.equal(r.ok, false, `tool ${toolName}`);
    assert.equal(r.error.code, 'not_found', `tool ${toolName}: ${JSON.stringify(r)}`);
  }
  assert.ok(sent > names.length * callers.length);
  assertSame(before, await fingerprint(), 'after every refused operation');

  // The account's own live session is what the table's operations need: a read-only one answers (the check
  // above refuses callers, not the operation).
  const ro = table.find((o) => o.readOnly);
  if (ro) {
    const r = await probe.send({ op: 'web', name: ro.name, who: who(A.id, 'web', []), args: { session: A.session, ip: '127.0.0.1' } });
    assert.equal(r.ok, true, `web ${ro.name} with A's own session: ${JSON.stringify(r)}`);
  }
});

// Patches the first occurrence of `from` (bytes) in buf with `to`.
function patch(buf, from, to) {
  const i = buf.indexOf(from);
  assert.ok(i >= 0, `pattern ${from.toString('hex')} found`);
  return Buffer.concat([buf.subarray(0, i), to, buf.subarray(i + from.length)]);
}

test('malformed envelopes get a clean error and the workers keep answering', async () => {
  const good = { op: 'tool', name: 'endpoints_list', who: who(A.id, 'apikey'), args: {} };
  const enc = Buffer.from((await probe.send({ ...good, encode_only: true })).hex, 'hex');
  const str = (s) => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);
  const nameKey = str('name');
  const nameAt = enc.indexOf(nameKey) + nameKey.length;
  const nameLen = enc[nameAt] & 0x1f;
  const longName = Buffer.concat([Buffer.from([0xd9, 200]), Buffer.alloc(200, 'x')]);
  const cases = {
    truncated: enc.subarray(0, Math.floor(enc.length / 2)),
    'one byte short': enc.subarray(0, enc.length - 1),
    'trailing byte': Buffer.concat([enc, Buffer.from([0xc0])]),
    'version 2': patch(enc, Buffer.from([0xa1, 0x76, 0x01]), Buffer.from([0xa1, 0x76, 0x02])),
    'version 0': patch(enc, Buffer.from([0xa1, 0x76, 0x01]), Buffer.from([0xa1, 0x76, 0x00])),
    'oversize name': Buffer.concat([enc.subarray(0, nameAt), longName, enc.subarray(nameAt + 1 + nameLen)]),
    'unknown principal kind': patch(enc, str('apikey'), str('admins')),
    'unknown op': patch(enc, str('tool'), str('root')),
    'account id not text': patch(enc, str('acct'), str('accx')),
    empty: Buffer.alloc(0),
    'not msgpack': Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    'reserved byte': Buffer.from([0xc1]),
    'array32 claiming 4 billion elements': Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x00]),
    'bin32 claiming 4 GiB': Buffer.from([0x81, 0xa1, 0x76, 0xc6, 0xff, 0xff, 0xff, 0xff]),
    'nested 100 deep': Buffer.concat([Buffer.alloc(100, 0x91), Buffer.from([0x00])]),
    'a map, not an envelope': Buffer.from([0x81, 0xa1, 0x76, 0x01]),
  };
  assert.ok(cases['oversize name'].includes(Buffer.alloc(200, 'x')));
  const before = await fingerprint();
  for (const [label, bytes] of Object.entries(cases)) {
    const r = await probe.send({ hex: bytes.toString('hex'), tag: label });
    assert.equal(r.tag, label);
    assert.equal(r.transport_error, undefined, `${label}: the worker answered: ${JSON.stringify(r)}`);
    assert.equal(r.ok, false, `${label}: ${JSON.stringify(r)}`);
    assert.equal(r.error.code, 'invalid_argument', `${label}: ${JSON.stringify(r)}`);
  }
  // Well-formed envelopes whose arguments are not a JSON object.
  for (const args_text of ['[1,2]', 'null', '"text"', '{"a":', '{"a":1,"a":2}']) {
    const r = await probe.send({ ...good, args_text });
    assert.equal(r.ok, false, args_text);
    assert.equal(r.error.code, 'invalid_argument', `${args_text}: ${JSON.stringify(r)}`);
  }
  // A deadline already passed: not run.
  const late = await probe.send({ ...good, deadline_in_ms: -1000 });
  assert.equal(late.ok, false);
  assert.equal(late.error.code, 'unavailable');
  assertSame(before, await fingerprint(), 'after malformed envelopes');

  // Both workers are alive and beating, and each of them answers a good request.
  assert.equal(sys.liveWorkers().length, 2, sys.logs());
  assert.equal((await probe.send({ cmd: 'wait', workers: 2, timeout_ms: 2000 })).workers, 2);
  const pids = new Set();
  for (let i = 0; i < 60 && pids.size < 2; i++) {
    const r = await probe.send(good);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.id_match, true);
    assert.equal(r.result.items.length, 1);
    pids.add(r.worker_pid);
  }
  assert.deepEqual([...pids].sort(), sys.workers.map((x) => x.pid).sort(), 'both workers answered');
});

// Collaborators (issue 5 item 2) against a real edge, workers, bin/jobs and
// PostgreSQL, with the official MCP SDK client (every output validated with
// ajv against the tool's outputSchema):
//
// - collaborators_create_key / list_keys / update_permissions /
//   list_invitations / invite, including conflict on a duplicate name, the
//   partial permission update and its "no field" refusal;
// - the invite rules: no key → precondition_failed, several keys →
//   validation error listing them, invalid address, self-invitation,
//   re-inviting a pending address returns the same invitation, and the 21st
//   invitation of a day is refused;
// - the invitation e-mail received by a real SMTP server (bin/jobs with
//   SMTP_URL) with the accept link; accepting in a browser session (cookie
//   jar) as the invited account, refused for another account, single use,
//   and an expired link refused;
// - another account's endpoint answers not_found for every tool;
// - `3min endpoint keys` prints each collaboration key in full with its
//   name, permissions and active flags (the stored hashes, MCP's masks);
// - a key made by collaborators_create_key, as 3min endpoint keys prints
//   it, works on the gateway with its permission bits (permission_denied
//   for a missing bit).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Ajv from 'ajv';
import {
  BIN_DIR, DB_URL, startSystem, accountWithKey, createAccount, createKey, psql, request, unique, sleep,
} from '../lib/system.mjs';
import { CookieJar, httpReq, postForm, hiddenFields, isLoginPage } from '../lib/oauth.mjs';
import { smtpServer, startJobs } from '../lib/mail.mjs';

const TOOLS = ['collaborators_create_key', 'collaborators_invite', 'collaborators_list_invitations',
  'collaborators_list_keys', 'collaborators_update_permissions'];

let sys, owner, client, other, otherClient, smtp, jobs;
const validators = new Map();

async function sdkClient(key) {
  const c = new Client({ name: '3min-system-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(sys.mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  }));
  return c;
}

// Calls a tool through the SDK; returns structuredContent (validated) or {error}.
async function call(name, args, c = client) {
  const res = await c.callTool({ name, arguments: args });
  assert.ok(Array.isArray(res.content) && res.content[0].type === 'text', `${name}: a text block`);
  if (res.isError) return { error: JSON.parse(res.content[0].text).error };
  const validate = validators.get(name);
  assert.ok(validate, `${name} has an output schema`);
  assert.ok(validate(res.structuredContent), `${name} output: ${JSON.stringify(validate.errors)}`);
  assert.deepEqual(JSON.parse(res.content[0].text), res.structuredContent);
  return res.structuredContent;
}

async function newEndpoint(c = client) {
  const r = await call('endpoints_create', { name: unique('Team form') }, c);
  assert.ok(!r.error, JSON.stringify(r));
  return r.endpoint;
}



async function until(what, fn, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// Opens the accept link with the jar; signs in as account when the login form comes.
async function openAccept(path, account, jar) {
  let r = await httpReq(sys, { path, jar });
  if (isLoginPage(r)) {
    const login = await postForm(sys, '/invitations/accept',
      [...hiddenFields(r.text), ['email', account.email], ['password', 'correct horse battery']], { jar });
    assert.equal(login.status, 303, login.text.slice(0, 300));
    const next = new URL(login.headers.location);
    assert.equal(next.pathname, '/invitations/accept');
    r = await httpReq(sys, { path: next.pathname + next.search, jar });
  }
  return r;
}

function acceptPath(body) {
  const m = /(https?:\/\/\S+)(\/invitations\/accept\?token=[A-Za-z0-9_-]+)/.exec(body);
  assert.ok(m, `no accept link in:\n${body}`);
  assert.equal(m[1], sys.env.PUBLIC_URL || `http://${sys.env.EDGE_LISTEN}`);
  return m[2];
}

before(async () => {
  sys = await startSystem({ name: 'collab' });
  owner = await accountWithKey('collab-owner');
  other = await accountWithKey('collab-other');
  client = await sdkClient(owner.key);
  otherClient = await sdkClient(other.key);
  const { tools } = await client.listTools();
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const t of tools) validators.set(t.name, ajv.compile(t.outputSchema));
  smtp = await smtpServer();
  jobs = startJobs(sys, { SMTP_URL: smtp.url, MAIL_FROM: '3Min API <invitations@3minapi.test>' });
});

after(async () => {
  await client?.close();
  await otherClient?.close();
  if (jobs && jobs.child.exitCode === null) {
    jobs.child.kill('SIGTERM');
    await jobs.exited;
  }
  await smtp?.close();
  await sys?.stop();
});

test('the collaborators tools are listed with their annotations and scopes', async () => {
  const { tools } = await client.listTools();
  const byName = new Map(tools.map((t) => [t.name, t]));
  for (const n of TOOLS) {
    const t = byName.get(n);
    assert.ok(t, n);
    assert.ok(t.title && t.description && t.inputSchema && t.outputSchema, n);
    const a = t.annotations;
    for (const k of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) assert.equal(typeof a[k], 'boolean', `${n} ${k}`);
    assert.equal(a.readOnlyHint, n.includes('_list_'), n);
    assert.equal(a.destructiveHint, false, n);
  }
  // a read-only MCP key sees the lists but may not create keys or invite
  const ro = await accountWithKey('collab-ro');
  const roKey = await createKey(ro, { scopes: 'read' });
  const roClient = await sdkClient(roKey);
  try {
    const ep = await newEndpoint(client);   // any endpoint: the scope check comes first
    await assert.rejects(roClient.callTool({ name: 'collaborators_create_key', arguments: { endpoint: ep.id, name: 'x' } }),
      /insufficient_scope/);
    const listed = await roClient.callTool({ name: 'collaborators_list_keys', arguments: { endpoint: ep.id } });
    assert.equal(JSON.parse(listed.content[0].text).error.code, 'not_found', 'read scope reaches the tool');
  } finally {
    await roClient.close();
  }
});

test('create_key, list_keys and update_permissions: defaults, masking, conflict, partial update', async () => {
  const ep = await newEndpoint();
  assert.deepEqual((await call('collaborators_list_keys', { endpoint: ep.id })).keys, []);
  const created = await call('collaborators_create_key', { endpoint: ep.slug, name: 'Agency', description: 'the design agency' });
  const k = created.key;
  assert.equal(k.name, 'Agency');
  assert.equal(k.description, 'the design agency');
  assert.deepEqual(k.permissions, { create: true, read: true, update: false, delete: false });
  assert.match(k.sandbox.masked, /^tm_test_…[A-Za-z0-9_-]{4}$/);
  assert.match(k.production.masked, /^tm_live_…[A-Za-z0-9_-]{4}$/);
  assert.equal(k.sandbox.active, true);
  assert.deepEqual(k.invitations, { accepted: 0, pending: 0 });
  assert.match(created.secrets, /dashboard/);
  assert.doesNotMatch(JSON.stringify(created), /tm_(test|live)_[A-Za-z0-9_-]{43}/, 'no full secret over MCP');
  // stored as api_keys of kind collaboration, encrypted
  const rows = await psql(`SELECT environment || '|' || kind || '|' || length(key_enc) FROM api_keys WHERE collaboration_key_id = '${k.id}' ORDER BY environment`);
  assert.deepEqual(rows, ['production|collaboration|91', 'sandbox|collaboration|91']);

  const dup = await call('collaborators_create_key', { endpoint: ep.id, name: 'agency' });
  assert.equal(dup.error.code, 'conflict');

  const full = await call('collaborators_create_key', {
    endpoint: ep.id, name: 'Ops', permissions: { update: true, delete: true, create: false },
  });
  assert.deepEqual(full.key.permissions, { create: false, read: true, update: true, delete: true });

  const none = await call('collaborators_update_permissions', { endpoint: ep.id, key_id: k.id, permissions: {} });
  assert.equal(none.error.code, 'invalid_argument');
  const upd = await call('collaborators_update_permissions', { endpoint: ep.id, key_id: k.id, permissions: { update: true } });
  assert.deepEqual(upd.key.permissions, { create: true, read: true, update: true, delete: false });
  const upd2 = await call('collaborators_update_permissions', { endpoint: ep.id, key_id: k.id, permissions: { create: false } });
  assert.deepEqual(upd2.key.permissions, { create: false, read: true, update: true, delete: false });
  const missing = await call('collaborators_update_permissions', {
    endpoint: ep.id, key_id: '00000000-0000-4000-8000-000000000000', permissions: { read: true },
  });
  assert.equal(missing.error.code, 'not_found');

  const list = await call('collaborators_list_keys', { endpoint: ep.name });
  assert.deepEqual(list.keys.map((x) => x.name), ['Agency', 'Ops']);
  assert.deepEqual(list.keys[0], upd2.key);
});

test('invite rules: no key, several keys, invalid address, self, re-invite, list_invitations', async () => {
  const ep = await newEndpoint();
  const noKey = await call('collaborators_invite', { endpoint: ep.id, email: 'chris@example.com' });
  assert.equal(noKey.error.code, 'precondition_failed');
  assert.match(noKey.error.message, /collaborators_create_key/);

  const k1 = (await call('collaborators_create_key', { endpoint: ep.id, name: 'One' })).key;
  for (const bad of ['not-an-address', 'a@b', 'two@@example.com', 'sp ace@example.com', '@example.com']) {
    const r = await call('collaborators_invite', { endpoint: ep.id, email: bad });
    assert.equal(r.error?.code, 'invalid_argument', bad);
    assert.match(r.error.message, /e-mail/);
  }
  const self = await call('collaborators_invite', { endpoint: ep.id, email: owner.email.toUpperCase() });
  assert.equal(self.error.code, 'invalid_argument');
  assert.match(self.error.message, /yourself/);

  const first = await call('collaborators_invite', { endpoint: ep.id, email: 'chris@example.com', message: 'welcome aboard' });
  assert.equal(first.invitation.status, 'pending');
  assert.equal(first.invitation.key.id, k1.id);
  assert.equal(first.already_pending, false);
  const days = (Date.parse(first.invitation.expires_at) - Date.now()) / 86400000;
  assert.ok(days > 6.9 && days <= 7, `expires in 7 days: ${days}`);
  const again = await call('collaborators_invite', { endpoint: ep.id, email: 'Chris@Example.com' });
  assert.equal(again.invitation.id, first.invitation.id);
  assert.equal(again.already_pending, true);
  const queued = await psql(`SELECT count(*) FROM notifications WHERE kind = 'invitation' AND recipient = 'chris@example.com' AND endpoint_id = '${ep.id}'`);
  assert.deepEqual(queued, ['1'], 'one e-mail for the invitation, none for the re-invite');

  const k2 = (await call('collaborators_create_key', { endpoint: ep.id, name: 'Two' })).key;
  const several = await call('collaborators_invite', { endpoint: ep.id, email: 'dana@example.com' });
  assert.equal(several.error.code, 'invalid_argument');
  assert.match(several.error.message, /One/);
  assert.match(several.error.message, /Two/);
  const chosen = await call('collaborators_invite', { endpoint: ep.id, email: 'dana@example.com', key_id: k2.id });
  assert.equal(chosen.invitation.key.name, 'Two');

  const all = await call('collaborators_list_invitations', { endpoint: ep.id });
  assert.deepEqual(all.items.map((i) => i.email).sort(), ['chris@example.com', 'dana@example.com']);
  const onlyTwo = await call('collaborators_list_invitations', { endpoint: ep.id, key_id: k2.id, status: 'pending' });
  assert.deepEqual(onlyTwo.items.map((i) => i.email), ['dana@example.com']);
  assert.equal(onlyTwo.items[0].accepted_at, null);
  const keys = await call('collaborators_list_keys', { endpoint: ep.id });
  assert.deepEqual(keys.keys.map((x) => x.invitations), [{ accepted: 0, pending: 1 }, { accepted: 0, pending: 1 }]);
});

test('the 21st invitation of a day is refused', async () => {
  const acct = await accountWithKey('collab-limit');
  const c = await sdkClient(acct.key);
  try {
    const ep = await newEndpoint(c);
    const k = (await call('collaborators_create_key', { endpoint: ep.id, name: 'K' }, c)).key;
    // 19 earlier invitations today (inserted directly), then the 20th through the tool works
    await psql(`INSERT INTO invitations (account_id, collaboration_key_id, email, token_hash, status)
      SELECT '${acct.id}', '${k.id}', 'p' || g || '@example.com', sha256(('t' || g || '${unique('x')}')::bytea), 'revoked'
      FROM generate_series(1, 19) g`);
    const twentieth = await call('collaborators_invite', { endpoint: ep.id, email: 'twenty@example.com' }, c);
    assert.equal(twentieth.invitation.status, 'pending');
    const r = await call('collaborators_invite', { endpoint: ep.id, email: 'twentyone@example.com' }, c);
    assert.equal(r.error.code, 'rate_limited');
    assert.match(r.error.message, /20 invitations/);
    // re-inviting a pending address is not a new invitation and still answers
    const again = await call('collaborators_invite', { endpoint: ep.id, email: 'twenty@example.com' }, c);
    assert.equal(again.invitation.id, twentieth.invitation.id);
    // invitations older than a day do not count
    await psql(`UPDATE invitations SET created_at = now() - interval '25 hours' WHERE account_id = '${acct.id}' AND status = 'revoked'`);
    const later = await call('collaborators_invite', { endpoint: ep.id, email: 'twentyone@example.com' }, c);
    assert.equal(later.invitation.status, 'pending');
  } finally {
    await c.close();
  }
});

test('the invitation e-mail arrives with the link; the invited account accepts it once', async () => {
  const ep = await newEndpoint();
  const k = (await call('collaborators_create_key', { endpoint: ep.id, name: 'Partners' })).key;
  const invitee = await createAccount('collab-invitee');
  const inv = await call('collaborators_invite', { endpoint: ep.id, email: invitee.email, message: 'Hi, join us.' });

  const mail = await until('the invitation e-mail', () => smtp.messages.find((m) => m.rcpt.some((r) => r.includes(invitee.email))));
  assert.match(mail.data, /Subject: You are invited to collaborate/);
  assert.match(mail.data, /Hi, join us\./);
  assert.match(mail.data, new RegExp(owner.email.replace(/[.]/g, '\\.')));
  const path = acceptPath(mail.data);
  const token = new URL(path, 'http://x').searchParams.get('token');
  const [stored] = await psql(`SELECT encode(token_hash, 'hex') FROM invitations WHERE id = '${inv.invitation.id}'`);
  assert.equal(stored, createHash('sha256').update(token).digest('hex'), 'only the hash of the token is kept');

  // without a session: the sign-in form, carrying the token
  const jar = new CookieJar();
  const page = await httpReq(sys, { path, jar });
  assert.ok(isLoginPage(page), page.text.slice(0, 300));
  assert.ok(hiddenFields(page.text).some(([n, v]) => n === 'token' && v === token));

  // signed in as someone else: refused, nothing accepted
  const stranger = await createAccount('collab-stranger');
  const wrong = await openAccept(path, stranger, new CookieJar());
  assert.equal(wrong.status, 403);
  assert.match(wrong.text, /another address/);
  assert.deepEqual(await psql(`SELECT status FROM invitations WHERE id = '${inv.invitation.id}'`), ['pending']);

  const ok = await openAccept(path, invitee, jar);
  assert.equal(ok.status, 200, ok.text.slice(0, 300));
  assert.match(ok.text, /Invitation accepted/);
  assert.deepEqual(await psql(`SELECT account_id FROM collaborators WHERE collaboration_key_id = '${k.id}'`), [invitee.id]);

  const twice = await httpReq(sys, { path, jar });
  assert.equal(twice.status, 404, 'single use');
  const tampered = await httpReq(sys, { path: path.slice(0, -2) + (path.endsWith('AA') ? 'BB' : 'AA'), jar });
  assert.equal(tampered.status, 404);

  const list = await call('collaborators_list_invitations', { endpoint: ep.id, status: 'accepted' });
  assert.equal(list.items.length, 1);
  assert.equal(list.items[0].email, invitee.email);
  assert.ok(list.items[0].accepted_at);
  const keys = await call('collaborators_list_keys', { endpoint: ep.id });
  assert.deepEqual(keys.keys[0].invitations, { accepted: 1, pending: 0 });
  // accepting made the address invitable again without returning the old invitation
  const re = await call('collaborators_invite', { endpoint: ep.id, email: invitee.email });
  assert.notEqual(re.invitation.id, inv.invitation.id);
});

test('an expired invitation link is refused', async () => {
  const ep = await newEndpoint();
  await call('collaborators_create_key', { endpoint: ep.id, name: 'Late' });
  const invitee = await createAccount('collab-late');
  const inv = await call('collaborators_invite', { endpoint: ep.id, email: invitee.email });
  const mail = await until('the e-mail', () => smtp.messages.find((m) => m.rcpt.some((r) => r.includes(invitee.email))));
  const path = acceptPath(mail.data);
  await psql(`UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE id = '${inv.invitation.id}'`);
  const r = await openAccept(path, invitee, new CookieJar());
  assert.equal(r.status, 410);
  assert.match(r.text, /expired/);
  assert.deepEqual(await psql(`SELECT status FROM invitations WHERE id = '${inv.invitation.id}'`), ['expired']);
  assert.deepEqual(await psql(`SELECT count(*) FROM collaborators c JOIN collaboration_keys k ON k.id = c.collaboration_key_id WHERE k.endpoint_id = '${ep.id}'`), ['0']);
  const list = await call('collaborators_list_invitations', { endpoint: ep.id });
  assert.equal(list.items[0].status, 'expired');
});

test("another account's endpoint and keys answer not_found", async () => {
  const ep = await newEndpoint();
  const k = (await call('collaborators_create_key', { endpoint: ep.id, name: 'Mine' })).key;
  const calls = [
    ['collaborators_list_keys', { endpoint: ep.id }],
    ['collaborators_list_invitations', { endpoint: ep.slug }],
    ['collaborators_create_key', { endpoint: ep.id, name: 'Theirs' }],
    ['collaborators_update_permissions', { endpoint: ep.id, key_id: k.id, permissions: { delete: true } }],
    ['collaborators_invite', { endpoint: ep.id, email: 'x@example.com', key_id: k.id }],
  ];
  for (const [name, args] of calls) {
    const r = await call(name, args, otherClient);
    assert.equal(r.error?.code, 'not_found', name);
  }
  // their own endpoint with my key id is not_found too
  const theirs = await newEndpoint(otherClient);
  const r = await call('collaborators_update_permissions', { endpoint: theirs.id, key_id: k.id, permissions: { delete: true } }, otherClient);
  assert.equal(r.error.code, 'not_found');
  const mine = await call('collaborators_list_keys', { endpoint: ep.id });
  assert.equal(mine.keys[0].permissions.delete, false, 'nothing changed');
});

// `3min endpoint keys` (with the workers' STATE_DIR): {owner: {name: value}, collab: {id: {field: value}}}.
function endpointKeys(email, slug) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DATABASE_URL: DB_URL, STATE_DIR: sys.stateDir };
    execFile(join(BIN_DIR, '3min'), ['endpoint', 'keys', '--email', email, '--endpoint', slug], { env },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`3min endpoint keys: ${stderr}`));
        const out = { owner: {}, collab: {} };
        for (const line of stdout.trimEnd().split('\n')) {
          const m = line.match(/^collaboration_key ([0-9a-f-]{36}) (\S+) (.*)$/);
          if (m) (out.collab[m[1]] ??= {})[m[2]] = m[3];
          else { const [k, v] = line.split(' '); out.owner[k] = v; }
        }
        resolve(out);
      });
  });
}

test('3min endpoint keys prints the collaboration keys in full with names, permissions and active flags', async () => {
  const ep = await newEndpoint();
  const none = await endpointKeys(owner.email, ep.slug);
  assert.deepEqual(none.collab, {});
  assert.match(none.owner.sandbox_key, /^tm_test_[A-Za-z0-9_-]{43}$/);
  const a = (await call('collaborators_create_key', { endpoint: ep.id, name: 'Design agency' })).key;
  const b = (await call('collaborators_create_key', {
    endpoint: ep.id, name: 'Ops', permissions: { create: false, read: false },
  })).key;
  // Deactivation is a dashboard action; set the flags directly.
  await psql(`UPDATE api_keys SET active = false WHERE collaboration_key_id = '${b.id}' AND environment = 'production';
    UPDATE collaboration_keys SET active = false WHERE id = '${b.id}'`);
  const keys = await endpointKeys(owner.email, ep.slug);
  assert.deepEqual(Object.keys(keys.collab), [a.id, b.id], 'oldest first');
  const ka = keys.collab[a.id], kb = keys.collab[b.id];
  assert.equal(ka.name, 'Design agency');
  assert.equal(ka.permissions, 'create,read');
  assert.equal(ka.active, 'true');
  assert.match(ka.sandbox_key, /^tm_test_[A-Za-z0-9_-]{43} active$/);
  assert.match(ka.production_key, /^tm_live_[A-Za-z0-9_-]{43} active$/);
  assert.equal(kb.permissions, 'none');
  assert.equal(kb.active, 'false');
  assert.match(kb.production_key, / inactive$/);
  assert.match(kb.sandbox_key, / active$/);
  // They are the keys MCP shows masked, and their hashes are the stored ones.
  for (const [k, ck] of [[a, ka], [b, kb]]) {
    for (const env of ['sandbox', 'production']) {
      const full = ck[`${env}_key`].split(' ')[0];
      assert.equal(k[env].masked, `${full.slice(0, 8)}…${full.slice(-4)}`);
      const hash = createHash('sha256').update(full).digest('hex');
      assert.deepEqual(await psql(`SELECT count(*) FROM api_keys WHERE collaboration_key_id = '${k.id}'
        AND environment = '${env}' AND key_hash = '\\x${hash}'::bytea`), ['1'], `${k.name} ${env}`);
    }
  }
  // Owner lines are unchanged, and another account's address finds nothing.
  assert.deepEqual(keys.owner, none.owner);
  await assert.rejects(endpointKeys(other.email, ep.slug), /no endpoint/);
});

test('a key made by create_key works on the gateway with its permission bits', async () => {
  const ep = await newEndpoint();
  const k = (await call('collaborators_create_key', { endpoint: ep.id, name: 'App', permissions: { read: false } })).key;
  // MCP never shows the secret; operators read it with 3min endpoint keys.
  const secret = (await endpointKeys(owner.email, ep.slug)).collab[k.id].sandbox_key.split(' ')[0];
  const gw = (method, body) => request(sys, {
    method, path: `/api/v1/data/${ep.slug}`, body,
    headers: { Authorization: `Bearer ${secret}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
  });
  const post = await gw('POST', { hello: 'world' });
  assert.equal(post.status, 202, post.text);
  const denied = await gw('GET');
  assert.equal(denied.status, 403, denied.text);
  assert.equal(denied.json.error.code ?? denied.json.error, 'permission_denied');
  await call('collaborators_update_permissions', { endpoint: ep.id, key_id: k.id, permissions: { read: true, create: false } });
  const allowed = await gw('GET');
  assert.equal(allowed.status, 200, allowed.text);
  const refused = await gw('POST', { hello: 'again' });
  assert.equal(refused.status, 403, refused.text);
  const [kind] = await psql(`SELECT caller_kind FROM call_logs WHERE endpoint_id = '${ep.id}' AND method = 'POST' ORDER BY created_at LIMIT 1`);
  assert.equal(kind, 'collaboration');
});

// The dashboard's collaboration keys page (issue 6 item 3), end to end in
// headless Chromium: /dashboard/endpoints/{id}/collaborators lists the keys
// (permissions, per environment the masked key and its active flag, who
// accepted) and the invitations; creating a key and changing its
// permissions (the gateway honours them); revealing a key (password,
// audited, shown once); deactivating (password) and reactivating one
// environment's key, regenerating it and deleting the key, each seen at the
// gateway at once (403 key_inactive, 401 invalid_api_key, 200 again);
// inviting, and revoking an invitation (password), after which its link
// no longer works; and an invited person without an account who creates
// one from the invitation page, verifies the address and comes back to
// accept. Refusals (no CSRF token, wrong password, another account's ids)
// change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import {
  startSystem, accountWithKey, tool, psql, unique, request, BIN_DIR, DB_URL,
} from '../lib/system.mjs';
import { launch } from '../lib/browser.mjs';
import { smtpServer, startJobs, linkIn } from '../lib/mail.mjs';

const PASSWORD = 'correct horse battery';
let sys, smtp, jobs, b, owner, other;

before(async () => {
  sys = await startSystem({ name: 'dash-collab' });
  smtp = await smtpServer();
  jobs = startJobs(sys, { SMTP_URL: smtp.url, MAIL_FROM: '3Min API <no-reply@3minapi.test>' });
  b = await launch(sys);
  owner = await accountWithKey('dash-collab');
  other = await accountWithKey('dash-collab-other');
});
after(async () => {
  await b?.close();
  await jobs?.stop();
  await smtp?.close();
  await sys?.stop();
});

const q = async (sql) => (await psql(sql)).join('\n');
const audit = (acct) => q(`SELECT coalesce(string_agg(action, ',' ORDER BY id), '') FROM audit_log WHERE account_id = '${acct.id}'`);

async function mcp(acct, name, args) {
  const r = await tool(sys, acct.key, name, args);
  assert.ok(!r.isError, `${name}: ${JSON.stringify(r)}`);
  return r.structuredContent;
}

async function endpointWithKey(acct, label = 'Orders', keyName = 'Partners', permissions) {
  const ep = (await mcp(acct, 'endpoints_create', {
    name: unique(label), fields: [{ name: 'email', type: 'string', required: true }],
  })).endpoint;
  const key = (await mcp(acct, 'collaborators_create_key', {
    endpoint: ep.id, name: keyName, description: 'For the agency', ...(permissions ? { permissions } : {}),
  })).key;
  return { ep, key };
}

// The collaboration keys of `3min endpoint keys`: {<key id>: {sandbox_key, production_key, ...}}.
function collabKeys(email, slug) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DATABASE_URL: DB_URL, STATE_DIR: sys.stateDir };
    execFile(join(BIN_DIR, '3min'), ['endpoint', 'keys', '--email', email, '--endpoint', slug], { env },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`3min endpoint keys: ${stderr}`));
        const out = {};
        for (const line of stdout.trimEnd().split('\n')) {
          const [k, id, field, value, state] = line.split(' ');
          if (k !== 'collaboration_key') continue;
          out[id] ??= {};
          out[id][field] = value;
          if (state) out[id][`${field}_state`] = state;
        }
        resolve(out);
      });
  });
}

const gateway = (slug, key, method = 'GET', body) => request(sys, {
  method, path: `/api/v1/data/${slug}`, body,
  headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
});

async function signedIn(acct) {
  const page = await b.newPage();
  await b.signIn(acct.email, PASSWORD, { page });
  assert.equal(new URL(page.url()).pathname, '/dashboard', await page.content());
  return page;
}

const collabPath = (ep) => `/dashboard/endpoints/${ep.id}/collaborators`;

// Submits the form whose button has text `button` (inside `scope`), filling `fields` first.
async function submit(page, button, fields = {}, scope = page) {
  const inner = () => page.locator('form', { has: page.locator(`button:has-text("${button}")`) });
  const form = scope.locator('form', { has: page.locator(`button:has-text("${button}")`) });
  const details = scope.locator('details', { has: inner() });
  if (await details.count() && !(await details.evaluate((el) => el.open))) await details.locator('summary').click();
  for (const [name, value] of Object.entries(fields)) {
    const input = form.locator(`[name="${name}"]`);
    if (typeof value === 'boolean') await input.setChecked(value);
    else await input.fill(value);
  }
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    form.locator(`button:has-text("${button}")`).click(),
  ]);
  await page.waitForLoadState('load');
  return resp;
}

const section = (page, key) => page.locator(`#key-${key.id}`);

function acceptPath(body) {
  const m = /https?:\/\/\S+(\/invitations\/accept\?token=[A-Za-z0-9_-]+)/.exec(body);
  assert.ok(m, `no accept link in:\n${body}`);
  return m[1];
}

test('the page lists keys, permissions, masked keys with their state, collaborators and invitations', async () => {
  const { ep, key } = await endpointWithKey(owner, 'Listed', 'Agency', { create: true, read: true, update: true, delete: false });
  await mcp(owner, 'collaborators_invite', { endpoint: ep.id, key_id: key.id, email: 'pending@example.com' });
  const old = await mcp(owner, 'collaborators_invite', { endpoint: ep.id, key_id: key.id, email: 'late@example.com' });
  await q(`UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE id = '${old.invitation.id}'`);
  const stored = (await collabKeys(owner.email, ep.slug))[key.id];

  const page = await signedIn(owner);
  await page.goto(`/dashboard/endpoints/${ep.id}`);
  await page.click('a:has-text("Manage collaboration keys and invitations")');
  assert.equal(new URL(page.url()).pathname, collabPath(ep));
  assert.equal(await page.textContent('h1'), `Collaboration keys: ${ep.name}`);
  const s = section(page, key);
  assert.equal(await s.locator('h2').textContent(), 'Agency');
  assert.equal(await s.locator('.description').textContent(), 'For the agency');
  for (const [env, prefix] of [['sandbox', 'tm_test_'], ['production', 'tm_live_']]) {
    const cells = await s.locator('tbody tr', { hasText: env }).first().locator('th, td').allTextContents();
    assert.equal(cells[1], `${prefix}…${stored[`${env}_key`].slice(-4)}`);
    assert.equal(cells[2], 'active');
  }
  const html = await page.content();
  assert.ok(!html.includes(stored.sandbox_key) && !html.includes(stored.production_key), 'no key in the page');
  const checked = {};
  for (const bit of ['create', 'read', 'update', 'delete']) checked[bit] = await s.locator(`#perm-${key.id}-${bit}`).isChecked();
  assert.deepEqual(checked, { create: true, read: true, update: true, delete: false });
  assert.match(await s.textContent(), /0 accepted \/ 1 pending/);
  const rows = await page.locator('#invitations + div table tbody tr').allTextContents();
  assert.equal(rows.length, 2);
  assert.match(rows.find((r) => r.includes('late@example.com')), /expired/);
  assert.match(rows.find((r) => r.includes('pending@example.com')), /pending/);
  await b.screenshot('collaborators', { page });

  // Names and descriptions are text, not markup.
  const odd = (await mcp(owner, 'collaborators_create_key', { endpoint: ep.id, name: '<b>Bold</b> & co', description: '<i>x</i>' })).key;
  await page.reload();
  assert.equal(await section(page, odd).locator('h2').textContent(), '<b>Bold</b> & co');
  assert.equal(await section(page, odd).locator('.description').textContent(), '<i>x</i>');
  assert.equal(await page.locator('main b, main i').count(), 0);

  // On a phone, too.
  const phone = await b.newPage({ phone: true });
  await b.signIn(owner.email, PASSWORD, { page: phone });
  const r = await phone.goto(collabPath(ep));
  assert.equal(r.status(), 200);
});

test('create a key and change its permissions; the gateway honours them', async () => {
  const { ep } = await endpointWithKey(owner, 'Created');
  const page = await signedIn(owner);
  await page.goto(collabPath(ep));
  const before = await audit(owner);
  let resp = await submit(page, 'Create the key', { name: 'Readers', description: 'Read only', create: false, read: true });
  assert.equal(resp.status(), 303);
  assert.equal(new URL(page.url()).pathname, collabPath(ep), 'Post/Redirect/Get');
  assert.match(await page.textContent('.ok'), /collaboration key was created/);
  const [id] = await psql(`SELECT id FROM collaboration_keys WHERE endpoint_id = '${ep.id}' AND name = 'Readers'`);
  assert.deepEqual(await psql(`SELECT can_create, can_read, can_update, can_delete FROM collaboration_keys WHERE id = '${id}'`), ['f|t|f|f']);
  const key = { id };
  const stored = (await collabKeys(owner.email, ep.slug))[id];
  assert.equal((await gateway(ep.slug, stored.sandbox_key)).status, 200);
  const post = await gateway(ep.slug, stored.sandbox_key, 'POST', { email: 'a@example.com' });
  assert.equal(post.status, 403, post.text);
  assert.match(post.text, /permission_denied/);

  // A duplicate name is refused on the page, nothing made.
  resp = await submit(page, 'Create the key', { name: 'readers' });
  assert.equal(resp.status(), 409);
  assert.match(await page.textContent('.msg'), /already has a collaboration key named/);

  // Permissions: create on, read off.
  await page.goto(collabPath(ep));
  resp = await submit(page, 'Save the permissions', { create: true, read: false }, section(page, key));
  assert.equal(resp.status(), 303);
  assert.ok(await section(page, key).locator(`#perm-${id}-create`).isChecked());
  assert.ok(!(await section(page, key).locator(`#perm-${id}-read`).isChecked()));
  assert.equal((await gateway(ep.slug, stored.sandbox_key, 'POST', { email: 'a@example.com' })).status, 202);
  const get = await gateway(ep.slug, stored.sandbox_key);
  assert.equal(get.status, 403);
  assert.match(get.text, /permission_denied/);
  const actions = (await audit(owner)).slice(before.length).split(',').filter(Boolean);
  assert.deepEqual(actions, ['collaboration_key.create', 'collaboration_key.permissions']);
});

test('reveal, deactivate, reactivate, regenerate, delete: password again, audited, the gateway follows at once', async () => {
  const { ep, key } = await endpointWithKey(owner, 'Lifecycle');
  const stored = (await collabKeys(owner.email, ep.slug))[key.id];
  const page = await signedIn(owner);
  await page.goto(collabPath(ep));
  const s = () => section(page, key);
  const before = await audit(owner);

  // Reveal: a wrong password reveals nothing and records nothing.
  let resp = await submit(page, 'Reveal the sandbox key', { password: 'not my password' }, s());
  assert.equal(resp.status(), 403);
  assert.match(await page.textContent('.msg'), /wrong password/);
  assert.ok(!(await page.content()).includes(stored.sandbox_key));
  assert.equal(await audit(owner), before);
  resp = await submit(page, 'Reveal the sandbox key', { password: PASSWORD }, s());
  assert.equal(resp.status(), 303);
  assert.equal(await s().locator('#shown-secret code').textContent(), stored.sandbox_key);
  assert.ok(!page.url().includes(stored.sandbox_key.slice(8)));
  await page.reload();
  assert.equal(await page.locator('#shown-secret').count(), 0, 'shown once');
  // The production key, revealed without following the redirect: the next GET of the page shows it.
  const raw = await page.request.post(`${collabPath(ep)}/reveal`, {
    form: { key_id: key.id, environment: 'production', password: PASSWORD, csrf_token: await b.csrf({ page }) }, maxRedirects: 0,
  });
  assert.equal(raw.status(), 303);
  assert.equal(raw.headers().location.replace(/^https?:\/\/[^/]+/, ''), collabPath(ep));
  assert.ok(!(await raw.text()).includes(stored.production_key));
  await page.goto(collabPath(ep));
  assert.equal(await s().locator('#shown-secret code').textContent(), stored.production_key);
  const answers = await q(`SELECT coalesce(string_agg(result::text, ' '), '') FROM applied_requests WHERE account_id = '${owner.id}'`);
  assert.ok(!answers.includes(stored.sandbox_key), 'no key in the stored answers');

  // Deactivate the sandbox key: wrong password changes nothing; then 403 key_inactive at once.
  assert.equal((await gateway(ep.slug, stored.sandbox_key)).status, 200);
  resp = await submit(page, 'Deactivate the sandbox key', { password: 'wrong' }, s());
  assert.equal(resp.status(), 403);
  assert.equal((await gateway(ep.slug, stored.sandbox_key)).status, 200);
  resp = await submit(page, 'Deactivate the sandbox key', { password: PASSWORD }, s());
  assert.equal(resp.status(), 303);
  let g = await gateway(ep.slug, stored.sandbox_key);
  assert.equal(g.status, 403, g.text);
  assert.match(g.text, /key_inactive/);
  assert.equal(await s().locator('tbody tr', { hasText: 'sandbox' }).locator('td').nth(1).textContent(), 'inactive');
  // Reactivate (no password): accepted again.
  resp = await submit(page, 'Reactivate the sandbox key', {}, s());
  assert.equal(resp.status(), 303);
  assert.equal((await gateway(ep.slug, stored.sandbox_key)).status, 200);

  // Regenerate: the new key is shown once; the old one is 401 at once; production keeps its key.
  resp = await submit(page, 'Regenerate the sandbox key', { password: PASSWORD }, s());
  assert.equal(resp.status(), 303);
  const fresh = await s().locator('#shown-secret code').textContent();
  assert.match(fresh, /^tm_test_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(fresh, stored.sandbox_key);
  assert.match(await s().locator('#shown-secret').textContent(), /old one no longer works/);
  g = await gateway(ep.slug, stored.sandbox_key);
  assert.equal(g.status, 401, g.text);
  assert.equal((await gateway(ep.slug, fresh)).status, 200);
  assert.equal((await collabKeys(owner.email, ep.slug))[key.id].sandbox_key, fresh);

  // Delete: a wrong password deletes nothing; then both environments' keys are 401.
  resp = await submit(page, 'Delete the key', { password: 'wrong again' }, s());
  assert.equal(resp.status(), 403);
  assert.equal((await gateway(ep.slug, fresh)).status, 200);
  resp = await submit(page, 'Delete the key', { password: PASSWORD }, s());
  assert.equal(resp.status(), 303);
  assert.match(await page.textContent('.ok'), /was deleted/);
  assert.equal(await section(page, key).count(), 0);
  for (const k of [fresh, stored.production_key]) {
    g = await gateway(ep.slug, k);
    assert.equal(g.status, 401, g.text);
  }
  assert.equal(await q(`SELECT count(*) FROM api_keys WHERE collaboration_key_id = '${key.id}'`), '0');

  const actions = (await audit(owner)).slice(before.length).split(',').filter(Boolean);
  assert.deepEqual(actions, ['collaboration_key.reveal', 'collaboration_key.reveal', 'collaboration_key.deactivate', 'collaboration_key.reactivate',
    'collaboration_key.regenerate', 'collaboration_key.delete']);
  await page.goto('/audit');
  const rows = await page.locator('tbody tr').allTextContents();
  assert.match(rows[0], /collaboration_key\.delete/);
  assert.match(rows[1], /collaboration_key\.regenerate.*"environment":"sandbox"/);
});

test('no CSRF token, another account\'s ids, ids that are not UUIDs: refused, nothing changes', async () => {
  const { ep, key } = await endpointWithKey(owner, 'Guarded');
  const theirs = await endpointWithKey(other, 'Theirs');
  const inv = await mcp(other, 'collaborators_invite', { endpoint: theirs.ep.id, email: 'x@example.com' });
  const stored = (await collabKeys(owner.email, ep.slug))[key.id];
  const page = await signedIn(owner);
  await page.goto(collabPath(ep));
  const csrf = await b.csrf({ page });
  const before = await audit(owner);
  const forms = (k, e) => [
    ['reveal', { key_id: k.id, environment: 'sandbox', password: PASSWORD }],
    ['active', { key_id: k.id, environment: 'sandbox', active: 'false', password: PASSWORD }],
    ['regenerate', { key_id: k.id, environment: 'sandbox', password: PASSWORD }],
    ['delete', { key_id: k.id, password: PASSWORD }],
    ['permissions', { key_id: k.id, create: 'on', read: 'on', update: 'on', delete: 'on' }],
    ['revoke', { invitation_id: inv.invitation.id, password: PASSWORD }],
    ['create', { name: 'Sneaky' }],
    ['invite', { key_id: k.id, email: 'y@example.com' }],
  ].map(([a, f]) => [`/dashboard/endpoints/${e.id}/collaborators/${a}`, f]);

  for (const token of [undefined, 'x'.repeat(43)]) {
    for (const [path, form] of forms(key, ep)) {
      const r = await page.request.post(path, { form: token === undefined ? form : { ...form, csrf_token: token }, maxRedirects: 0 });
      assert.equal(r.status(), 403, `${path}: ${await r.text()}`);
      assert.ok(!(await r.text()).includes(stored.sandbox_key));
    }
  }
  assert.equal((await gateway(ep.slug, stored.sandbox_key)).status, 200);
  assert.equal((await collabKeys(owner.email, ep.slug))[key.id].sandbox_key, stored.sandbox_key);

  // Another account's endpoint: 404 for the page and every action, with a valid token and password.
  let r = await page.goto(collabPath(theirs.ep));
  assert.equal(r.status(), 404);
  assert.ok(!(await page.content()).includes(theirs.key.name + '</'));
  for (const [path, form] of forms(theirs.key, theirs.ep)) {
    r = await page.request.post(path, { form: { ...form, csrf_token: csrf }, maxRedirects: 0 });
    assert.equal(r.status(), 404, `${path}: ${await r.text()}`);
  }
  // Their key or invitation through this account's own endpoint: 404 as well.
  for (const [path, form] of forms(theirs.key, ep)) {
    if (path.endsWith('/create')) continue;
    r = await page.request.post(path, { form: { ...form, csrf_token: csrf }, maxRedirects: 0 });
    assert.equal(r.status(), 404, `${path}: ${await r.text()}`);
  }
  assert.equal(await q(`SELECT count(*) FROM api_keys WHERE collaboration_key_id = '${theirs.key.id}' AND active`), '2');
  assert.equal(await q(`SELECT status FROM invitations WHERE id = '${inv.invitation.id}'`), 'pending');
  assert.equal(await q(`SELECT count(*) FROM collaboration_keys WHERE name = 'Sneaky'`), '0');
  for (const path of [`/dashboard/endpoints/nope/collaborators`, `/dashboard/endpoints/${ep.id}/collaborators/x`,
    `/dashboard/endpoints/${ep.id}/collaboratorsx`, `/dashboard/endpoints/${ep.slug}/collaborators`]) {
    r = await page.goto(path);
    assert.equal(r.status(), 404, path);
  }
  r = await page.request.post(`/dashboard/endpoints/${ep.id}/collaborators/delete`, {
    form: { key_id: 'not-a-uuid', password: PASSWORD, csrf_token: csrf }, maxRedirects: 0,
  });
  assert.equal(r.status(), 404);
  assert.equal(await audit(owner), before, 'nothing was audited');
  // Signed out: to sign-in, nothing runs.
  const anon = await b.newPage();
  r = await anon.request.post(`/dashboard/endpoints/${ep.id}/collaborators/delete`, { form: { key_id: key.id, password: PASSWORD }, maxRedirects: 0 });
  assert.equal(r.status(), 303);
  assert.match(r.headers().location, /\/login\?next=/);
  assert.equal(await q(`SELECT count(*) FROM collaboration_keys WHERE id = '${key.id}'`), '1');
});

test('invite from the page, revoke (password): the revoked link no longer works', async () => {
  const { ep, key } = await endpointWithKey(owner, 'Invites');
  const page = await signedIn(owner);
  await page.goto(collabPath(ep));
  const email = `${unique('invitee')}@example.com`;
  let resp = await submit(page, 'Send the invitation', { email, message: 'Welcome aboard' }, section(page, key));
  assert.equal(resp.status(), 303);
  assert.match(await page.textContent('.ok'), /invitation was sent/);
  const mail = await smtp.waitFor(email, /invitations\/accept/);
  assert.match(mail.data, /Welcome aboard/);
  const path = acceptPath(mail.data);
  const row = page.locator('#invitations + div table tbody tr', { hasText: email });
  assert.match(await row.textContent(), /pending/);

  // The link works before the revocation: the sign-in form, prefilled with the invited address.
  const visitor = await b.newPage();
  let r = await visitor.goto(path);
  assert.equal(r.status(), 200);
  assert.equal(await visitor.inputValue('#email'), email);

  const before = await audit(owner);
  resp = await submit(page, 'Revoke the invitation of', { password: 'wrong' }, row);
  assert.equal(resp.status(), 403);
  assert.equal(await q(`SELECT status FROM invitations WHERE email = '${email}'`), 'pending');
  resp = await submit(page, 'Revoke the invitation of', { password: PASSWORD },
    page.locator('#invitations + div table tbody tr', { hasText: email }));
  assert.equal(resp.status(), 303);
  assert.match(await page.textContent('.ok'), /revoked/);
  assert.match(await page.locator('#invitations + div table tbody tr', { hasText: email }).textContent(), /revoked/);
  assert.equal(await q(`SELECT status FROM invitations WHERE email = '${email}'`), 'revoked');
  const actions = (await audit(owner)).slice(before.length).split(',').filter(Boolean);
  assert.deepEqual(actions, ['invitation.revoke']);

  r = await visitor.goto(path);
  assert.equal(r.status(), 404);
  assert.match(await visitor.textContent('body'), /not valid/);
});

test('an invited person without an account signs up from the invitation, verifies, signs in and accepts', async () => {
  const { ep, key } = await endpointWithKey(owner, 'Newcomer');
  const email = `${unique('newcomer')}@example.com`;
  await mcp(owner, 'collaborators_invite', { endpoint: ep.id, key_id: key.id, email });
  const path = acceptPath((await smtp.waitFor(email, /invitations\/accept/)).data);

  const page = await b.newPage({ phone: true });
  await page.goto(path);
  assert.equal(await page.inputValue('#email'), email, 'the sign-in form has the invited address');
  await page.click('#create-account');
  assert.equal(new URL(page.url()).pathname, '/signup');
  assert.equal(await page.inputValue('#email'), email, 'the sign-up form has the invited address');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(/\/login\?next=/), page.click('button:has-text("Create account")')]);
  assert.equal(new URL(page.url()).searchParams.get('next'), path);
  assert.match(await page.textContent('.ok'), /Check your e-mail/);

  const link = linkIn(await smtp.waitFor(email, /\/verify\?token=/), '/verify');
  await page.goto(link.pathname + link.search);
  await Promise.all([page.waitForURL(/\/login\?next=/), page.click('button:has-text("Confirm my address")')]);
  assert.equal(new URL(page.url()).searchParams.get('next'), path, 'back to the invitation after verifying');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]:has-text("Sign in")')]);
  assert.match(await page.textContent('body'), /Invitation accepted/);
  const [acct] = await psql(`SELECT id FROM accounts WHERE email = '${email}'`);
  assert.deepEqual(await psql(`SELECT account_id FROM collaborators WHERE collaboration_key_id = '${key.id}'`), [acct]);

  // The owner's page shows the collaborator and the accepted invitation.
  const owned = await signedIn(owner);
  await owned.goto(collabPath(ep));
  assert.match(await section(owned, key).textContent(), /1 accepted \/ 0 pending/);
  assert.match(await section(owned, key).locator('.collaborators').textContent(), new RegExp(email.replace(/[.]/g, '\\.')));
  assert.match(await owned.locator('#invitations + div table tbody tr', { hasText: email }).textContent(), /accepted/);
});

// End to end against the compose stack (tests/compose/run.sh brings it up
// with three workers): an account and an MCP key made with the admin CLI in
// a one-off container, then the official MCP SDK client through the
// published edge port: initialize, list tools, create an endpoint, call it
// in the sandbox, deploy it and call production over plain HTTP with the
// endpoint's own key; and the same MCP session through the TLS proxy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EDGE_URL, TLS_URL, RUN, admin, accountWithKey, connect, call, sql } from './stack.mjs';

let acct, client;

before(async () => {
  acct = await accountWithKey('compose');
  client = await connect(acct.key);
});
after(async () => {
  await client?.close();
});

test('the stack answers: /healthz, /readyz with workers, and the migrated schema', async () => {
  const h = await fetch(new URL('/healthz', EDGE_URL));
  assert.equal(h.status, 200);
  const r = await fetch(new URL('/readyz', EDGE_URL));
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal((await r.json()).workers_answering, true);
  const migrations = Number(await sql('SELECT count(*) FROM schema_migrations'));
  assert.ok(migrations >= 7, `${migrations} migrations applied`);
  // the worker and jobs roles log in with the passwords of their secret files
  const roles = await sql("SELECT DISTINCT usename FROM pg_stat_activity WHERE usename IN ('tm_worker','tm_jobs') ORDER BY 1");
  assert.deepEqual(roles.split('\n'), ['tm_jobs', 'tm_worker']);
});

test('the SDK client initializes and lists the tools', async () => {
  assert.equal(typeof client.getServerVersion().name, 'string');
  assert.ok(client.getServerCapabilities().tools);
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const n of ['help', 'endpoints_create', 'endpoints_get', 'endpoints_deploy', 'api_call', 'logs_search'])
    assert.ok(names.includes(n), `${n} in ${names}`);
  for (const t of tools) assert.ok(t.inputSchema && t.outputSchema, t.name);
});

test('create an endpoint, call it in the sandbox, deploy, call production over HTTP', async () => {
  const name = `Compose orders ${RUN}`;
  const { endpoint: ep } = await call(client, 'endpoints_create', {
    name,
    fields: [
      { name: 'email', type: 'string', required: true },
      { name: 'note', type: 'string', searchable: true },
    ],
  });
  assert.equal(ep.name, name);
  assert.ok(ep.urls.gateway.endsWith(`/api/v1/data/${ep.slug}`), ep.urls.gateway);

  const posted = await call(client, 'api_call', {
    endpoint: ep.slug, method: 'POST', body: { email: 'ann@example.com', note: 'from compose zebra' },
  });
  assert.equal(posted.response.status, 202, JSON.stringify(posted));
  const recId = posted.response.body.id;
  assert.match(recId, /^rec_[0-9a-z]{26}$/);

  const got = await call(client, 'api_call', { endpoint: ep.id, method: 'GET', record_id: recId });
  assert.equal(got.response.status, 200);
  assert.deepEqual(got.response.body.payload, { email: 'ann@example.com', note: 'from compose zebra' });

  const bad = await call(client, 'api_call', { endpoint: ep.id, method: 'POST', body: { note: 'no email' } });
  assert.equal(bad.response.status, 400);
  assert.equal(bad.response.body.error.code, 'missing_required_fields');

  const dep = await call(client, 'endpoints_deploy', { endpoint: ep.id });
  assert.equal(dep.version, 1);

  // the endpoint's production key, decrypted by the CLI with the keys secret
  const keys = Object.fromEntries((await admin(['endpoint', 'keys', '--email', acct.email, '--endpoint', ep.slug]))
    .split('\n').map((l) => l.split(' ')));
  assert.ok(keys.production_key, JSON.stringify(Object.keys(keys)));
  const live = await fetch(new URL(`/api/v1/data/${ep.slug}`, EDGE_URL), {
    method: 'POST',
    headers: { Authorization: `Bearer ${keys.production_key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'bob@example.com', note: 'production' }),
  });
  assert.equal(live.status, 202, await live.clone().text());
  const liveId = (await live.json()).id;
  const wrongKey = await fetch(new URL(`/api/v1/data/${ep.slug}`, EDGE_URL), {
    method: 'POST',
    headers: { Authorization: `Bearer ${keys.production_key}x`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'eve@example.com' }),
  });
  assert.equal(wrongKey.status, 401);

  // both records are in PostgreSQL, once each
  const rows = await sql(`SELECT environment || ' ' || id FROM records WHERE endpoint_id = '${ep.id}' ORDER BY 1`);
  assert.deepEqual(rows.split('\n'), [`production ${liveId}`, `sandbox ${recId}`]);

  const logs = await call(client, 'logs_search', { endpoint: ep.slug });
  assert.ok(logs.items.length >= 3, JSON.stringify(logs.items.map((x) => x.status_code)));
});

test('the same MCP session works through the TLS proxy (tls profile)', { skip: !TLS_URL && 'no tls profile' }, async () => {
  // run.sh trusts the proxy's self-signed certificate (NODE_EXTRA_CA_CERTS):
  // this is real certificate verification, not an insecure client.
  const tlsClient = await connect(acct.key, TLS_URL);
  try {
    const { tools } = await tlsClient.listTools();
    assert.ok(tools.some((t) => t.name === 'endpoints_list'));
    const list = await call(tlsClient, 'endpoints_list', {});
    assert.ok(list.items.some((e) => e.name === `Compose orders ${RUN}`), JSON.stringify(list.items.map((e) => e.name)));
  } finally {
    await tlsClient.close();
  }
  const plain = await fetch(new URL('/healthz', TLS_URL));
  assert.equal(plain.status, 200);
});

// Continuous MCP load on the compose stack while tests/compose/run.sh scales
// the workers: LOAD_LOOPS loops (default 4), each with its own SDK client,
// each repeating a write (api_call POST in the sandbox, which inserts one
// record) and a read (endpoints_get). Every failure counts: a thrown error,
// a tool error or a status other than the expected one.
//
//   node load.mjs STATUS_FILE   runs until SIGTERM, writing {ok, failed, posts}
//                               to STATUS_FILE every half second
// On SIGTERM it finishes the calls in flight, then checks that PostgreSQL
// holds exactly one record per acknowledged POST (nothing lost, nothing
// duplicated by a resend), writes the final status with "done": true and
// exits 0 only if nothing failed.
import { writeFileSync, renameSync } from 'node:fs';
import { RUN, accountWithKey, connect, call, sql } from './stack.mjs';

const statusFile = process.argv[2];
if (!statusFile) throw new Error('usage: node load.mjs STATUS_FILE');
const LOOPS = Number(process.env.LOAD_LOOPS || 4);
const CALL_TIMEOUT_MS = 30000;

const st = { ok: 0, failed: 0, posts: 0, errors: [], done: false };
let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
process.on('SIGINT', () => { stopping = true; });

function writeStatus() {
  writeFileSync(`${statusFile}.tmp`, JSON.stringify(st));
  renameSync(`${statusFile}.tmp`, statusFile);
}
function fail(what, err) {
  st.failed++;
  if (st.errors.length < 20) st.errors.push(`${new Date().toISOString()} ${what}: ${err?.message || err}`);
}

const acct = await accountWithKey('load');
const setup = await connect(acct.key);
const { endpoint: ep } = await call(setup, 'endpoints_create', {
  name: `Load ${RUN}`, fields: [{ name: 'n', type: 'string', required: true }],
});
await setup.close();
const posted = new Set();
const timer = setInterval(writeStatus, 500);
writeStatus();

async function loop(i) {
  const client = await connect(acct.key);
  for (let n = 0; !stopping; n++) {
    const tag = `${i}-${n}`;
    try {
      const res = await client.callTool({ name: 'api_call', arguments: { endpoint: ep.id, method: 'POST', body: { n: tag } } },
        undefined, { timeout: CALL_TIMEOUT_MS });
      const status = res.structuredContent?.response?.status;
      if (res.isError || status !== 202) fail(`POST ${tag}`, res.content?.[0]?.text || `status ${status}`);
      else { st.ok++; st.posts++; posted.add(res.structuredContent.response.body.id); }
    } catch (e) { fail(`POST ${tag}`, e); }
    try {
      const res = await client.callTool({ name: 'endpoints_get', arguments: { endpoint: ep.id } }, undefined,
        { timeout: CALL_TIMEOUT_MS });
      if (res.isError || res.structuredContent?.id !== ep.id) fail(`GET ${tag}`, res.content?.[0]?.text);
      else st.ok++;
    } catch (e) { fail(`GET ${tag}`, e); }
  }
  await client.close();
}

await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(i)));
clearInterval(timer);

// Nothing lost, nothing twice: the records are exactly the acknowledged POSTs.
const rows = (await sql(`SELECT id FROM records WHERE endpoint_id = '${ep.id}'`)).split('\n').filter(Boolean);
const stored = new Set(rows);
if (rows.length !== stored.size) fail('records', `${rows.length - stored.size} duplicated ids`);
const missing = [...posted].filter((id) => !stored.has(id));
if (missing.length) fail('records', `${missing.length} acknowledged POSTs missing: ${missing.slice(0, 3)}`);
if (rows.length !== posted.size) fail('records', `${rows.length} records stored for ${posted.size} acknowledged POSTs`);
st.records = rows.length;
st.done = true;
writeStatus();
console.log(JSON.stringify(st));
process.exit(st.failed === 0 ? 0 : 1);

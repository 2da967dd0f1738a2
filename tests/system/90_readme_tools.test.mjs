// The README's tool table is the user's map of what the AI can do: it must
// list exactly the tools of tools/list, each with the scope the server
// really requires (a key with only that scope sees the tool).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startSystem, createAccount, createKey, listAllTools } from '../lib/system.mjs';

let sys;
after(async () => { await sys?.stop(); });

function readmeTools() {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.split('### Tools')[1].split('\n\n')[1];
  const rows = new Map();
  for (const line of section.split('\n')) {
    const m = line.match(/^\| `([a-z_]+)` \| (read|write|execute) \|/);
    if (m) rows.set(m[1], m[2]);
  }
  return rows;
}

test('the README tool table lists exactly the tools of tools/list, with their scopes', async () => {
  sys = await startSystem({ name: 'readme-tools', workers: 1 });
  const acct = await createAccount('readme');
  const all = (await listAllTools(sys, await createKey(acct))).map((t) => t.name).sort();
  const rows = readmeTools();
  assert.deepEqual([...rows.keys()].sort(), all, 'README tools = tools/list');
  for (const scope of ['read', 'write', 'execute']) {
    const visible = new Set((await listAllTools(sys, await createKey(acct, { scopes: scope }))).map((t) => t.name));
    for (const [name, s] of rows) assert.equal(visible.has(name), s === scope, `${name}: README says ${s}`);
  }
});

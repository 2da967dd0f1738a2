// `make run` as a person uses it: it starts the platform against a given
// database, seeds a demo account and key (saved in STATE_DIR/demo.env), and
// the printed key works over MCP; SIGTERM to its process group (Ctrl-C) stops
// everything it started; a second `make run` reuses the state and the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { startMakeRun, legacy, request } from '../lib/system.mjs';

function demoKey(stateDir) {
  const m = readFileSync(`${stateDir}/demo.env`, 'utf8').match(/tm_mcp_[A-Za-z0-9_-]{43}/);
  assert.ok(m, 'demo.env holds an MCP key');
  return m[0];
}

test('make run serves MCP with its demo key, stops cleanly, and a second run reuses the state', async () => {
  const first = await startMakeRun({ name: 'make-run-1', keepState: true });
  const stateDir = first.stateDir;
  try {
    const key = demoKey(stateDir);
    const r = await legacy(first, key, 'tools/call', { name: 'endpoints_list', arguments: {} });
    assert.equal(r.status, 200);
    assert.equal(r.json.result.isError, false, JSON.stringify(r.json));
    assert.match(first.logs(), /Demo MCP key\s+tm_mcp_/, 'the key and client configurations are printed');
    assert.match(first.logs(), /claude mcp add --transport http/);
    await first.stop();
    // make forwards the group's TERM to run.sh, so the script sees it twice;
    // its cleanup must still run to the end before make exits.
    assert.match(first.logs(), /run: stopping/, 'the cleanup ran');
    await assert.rejects(request(first, { method: 'GET', path: '/healthz', timeoutMs: 1000 }),
      'nothing listens after the stop');

    const second = await startMakeRun({ name: 'make-run-2', stateDir, keepState: true });
    try {
      assert.equal(demoKey(stateDir), key, 'the demo key is kept');
      const again = await legacy(second, key, 'tools/list', {});
      assert.equal(again.status, 200);
      assert.ok(again.json.result.tools.length > 0);
      // Ctrl-C: every process gets the INT; none is restarted, the run ends cleanly.
      await second.stop('SIGINT');
      const log = second.logs();
      // run.sh either sees the INT itself or first sees the edge stop because of it.
      assert.match(log, /run: stopping\n/);
      assert.doesNotMatch(log, /restarting it/, 'nothing is restarted on Ctrl-C');
      await assert.rejects(request(second, { method: 'GET', path: '/healthz', timeoutMs: 1000 }),
        'nothing listens after Ctrl-C');
    } finally {
      await second.stop();
    }
  } finally {
    await first.stop().catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  }
});

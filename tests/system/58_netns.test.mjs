// Several hosts: tests/netns/run.sh runs PostgreSQL, two edges, three workers
// and a client in network namespaces of their own (private addresses on one
// bridge, no loopback between them) and checks that calls through either
// edge are served by all three workers, survive a worker killed under load
// with each write once, and that a revoked key stops at both edges. It needs
// root and `ip netns`; without them it is skipped, loudly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BIN_DIR, LOG_DIR } from '../lib/system.mjs';

const script = new URL('../netns/run.sh', import.meta.url).pathname;

test('several hosts in network namespaces: two edges, three workers, PostgreSQL; a worker killed; a key revoked', async (t) => {
  const { code, output } = await new Promise((resolve) => {
    const child = spawn(script, [BIN_DIR], { env: { ...process.env, TEST_LOG_DIR: LOG_DIR }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => { output += c; });
    child.stderr.on('data', (c) => { output += c; });
    const timer = setTimeout(() => child.kill('SIGTERM'), 280000);   // the script cleans up on TERM
    child.on('close', (c) => { clearTimeout(timer); resolve({ code: c, output }); });
  });
  if (code === 77) {
    console.error(`\n*** NETNS TEST SKIPPED: ${output.trim()} ***\n`);
    t.skip(output.trim());
    return;
  }
  for (const line of output.trim().split('\n')) t.diagnostic(line);
  assert.equal(code, 0, output);
});

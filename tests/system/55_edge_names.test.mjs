// Workers find edges by name, as the cluster manifests rely on (README,
// "Running on a cluster"): EDGE_URLS lists one name per edge pod, a name
// that does not resolve yet (the pod is not scheduled) is redialed until it
// does, and a name that moves to another address (the pod was replaced) is
// resolved again on the next attempt, with no worker restart.
//
// The worker runs in a mount namespace of its own whose /etc/hosts is a file
// of this test: adding and changing lines there stands in for the cluster
// DNS publishing and moving a pod's name. Needs root (unshare --mount).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BIN_DIR, LOG_DIR, SANITIZER_RE, freePort, startSystem, request, accountWithKey, tool, sleep,
} from '../lib/system.mjs';

const canUnshare = process.getuid?.() === 0 &&
  spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0;

const NAME0 = 'edge-0.edge-workers.k8s.test';
const NAME1 = 'edge-1.edge-workers.k8s.test';

async function readyz(sys) {
  return (await request(sys, { method: 'GET', path: '/readyz', timeoutMs: 3000 })).status;
}

test('a worker dials edges by name: names that appear later and names that move are found again',
  { skip: !canUnshare && 'needs root and unshare --mount' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), '3min-names-'));
    const hosts = join(dir, 'hosts');
    // Only edge-0 is published at first.
    writeFileSync(hosts, `127.0.0.1 localhost\n127.0.0.1 ${NAME0}\n`);
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await startSystem({ name: 'names-a', workers: 0, env: { WORKER_LISTEN: `tcp://127.0.0.1:${pa}` } });
    let b = await startSystem({ name: 'names-b', workers: 0, env: { WORKER_LISTEN: `tcp://127.0.0.1:${pb}` } });
    const logPath = join(LOG_DIR, `names-worker-${process.pid}.log`);
    const log = createWriteStream(logPath);
    // unshare and sh exec the worker in place: the PID is the worker's.
    const worker = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      'mount --bind "$1" /etc/hosts && exec "$2"', 'sh', hosts, join(BIN_DIR, 'worker')], {
      env: { ...a.env, WORKER_LISTEN: '', EDGE_URLS: `tcp://${NAME0}:${pa},tcp://${NAME1}:${pb}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout.pipe(log);
    worker.stderr.pipe(log);
    const exited = new Promise((resolve) => worker.on('exit', resolve));
    try {
      await a.waitReady(200);
      assert.equal(await readyz(b), 503, 'an edge whose name does not resolve has no worker');

      // The name is published: the same worker reaches the second edge.
      appendFileSync(hosts, `127.0.0.1 ${NAME1}\n`);
      await b.waitReady(200);
      const { key } = await accountWithKey('names');
      const viaB = await tool(b, key, 'endpoints_list', {});
      assert.ok(!viaB.isError, JSON.stringify(viaB));

      // The second edge is replaced by one at another address under the same name.
      await b.stop();
      b = await startSystem({ name: 'names-b2', workers: 0, env: { WORKER_LISTEN: `tcp://127.0.0.2:${pb}` } });
      writeFileSync(hosts, `127.0.0.1 localhost\n127.0.0.1 ${NAME0}\n127.0.0.2 ${NAME1}\n`);
      await b.waitReady(200);
      const viaB2 = await tool(b, key, 'endpoints_list', {});
      assert.ok(!viaB2.isError, JSON.stringify(viaB2));
      const viaA = await tool(a, key, 'endpoints_list', {});
      assert.ok(!viaA.isError, JSON.stringify(viaA));
    } finally {
      if (worker.exitCode === null && worker.signalCode === null) {
        process.kill(worker.pid, 'SIGTERM');
        const t = setTimeout(() => { try { process.kill(worker.pid, 'SIGKILL'); } catch { /* gone */ } }, 10000);
        await exited;
        clearTimeout(t);
      }
      await Promise.all([a.stop(), b.stop()]);
      await sleep(50);
      log.end();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.doesNotMatch(readFileSync(logPath, 'utf8'), SANITIZER_RE);
  });

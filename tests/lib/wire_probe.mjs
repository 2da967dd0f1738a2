// bin/wire_probe (tests/tools/wire_probe.c) driven from a test: it plays the
// edge's side of the edge-worker wire on `url`, so a test can send workers
// envelopes the edge itself would never send. send(obj) writes one request
// line and resolves with the answer line (one request at a time).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BIN_DIR, LOG_DIR, SANITIZER_RE } from './system.mjs';

export class Probe {
  constructor(url, name = 'wire-probe') {
    this.log = createWriteStream(join(LOG_DIR, `${name}-${process.pid}-${Date.now()}.log`));
    this.child = spawn(join(BIN_DIR, 'wire_probe'), [url, '--timeout-ms', '20000'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.stderr = '';
    this.child.stderr.on('data', (c) => { this.log.write(c); this.stderr += c; });
    this.waiting = [];
    this.lines = [];
    createInterface({ input: this.child.stdout }).on('line', (l) => {
      this.log.write(`< ${l}\n`);
      const w = this.waiting.shift();
      if (w) w(JSON.parse(l)); else this.lines.push(JSON.parse(l));
    });
    this.exited = new Promise((r) => this.child.on('exit', r));
  }

  next() {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    return new Promise((r) => this.waiting.push(r));
  }

  send(obj) {
    const line = JSON.stringify(obj);
    this.log.write(`> ${line.slice(0, 400)}\n`);
    this.child.stdin.write(`${line}\n`);
    return this.next();
  }

  // Ends the probe; it must exit 0 without a sanitizer report.
  async stop() {
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const code = await this.exited;
    clearTimeout(t);
    assert.doesNotMatch(this.stderr, SANITIZER_RE, 'wire_probe: sanitizer report');
    assert.equal(code, 0, `wire_probe exit: ${this.stderr}`);
  }
}

// The principal of an envelope: account id, kind (apikey, oauth, collab, anon, ...) and scopes.
export const who = (acct, kind, scopes = ['read', 'write', 'execute']) => ({ acct, kind, client: '', key: '', scopes });

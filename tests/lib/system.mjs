// system.mjs — helpers of the system tests: start a real edge and real
// workers against the throwaway cluster of tests/run-system.sh, make accounts
// and keys with bin/3min, and speak raw MCP over HTTP in both protocol eras.
//
// Environment (set by run-system.sh): BIN_DIR, TEST_DATABASE_URL,
// TEST_LOG_DIR (process logs; run-system.sh scans them for sanitizer
// reports), TEST_PSQL, TEST_SANITIZED=1 for the ASan/UBSan build.
//
// Every process is started by this module and stopped by its PID only.

import { spawn, execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, mkdirSync, rmSync, appendFileSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export const BIN_DIR = process.env.BIN_DIR || new URL('../../bin', import.meta.url).pathname;
export const DB_URL = process.env.TEST_DATABASE_URL;
export const SANITIZED = process.env.TEST_SANITIZED === '1';
export const LOG_DIR = process.env.TEST_LOG_DIR || mkdtempSync(join(tmpdir(), '3min-test-logs-'));
export const PSQL = process.env.TEST_PSQL || 'psql';
export const MODERN = '2026-07-28';
export const SANITIZER_RE = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/;

if (!DB_URL) throw new Error('TEST_DATABASE_URL is not set: run the suite through tests/run-system.sh');
mkdirSync(LOG_DIR, { recursive: true });

const RUN = randomBytes(4).toString('hex');   // makes e-mails unique per run
let seq = 0;
export const unique = (prefix) => `${prefix}-${RUN}-${++seq}`;

// ---- processes -------------------------------------------------------------

const TAIL_LINES = 40;
const live = new Set();   // every process started here and not yet exited

// A test that fails half-way must not leave processes behind (they would
// also keep this Node process alive): kill what is left, by PID.
process.on('exit', () => {
  for (const p of live) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

// One child process with its stderr in a log file and the last lines kept.
class Proc {
  constructor(name, bin, env) {
    this.name = name;
    this.logPath = join(LOG_DIR, `${name}-${RUN}-${++seq}.log`);
    this.lines = [];
    const log = createWriteStream(this.logPath);
    this.child = spawn(join(BIN_DIR, bin), [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    this.exit = null;
    live.add(this);
    let partial = '';
    const keep = (chunk) => {
      log.write(chunk);
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop();
      this.lines.push(...parts);
      if (this.lines.length > TAIL_LINES) this.lines.splice(0, this.lines.length - TAIL_LINES);
    };
    this.child.stderr.on('data', keep);
    this.child.stdout.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        live.delete(this);
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    this.closed = new Promise((resolve) => this.child.on('close', () => { log.end(); resolve(); }));
  }
  get running() { return this.exit === null; }
  tail() { return `--- last lines of ${this.name} (pid ${this.pid}, ${this.logPath}) ---\n${this.lines.join('\n')}`; }
  signal(sig) { if (this.running) process.kill(this.pid, sig); }
  // SIGTERM, then SIGKILL after `timeoutMs`. Resolves with {code, signal}.
  async stop(timeoutMs = 10000) {
    if (!this.running) return this.exit;
    this.signal('SIGTERM');
    this.signal('SIGCONT');   // a test may have paused it
    const t = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(t);
    await this.closed;
    return r;
  }
  async kill() {
    if (!this.running) return this.exit;
    this.signal('SIGKILL');
    const r = await this.exited;
    await this.closed;
    return r;
  }
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A running system: one edge and N workers sharing a private STATE_DIR.
export class System {
  constructor(env, name) {
    this.name = name;
    this.env = env;
    this.workers = [];
    this.edge = null;
  }
  get url() { return `http://127.0.0.1:${this.port}`; }
  get mcpUrl() { return `${this.url}/api/mcp`; }

  startEdge() {
    this.checkNotStopped();
    this.edge = new Proc(`${this.name}-edge`, 'edge', this.env);
    return this.edge;
  }
  checkNotStopped() {
    if (this.stopped) throw new Error(`${this.name}: the system was stopped`);
  }
  startWorker() {
    this.checkNotStopped();
    const w = new Proc(`${this.name}-worker${this.workers.length + 1}`, 'worker', this.env);
    this.workers.push(w);
    return w;
  }
  liveWorkers() { return this.workers.filter((w) => w.running); }
  async killWorker(i) { return this.workers[i].kill(); }
  async stopWorkers() { await Promise.all(this.workers.map((w) => w.stop())); }
  async restartWorker(i) {
    await this.workers[i].stop();
    this.checkNotStopped();
    const w = new Proc(`${this.name}-worker${i + 1}r`, 'worker', this.env);
    this.workers[i] = w;
    return w;
  }

  // Waits until GET /readyz answers `status` (200: a worker answered).
  async waitReady(status = 200, timeoutMs = 30000) {
    const end = Date.now() + timeoutMs;
    let last;
    while (Date.now() < end) {
      if (this.edge && !this.edge.running) break;
      try {
        last = await request(this, { method: 'GET', path: '/readyz', timeoutMs: 2000 });
        if (last.status === status) return last;
      } catch (e) {
        last = e;
      }
      await sleep(50);
    }
    throw new Error(`/readyz did not answer ${status} within ${timeoutMs} ms (last: ${last?.status ?? last})\n${this.logs()}`);
  }

  logs() {
    return [this.edge, ...this.workers].filter(Boolean).map((p) => p.tail()).join('\n');
  }

  // Stops every process of the system; no process can be started after.
  async stop() {
    this.stopped = true;
    const procs = [...this.workers, this.edge].filter(Boolean);
    await Promise.all(procs.map((p) => p.stop()));
    if (!this.keepState) rmSync(this.stateDir, { recursive: true, force: true });
  }
}

// Starts an edge and `workers` workers; resolves when /readyz is 200 (or,
// without workers, when /healthz is). `env` is added to the processes'
// environment.
export async function startSystem({ name = 'sys', workers = 2, env = {} } = {}) {
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), '3min-st-'));
  const base = { ...process.env };
  delete base.DATABASE_URL;
  const sys = new System({
    ...base,
    STATE_DIR: stateDir,
    EDGE_LISTEN: `127.0.0.1:${port}`,
    DATABASE_URL: DB_URL,
    ACCESS_LOG: '0',
    ...env,
  }, name);
  sys.port = port;
  sys.stateDir = stateDir;
  sys.startEdge();
  for (let i = 0; i < workers; i++) sys.startWorker();
  try {
    if (workers > 0) await sys.waitReady(200);
    else await waitHealthy(sys);
  } catch (e) {
    await sys.stop();
    throw e;
  }
  return sys;
}

// `make run` itself, as an operator starts it (deps, build, then
// deploy/run.sh: migrations, demo account, one edge and `workers` workers),
// on a free loopback port with a private STATE_DIR and the test database.
// It runs in its own process group; stop() sends SIGTERM to the group, which
// is what Ctrl-C does, and checks that nothing it started is left behind.
export async function startMakeRun({ name = 'make-run', workers = 2, env = {}, stateDir: reuse, keepState = false } = {}) {
  const port = await freePort();
  const stateDir = reuse || mkdtempSync(join(tmpdir(), '3min-mr-'));
  const root = new URL('../..', import.meta.url).pathname;
  const logPath = join(LOG_DIR, `${name}-${RUN}-${++seq}.log`);
  const out = openSync(logPath, 'a');
  const child = spawn('make', ['-s', '-C', root, 'run'], {
    env: { ...process.env, STATE_DIR: stateDir, EDGE_LISTEN: `127.0.0.1:${port}`, DATABASE_URL: DB_URL,
      WORKERS: String(workers), BIN_DIR, ACCESS_LOG: '0', ...env },
    stdio: ['ignore', out, out],
    detached: true,
  });
  closeSync(out);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const sys = {
    name, port, stateDir, pid: child.pid,
    get url() { return `http://127.0.0.1:${port}`; },
    get mcpUrl() { return `${this.url}/api/mcp`; },
    logs() { return `--- ${logPath} ---\n${readFileSync(logPath, 'utf8').split('\n').slice(-60).join('\n')}`; },
    // SIGTERM to the group, or SIGINT: what Ctrl-C in a terminal sends.
    async stop(signal = 'SIGTERM') {
      try { process.kill(-child.pid, signal); } catch { /* already gone */ }
      const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 30000);
      const r = await exited;
      clearTimeout(t);
      if (!keepState) rmSync(stateDir, { recursive: true, force: true });
      return r;
    },
  };
  const end = Date.now() + 120000;   // the first `make run` may still build
  for (;;) {
    try {
      if ((await request(sys, { method: 'GET', path: '/readyz', timeoutMs: 2000 })).status === 200) return sys;
    } catch { /* not listening yet */ }
    if (Date.now() > end || (await Promise.race([exited, sleep(200).then(() => null)]))) {
      const logs = sys.logs();
      await sys.stop();
      throw new Error(`make run did not become ready\n${logs}`);
    }
  }
}

async function waitHealthy(sys, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if ((await request(sys, { method: 'GET', path: '/healthz', timeoutMs: 1000 })).status === 200) return;
    } catch { /* not listening yet */ }
    await sleep(50);
  }
  throw new Error(`/healthz did not answer within ${timeoutMs} ms\n${sys.logs()}`);
}

// ---- bin/3min --------------------------------------------------------------

export function run3min(args, { input } = {}) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DATABASE_URL: DB_URL };
    const child = execFile(join(BIN_DIR, '3min'), args, { env, timeout: 60000 }, (err, stdout, stderr) => {
      appendFileSync(join(LOG_DIR, `3min-${RUN}.log`), `$ 3min ${args.join(' ')}\n${stderr}`);
      if (SANITIZER_RE.test(stderr)) return reject(new Error(`3min ${args[0]}: sanitizer report:\n${stderr}`));
      if (err) return reject(new Error(`3min ${args.join(' ')} failed (${err.code}): ${stderr}`));
      resolve(stdout.trim());
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

// A new account; returns {id, email}.
export async function createAccount(label = 'acct') {
  const email = `${unique(label)}@example.com`;
  const id = await run3min(['account', 'create', '--email', email, '--password', 'correct horse battery']);
  return { id, email };
}

// A new MCP key for the account; returns the key.
export async function createKey(account, { scopes, name } = {}) {
  const args = ['mcp-key', 'create', '--email', account.email];
  if (name) args.push('--name', name);
  if (scopes) args.push('--scopes', scopes);
  return run3min(args);
}

// The id of a key, from `3min mcp-key list` (the PREFIX column).
export async function keyId(account, key) {
  const out = await run3min(['mcp-key', 'list', '--email', account.email]);
  const prefix = `${key.slice(0, 11)}…`;
  const line = out.split('\n').find((l) => l.split(/\s+/).includes(prefix));
  if (!line) throw new Error(`key ${prefix} not in:\n${out}`);
  return line.split(/\s+/)[0];
}

export async function revokeKey(account, key) {
  return run3min(['mcp-key', 'revoke', await keyId(account, key)]);
}

// An account with a key of all scopes: {id, email, key}.
export async function accountWithKey(label) {
  const a = await createAccount(label);
  a.key = await createKey(a);
  return a;
}

// ---- psql ------------------------------------------------------------------

// The test database URL with another user (the worker role for RLS checks).
export function dbUrlAs(user) {
  const u = new URL(DB_URL);
  u.searchParams.set('user', user);
  return u.toString();
}

// Runs SQL commands (each its own -c) and returns the output lines.
export function psql(commands, { user } = {}) {
  const url = user ? dbUrlAs(user) : DB_URL;
  const args = [url, '-XtAq', '-v', 'ON_ERROR_STOP=1'];
  for (const c of [].concat(commands)) args.push('-c', c);
  return new Promise((resolve, reject) => {
    execFile(PSQL, args, { timeout: 30000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`psql failed: ${stderr}`));
      resolve(stdout.split('\n').filter((l) => l !== ''));
    });
  });
}

// ---- HTTP and MCP ------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

// One HTTP request. Resolves with {status, headers, text, json}.
export function request(sys, { method = 'POST', path = '/api/mcp', headers = {}, body, timeoutMs = 60000, keepAlive = true } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const h = { ...headers };
    if (data !== undefined) h['Content-Length'] = Buffer.byteLength(data);
    const req = http.request({
      host: '127.0.0.1', port: sys.port, method, path, headers: h,
      agent: keepAlive ? agent : false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

let rpcId = 0;
export const nextId = () => ++rpcId;

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

function authHeaders(key) {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// POST a body as-is (object or string) with the default MCP headers.
export function postRaw(sys, body, { key, headers = {}, ...opts } = {}) {
  return request(sys, { body, headers: { ...JSON_HEADERS, ...authHeaders(key), ...headers }, ...opts });
}

// Sends only the head of a POST that announces a body of `length` bytes and
// resolves with the status the server answers before any body is sent (or
// rejects if it closes without answering within timeoutMs). For limits the
// server enforces from Content-Length alone: sending the body as well races
// the server's early answer and close (the client may see EPIPE or a reset
// instead of the answer).
export function announceBody(sys, path, length, { key, headers = {}, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(sys.port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer within ${timeoutMs} ms`)); }, timeoutMs);
    const all = { Host: `127.0.0.1:${sys.port}`, ...JSON_HEADERS, ...authHeaders(key), ...headers,
      'Content-Length': String(length), Connection: 'close' };
    sock.on('connect', () => {
      sock.write(`POST ${path} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
    });
    sock.on('data', (c) => {
      got += c.toString('latin1');
      const m = got.match(/^HTTP\/1\.[01] (\d{3}) /);
      if (m) { clearTimeout(timer); sock.destroy(); resolve(Number(m[1])); }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => { clearTimeout(timer); reject(new Error(`closed without an answer: ${JSON.stringify(got)}`)); });
  });
}

// Legacy era: a plain JSON-RPC request. `id: null` sends a notification.
export function legacy(sys, key, method, params, { id = nextId(), headers = {}, ...opts } = {}) {
  const body = { jsonrpc: '2.0', method };
  if (id !== null) body.id = id;
  if (params !== undefined) body.params = params;
  return postRaw(sys, body, { key, headers, ...opts });
}

// Modern era (2026-07-28): _meta with the version and client capabilities,
// and the MCP-Protocol-Version, Mcp-Method and Mcp-Name headers.
export function modernBody(method, params = {}, id = nextId()) {
  return {
    jsonrpc: '2.0', id, method,
    params: {
      ...params,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientCapabilities': {},
        ...(params._meta || {}),
      },
    },
  };
}

export function modernHeaders(method, params = {}) {
  const h = { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': method };
  if (method === 'tools/call' && params.name !== undefined) h['Mcp-Name'] = params.name;
  return h;
}

export function modern(sys, key, method, params = {}, { id = nextId(), headers = {}, body, ...opts } = {}) {
  return postRaw(sys, body ?? modernBody(method, params, id), {
    key, headers: { ...modernHeaders(method, params), ...headers }, ...opts,
  });
}

// tools/call in either era; returns the HTTP response.
export function callTool(sys, key, name, args = {}, { era = 'legacy', ...opts } = {}) {
  const params = { name, arguments: args };
  return era === 'modern' ? modern(sys, key, 'tools/call', params, opts) : legacy(sys, key, 'tools/call', params, opts);
}

// tools/call that must produce a tool result; returns result (throws on a
// protocol or HTTP error, with the response in the message).
export async function tool(sys, key, name, args = {}, opts = {}) {
  const r = await callTool(sys, key, name, args, opts);
  if (r.status !== 200 || !r.json?.result) {
    throw new Error(`tools/call ${name}: HTTP ${r.status} ${r.text}`);
  }
  return r.json.result;
}

// The {code, message, details} of an isError tool result.
export function toolError(result) {
  if (!result.isError) throw new Error(`expected an error result, got ${JSON.stringify(result)}`);
  return JSON.parse(result.content[0].text).error;
}

// Every tool name visible to `key`, following nextCursor.
export async function listAllTools(sys, key, { era = 'legacy' } = {}) {
  const tools = [];
  let cursor;
  for (let pages = 0; pages < 100; pages++) {
    const params = cursor ? { cursor } : {};
    const r = era === 'modern' ? await modern(sys, key, 'tools/list', params) : await legacy(sys, key, 'tools/list', params);
    if (r.status !== 200 || !r.json?.result) throw new Error(`tools/list: HTTP ${r.status} ${r.text}`);
    tools.push(...r.json.result.tools);
    cursor = r.json.result.nextCursor;
    if (!cursor) return tools;
  }
  throw new Error('tools/list: more than 100 pages');
}

export { sleep };

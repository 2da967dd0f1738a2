// Helpers of the compose tests (tests/compose/run.sh starts the stack and
// passes its coordinates in the environment): the admin CLI as a one-off
// container, and the official MCP SDK client against the published edge.
import { execFile } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export const PROJECT = process.env.COMPOSE_PROJECT;
export const ROOT = process.env.COMPOSE_ROOT || new URL('../..', import.meta.url).pathname;
export const EDGE_URL = process.env.COMPOSE_EDGE_URL;          // http://127.0.0.1:<port>
export const TLS_URL = process.env.COMPOSE_TLS_URL || '';      // https://127.0.0.1:<port> (tls profile)
export const RUN = process.env.COMPOSE_RUN_ID || `${process.pid}`;

if (!PROJECT || !EDGE_URL) throw new Error('run through tests/compose/run.sh (COMPOSE_PROJECT, COMPOSE_EDGE_URL)');

// The Compose program run.sh is testing: docker-compose 1.29, or a Compose v2 binary.
export const COMPOSE_BIN = process.env.COMPOSE_BIN || 'docker-compose';

// Compose with this run's project; resolves with stdout.
export function compose(args, { timeoutMs = 120000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(COMPOSE_BIN, ['-p', PROJECT, ...args], { cwd: ROOT, timeout: timeoutMs, env: process.env },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${COMPOSE_BIN} ${args.join(' ')} failed (${err.code}): ${stderr}`));
        resolve(stdout.trim());
      });
  });
}

// `3min ARGS` in a one-off container of the migrate service (the owner's
// database URL and the secrets are configured there).
export function admin(args) {
  return compose(['run', '--rm', '--no-deps', '-T', 'migrate', '/usr/local/bin/3min', ...args]);
}

// psql inside the db container, as the owner; rows as text lines.
export function sql(query) {
  return compose(['exec', '-T', 'db', 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', 'tm_owner',
    '-d', 'threemin', '-c', query]);
}

// An account on the given plan with an MCP key of every scope: {id, email, key}.
export async function accountWithKey(label, plan = 'pro') {
  const email = `${label}-${RUN}-${Date.now()}@example.com`;
  const id = await admin(['account', 'create', '--email', email, '--password', 'correct horse battery', '--plan', plan]);
  const key = await admin(['mcp-key', 'create', '--email', email, '--name', label]);
  if (!/^tm_mcp_/.test(key)) throw new Error(`unexpected key from 3min mcp-key create: ${key}`);
  return { id, email, key };
}

// A connected SDK client for the key, at base (EDGE_URL or TLS_URL).
export async function connect(key, base = EDGE_URL) {
  const client = new Client({ name: '3min-compose-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/api/mcp', base), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  await client.connect(transport);
  return client;
}

// callTool that throws on a tool error; returns structuredContent.
export async function call(client, name, args = {}) {
  const res = await client.callTool({ name, arguments: args });
  if (res.isError) throw new Error(`${name}: ${res.content?.[0]?.text}`);
  return res.structuredContent;
}

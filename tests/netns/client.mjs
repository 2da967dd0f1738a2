// client.mjs — the MCP client of tests/netns/run.sh, run inside the client
// namespace: `count` endpoints_create calls (`concurrency` at a time) spread
// over the edge URLs in turn, each with its own name. Prints one JSON line:
// {ok, failed: [...], names: [...], slowest_ms}. Only plain HTTP, no SDK, so
// it needs nothing but node.
//
// Usage: node client.mjs <url,url,...> <key> <count> <concurrency> <tag> [tool]
import http from 'node:http';

const [urlsArg, key, countArg, concArg, tag, toolName = 'endpoints_create'] = process.argv.slice(2);
const urls = urlsArg.split(',');
const count = Number(countArg), conc = Number(concArg);

function call(url, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const u = new URL(url);
    const req = http.request({
      host: u.hostname, port: u.port, path: '/api/mcp', method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${key}`, 'Content-Length': Buffer.byteLength(data) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(20000, () => req.destroy(new Error('no answer in 20 s')));
    req.on('error', reject);
    req.end(data);
  });
}

const out = { ok: 0, failed: [], names: [], statuses: {}, slowest_ms: 0 };
let next = 0;
async function worker() {
  while (next < count) {
    const i = next++;
    const name = `${tag} ${i}`;
    const url = urls[i % urls.length];
    const args = toolName === 'endpoints_create' ? { name } : {};
    const t0 = Date.now();
    try {
      const r = await call(url, { jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: toolName, arguments: args } });
      out.statuses[r.status] = (out.statuses[r.status] || 0) + 1;
      const j = r.status === 200 ? JSON.parse(r.text) : null;
      if (j?.result && !j.result.isError) {
        out.ok++;
        if (toolName === 'endpoints_create') out.names.push(name);
      } else {
        out.failed.push(`${name} via ${url}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
      }
    } catch (e) {
      out.failed.push(`${name} via ${url}: ${e.message}`);
    }
    out.slowest_ms = Math.max(out.slowest_ms, Date.now() - t0);
  }
}
await Promise.all(Array.from({ length: conc }, worker));
process.stdout.write(`${JSON.stringify(out)}\n`);

// mail.mjs — e-mail for tests: a minimal SMTP server on loopback that
// collects what bin/jobs sends (RFC 5321 as bin/jobs speaks it; nothing of
// bin/jobs is mocked), and bin/jobs itself started against a system.
//
//   const smtp = await smtpServer();
//   const jobs = startJobs(sys, { SMTP_URL: smtp.url });
//   const msg = await smtp.waitFor((m) => m.rcpt.includes('<a@example.com>'));
//   const link = linkIn(msg, '/verify');
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { BIN_DIR, LOG_DIR, sleep } from './system.mjs';

let jobsSeq = 0;

// bin/jobs with the system's environment plus env; stop() ends it (SIGTERM).
export function startJobs(sys, env = {}) {
  const log = createWriteStream(join(LOG_DIR, `jobs-${process.pid}-mail-${++jobsSeq}.log`));
  const child = spawn(join(BIN_DIR, 'jobs'), [], { env: { ...sys.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { child, lines: [], exited: new Promise((r) => child.on('exit', (code, signal) => r({ code, signal }))) };
  const keep = (c) => { log.write(c); p.lines.push(...c.toString().split('\n').filter(Boolean)); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  p.stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return p.exited;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 15000);
    const r = await p.exited;
    clearTimeout(t);
    return r;
  };
  return p;
}

// Messages as {from, rcpt: ['<addr>'], data (headers and body, dot-stuffing undone)};
// transcript holds every command line the client sent (outside DATA).
export async function smtpServer() {
  const messages = [];
  const transcript = [];
  const server = net.createServer((sock) => {
    let buf = '';
    let inData = false;
    let mail = { from: null, rcpt: [], data: '' };
    sock.write('220 test-smtp ESMTP\r\n');
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      for (;;) {
        const i = buf.indexOf('\r\n');
        if (i < 0) break;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            messages.push(mail);
            mail = { from: null, rcpt: [], data: '' };
            sock.write('250 2.0.0 queued\r\n');
          } else {
            mail.data += (line.startsWith('.') ? line.slice(1) : line) + '\r\n';
          }
          continue;
        }
        transcript.push(line);
        const cmd = line.slice(0, 4).toUpperCase();
        if (cmd === 'EHLO') sock.write('250-test-smtp\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n');
        else if (line.toUpperCase().startsWith('MAIL FROM:')) { mail.from = line.slice(10); sock.write('250 ok\r\n'); }
        else if (line.toUpperCase().startsWith('RCPT TO:')) { mail.rcpt.push(line.slice(8)); sock.write('250 ok\r\n'); }
        else if (cmd === 'DATA') { inData = true; sock.write('354 go ahead\r\n'); }
        else if (cmd === 'QUIT') { sock.write('221 bye\r\n'); sock.end(); }
        else sock.write('502 not implemented\r\n');
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    messages,
    transcript,
    url: `smtp://127.0.0.1:${server.address().port}`,
    // The messages to address (in order).
    to: (addr) => messages.filter((m) => m.rcpt.some((r) => r.toLowerCase() === `<${addr.toLowerCase()}>`)),
    // Waits for the count-th (1-based) message to address matching re (on its text).
    async waitFor(addr, re = /./, { count = 1, timeoutMs = 30000 } = {}) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const got = this.to(addr).filter((m) => re.test(m.data));
        if (got.length >= count) return got[count - 1];
        if (Date.now() > end) throw new Error(`no e-mail to ${addr} matching ${re} within ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

// The first link in msg whose path starts with path, as a URL object.
export function linkIn(msg, path) {
  const m = msg.data.match(new RegExp(`https?://[^\\s]+${path.replace(/[/]/g, '\\/')}[^\\s]*`));
  if (!m) throw new Error(`no ${path} link in:\n${msg.data}`);
  return new URL(m[0]);
}

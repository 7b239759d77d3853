// A loopback HTTP reverse proxy that adds a fixed delay to every request: each request (including
// every request on a kept-alive connection) is held for `delayMs` before it is forwarded. Bodies
// stream both ways (no buffering), keep-alive works on both sides, the Host header is passed
// through unchanged (so a registry's Location headers point back at the proxy).
//
// Library:  import { startDelayProxy } from './delay-proxy.mjs';
//           const p = await startDelayProxy({ target: '127.0.0.1:5000', delayMs: 20 });  // p.host, p.stats(), p.close()
// CLI:      node bench/delay-proxy.mjs --target 127.0.0.1:5000 [--listen 0] [--delay 20]
import http from 'node:http';
import { pipeline } from 'node:stream';
import { pathToFileURL } from 'node:url';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(rawHeaders) {
  // rawHeaders keeps the original case and repeated headers; drop hop-by-hop ones (and any named
  // in Connection).
  const named = new Set();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === 'connection') for (const t of rawHeaders[i + 1].split(',')) named.add(t.trim().toLowerCase());
  }
  const out = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const k = rawHeaders[i].toLowerCase();
    if (HOP_BY_HOP.has(k) || named.has(k)) continue;
    out.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  return out;
}

/**
 * Start the proxy on 127.0.0.1. Returns { host, port, stats(), close() }; stats() counts requests
 * and connections seen.
 */
export function startDelayProxy({ target, delayMs = 20, port = 0 }) {
  const [thost, tport] = target.split(':');
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, keepAliveMsecs: 1000 });
  const counters = { requests: 0, connections: 0, errors: 0 };
  const sockets = new Set();

  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    counters.requests++;
    let aborted = false;
    // Stop reading the request body until it is forwarded: backpressure, no buffering.
    req.pause();
    const onEarlyClose = () => {
      aborted = true;
    };
    req.once('close', onEarlyClose);
    setTimeout(() => {
      req.off('close', onEarlyClose);
      if (aborted && !req.complete) return;
      const headers = endToEnd(req.rawHeaders);
      const up = http.request({
        host: thost,
        port: Number(tport),
        method: req.method,
        path: req.url,
        headers,
        agent,
        // Keep the client's framing: a Content-Length body stays Content-Length, else chunked.
        setHost: false,
      });
      up.on('response', (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.statusMessage, endToEnd(ur.rawHeaders));
        pipeline(ur, res, (err) => {
          if (err) counters.errors++;
        });
      });
      up.on('error', (err) => {
        counters.errors++;
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`delay-proxy: ${err.message}\n`);
        } else res.destroy(err);
      });
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      pipeline(req, up, (err) => {
        if (err) {
          counters.errors++;
          up.destroy(err);
        }
      });
    }, delayMs);
  });
  server.on('connection', (s) => {
    counters.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // Large uploads may take long; never time out a request in the middle of a benchmark.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const p = server.address().port;
      resolve({
        host: `127.0.0.1:${p}`,
        port: p,
        delayMs,
        stats: () => ({ ...counters }),
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy();
            agent.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

// CLI
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const get = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const target = get('--target');
  if (!target) {
    process.stderr.write('usage: node bench/delay-proxy.mjs --target HOST:PORT [--listen PORT] [--delay MS]\n');
    process.exit(2);
  }
  const p = await startDelayProxy({ target, delayMs: Number(get('--delay', '20')), port: Number(get('--listen', '0')) });
  process.stdout.write(`delay-proxy: 127.0.0.1:${p.port} -> ${target}, +${p.delayMs} ms per request\n`);
  const bye = () => void p.close().then(() => process.exit(0));
  process.on('SIGINT', bye);
  process.on('SIGTERM', bye);
}

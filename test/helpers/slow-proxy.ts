import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlowProxy {
  /** "127.0.0.1:PORT": use it as the registry host in references. */
  host: string;
  /** Resolves when the first throttled blob body has started to flow. */
  blobStarted: Promise<void>;
  /** How many throttled blob bodies are flowing now. */
  active(): number;
  close(): Promise<void>;
}

/**
 * A plain-HTTP proxy on a loopback port in front of a registry (`target` = "127.0.0.1:PORT") that
 * passes everything through, except blob bodies (`GET /v2/.../blobs/sha256:...` answered 200): those
 * trickle at `bytesPerTick` every `tickMs`, so that a copy through it is mid-blob for as long as a
 * test needs. The Host header is kept, so upload Locations point back at the proxy.
 */
export async function startSlowProxy(target: string, opts: { bytesPerTick?: number; tickMs?: number } = {}): Promise<SlowProxy> {
  const bytesPerTick = opts.bytesPerTick ?? 1024;
  const tickMs = opts.tickMs ?? 100;
  let flowing = 0;
  let started!: () => void;
  const blobStarted = new Promise<void>((r) => (started = r));
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const [host, port] = target.split(':');
    const up = http.request({ host, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      const slow = req.method === 'GET' && upRes.statusCode === 200 && /\/blobs\/sha256:[0-9a-f]{64}$/.test(req.url ?? '');
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (!slow) {
        upRes.pipe(res);
        return;
      }
      flowing++;
      started();
      const pending: Buffer[] = [];
      let ended = false;
      upRes.on('data', (c: Buffer) => pending.push(c));
      upRes.on('end', () => (ended = true));
      const timer = setInterval(() => {
        let budget = bytesPerTick;
        while (budget > 0 && pending.length) {
          const c = pending[0]!;
          const n = Math.min(budget, c.length);
          res.write(c.subarray(0, n));
          budget -= n;
          if (n === c.length) pending.shift();
          else pending[0] = c.subarray(n);
        }
        if (ended && !pending.length) {
          clearInterval(timer);
          flowing--;
          res.end();
        }
      }, tickMs);
      res.on('close', () => {
        if (!res.writableFinished) {
          clearInterval(timer);
          flowing--;
          upRes.destroy();
        }
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    blobStarted,
    active: () => flowing,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

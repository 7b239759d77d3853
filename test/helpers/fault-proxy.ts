import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A loopback reverse proxy in front of a real registry that misbehaves on purpose, the way networks,
 * load balancers and overloaded registries do. Each request draws once from a seeded RNG; with the
 * configured probability for its kind it is:
 *
 * - `reset`    — the connection is cut mid-body: half of a request body is forwarded (the registry
 *                never completes it), or the registry's answer is cut after half of its body (after
 *                its headers when it has none; for a closing PUT the commit happened, the answer is lost);
 * - `error`    — answered 500, 502 or 503 by the proxy (the request body is read and discarded; the
 *                registry never sees it);
 * - `throttle` — answered 429 with `Retry-After` (seconds, `retryAfter`);
 * - `truncate` — a GET's body ends cleanly but short (Content-Length removed, chunked, half sent);
 * - `flip`     — one byte of a blob's body is flipped: of a blob GET's answer, or of an upload's
 *                request body on its way to the registry.
 *
 * Only kinds that apply to a request are drawn for it (`flip` to blob bodies, `truncate` to GETs);
 * `rates` are per applicable request. It counts what it injected, records every request, stops
 * injecting after `maxFaults`, and closes by itself after `lifetimeMs` (it never outlives a test run).
 * With `everyKind`, each kind with a rate is injected at least once (the first request it applies to
 * that the RNG left alone), so a test that asserts "every kind was exercised" cannot miss by timing.
 */
export type FaultKind = 'reset' | 'error' | 'throttle' | 'truncate' | 'flip';

export const FAULT_KINDS: readonly FaultKind[] = ['reset', 'error', 'throttle', 'truncate', 'flip'];

export type FaultRates = Partial<Record<FaultKind, number>>;

export interface FaultProxyOptions {
  /** The registry behind the proxy: "127.0.0.1:PORT". */
  upstream: string;
  /** RNG seed (default 1): the same seed and request order give the same faults. */
  seed?: number;
  /** Probability of each kind per applicable request; their sum must be at most 1. */
  rates?: FaultRates;
  /** Only requests for which this is true may be faulted (default: all). */
  only?: (req: { method: string; path: string }) => boolean;
  /** Stop injecting after this many faults (default: unbounded). */
  maxFaults?: number;
  /** Retry-After for `throttle`, in seconds (default "1"). */
  retryAfter?: string;
  /** Close by itself after this long (default 10 minutes). */
  lifetimeMs?: number;
  /** Added before every request is handled: a distant registry (default 0). */
  latencyMs?: number;
  /**
   * Exercise every kind whose rate is above 0 at least once, whatever the draws: a request the RNG
   * leaves alone gets the first kind that applies to it and has not been injected yet (default
   * false). The requests' order depends on timing, so without this a rare kind can miss a run.
   */
  everyKind?: boolean;
}

export interface ProxiedRequest {
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  /** Status sent to the client; undefined when the connection was cut first. */
  status?: number;
  fault?: FaultKind;
  /** Request body bytes forwarded to the registry. */
  forwarded: number;
  /** The Range header, when the client sent one. */
  range?: string;
}

export interface FaultProxy {
  /** "127.0.0.1:PORT": give this to the client instead of the registry's host. */
  host: string;
  url: string;
  /** Faults injected so far, by kind. */
  injected: Record<FaultKind, number>;
  /** Every request seen, in arrival order. */
  requests: ProxiedRequest[];
  /** Change the rates (e.g. 0 while seeding, then the rate under test). */
  setRates(rates: FaultRates): void;
  /** Total faults injected. */
  total(): number;
  close(): Promise<void>;
}

/** A small, fast, seedable PRNG (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `total` spread evenly over the given kinds (default: all five). */
export function spreadRate(total: number, kinds: readonly FaultKind[] = FAULT_KINDS): FaultRates {
  return Object.fromEntries(kinds.map((k) => [k, total / kinds.length]));
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

function applicable(method: string, path: string, hasBody: boolean): FaultKind[] {
  const kinds: FaultKind[] = ['reset', 'error', 'throttle'];
  const blobGet = method === 'GET' && /\/blobs\/sha256:[a-f0-9]{64}$/.test(path.split('?')[0]!);
  const upload = (method === 'PUT' || method === 'PATCH') && /\/blobs\/uploads\//.test(path) && hasBody;
  if (method === 'GET') kinds.push('truncate');
  if (blobGet || upload) kinds.push('flip');
  return kinds;
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const [upHost, upPort] = opts.upstream.split(':') as [string, string];
  const random = seededRandom(opts.seed ?? 1);
  let rates: FaultRates = { ...opts.rates };
  const injected: Record<FaultKind, number> = { reset: 0, error: 0, throttle: 0, truncate: 0, flip: 0 };
  const requests: ProxiedRequest[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  const total = () => FAULT_KINDS.reduce((n, k) => n + injected[k], 0);

  const draw = (method: string, path: string, hasBody: boolean): FaultKind | undefined => {
    if (opts.maxFaults !== undefined && total() >= opts.maxFaults) return undefined;
    if (opts.only && !opts.only({ method, path })) return undefined;
    const r = random();
    let acc = 0;
    const kinds = applicable(method, path, hasBody);
    for (const k of kinds) {
      acc += rates[k] ?? 0;
      if (r < acc) return k;
    }
    return opts.everyKind ? kinds.find((k) => (rates[k] ?? 0) > 0 && injected[k] === 0) : undefined;
  };

  const server = http.createServer((req, res) => {
    if (opts.latencyMs) {
      req.pause();
      setTimeout(() => handle(req, res), opts.latencyMs);
    } else handle(req, res);
  });
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const length = Number(req.headers['content-length'] ?? '0');
    const hasBody = length > 0 || req.headers['transfer-encoding'] !== undefined;
    const rec: ProxiedRequest = { method, path, forwarded: 0, ...(typeof req.headers.range === 'string' ? { range: req.headers.range } : {}) };
    requests.push(rec);
    // A drawn fault is counted at once (so `maxFaults` holds with requests in flight), and
    // uncounted if it turns out not to apply (a truncation of an empty answer).
    const fault = draw(method, path, hasBody);
    if (fault) {
      rec.fault = fault;
      injected[fault]++;
    }
    const uncount = () => {
      if (fault && rec.fault === fault) {
        rec.fault = undefined;
        injected[fault]--;
      }
    };
    const cut = () => req.socket.destroy();

    if (fault === 'error' || fault === 'throttle') {
      const status = fault === 'throttle' ? 429 : [500, 502, 503][Math.floor(random() * 3)]!;
      const body = Buffer.from(JSON.stringify({ errors: [{ code: fault === 'throttle' ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: 'injected by the fault proxy' }] }));
      // Read (and drop) the request body first, as a buffering proxy would.
      req.resume();
      req.on('end', () => {
        rec.status = status;
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': body.length,
          ...(fault === 'throttle' ? { 'retry-after': opts.retryAfter ?? '1' } : {}),
        });
        res.end(method === 'HEAD' ? undefined : body);
      });
      return;
    }

    const headers: http.OutgoingHttpHeaders = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    if (req.headers['transfer-encoding'] !== undefined && req.headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
    // Cut the request body halfway (a reset while uploading): the registry never gets it whole.
    const cutRequestAt = fault === 'reset' && hasBody ? Math.floor((length || 2) / 2) : undefined;
    const flipRequestAt = fault === 'flip' && hasBody && length > 0 ? Math.floor(random() * length) : undefined;
    // A flip drawn for a request body of unknown length is not applied.
    if (fault === 'flip' && hasBody && flipRequestAt === undefined && !/^GET$/.test(method)) uncount();

    const up = http.request({ host: upHost, port: Number(upPort), method, path, headers, agent }, (ures) => {
      const status = ures.statusCode ?? 502;
      const out: http.OutgoingHttpHeaders = { ...ures.headers };
      for (const h of HOP_BY_HOP) delete out[h];
      const bodyLength = Number(ures.headers['content-length'] ?? '-1');
      const withBody = method !== 'HEAD' && status !== 204 && status !== 304 && bodyLength !== 0;
      const okBody = withBody && (status === 200 || status === 206);
      if (fault === 'reset' && cutRequestAt === undefined) {
        // The answer is lost on the way back: headers and half of the body, or nothing at all.
        if (!withBody || bodyLength < 2) {
          ures.resume();
          ures.on('end', cut);
          return;
        }
        res.writeHead(status, out);
        let sent = 0;
        const half = Math.floor(bodyLength / 2);
        ures.on('end', cut);
        ures.on('data', (c: Buffer) => {
          if (sent >= half) return;
          const part = c.subarray(0, half - sent);
          sent += part.length;
          res.write(part);
          if (sent >= half) {
            ures.destroy();
            // Let the half that was written reach the client before the connection drops.
            const later = () => setTimeout(cut, 20);
            if (res.writableNeedDrain) res.once('drain', later);
            else later();
          }
        });
        return;
      }
      if (fault === 'truncate' && okBody && bodyLength > 1) {
        delete out['content-length'];
        res.writeHead(status, out);
        const half = Math.floor(bodyLength / 2);
        let sent = 0;
        ures.on('data', (c: Buffer) => {
          if (sent >= half) return;
          const part = c.subarray(0, half - sent);
          sent += part.length;
          res.write(part);
          if (sent >= half) {
            ures.destroy();
            rec.status = status;
            res.end();
          }
        });
        return;
      }
      if (fault === 'flip' && flipRequestAt === undefined && okBody && bodyLength > 0) {
        const at = Math.floor(random() * bodyLength);
        let offset = 0;
        rec.status = status;
        res.writeHead(status, out);
        ures.on('data', (c: Buffer) => {
          if (at >= offset && at < offset + c.length) {
            c = Buffer.from(c);
            c[at - offset] = c[at - offset]! ^ 0x01;
          }
          offset += c.length;
          if (!res.write(c)) {
            ures.pause();
            res.once('drain', () => ures.resume());
          }
        });
        ures.on('end', () => res.end());
        ures.on('error', () => req.socket.destroy());
        return;
      }
      if (flipRequestAt === undefined) uncount();
      rec.status = status;
      res.writeHead(status, out);
      ures.pipe(res);
      ures.on('error', () => req.socket.destroy());
    });
    up.on('error', () => req.socket.destroy());

    let offset = 0;
    req.on('data', (c: Buffer) => {
      if (cutRequestAt !== undefined) {
        const part = c.subarray(0, Math.max(0, cutRequestAt - offset));
        if (part.length) up.write(part);
        offset += part.length;
        rec.forwarded = offset;
        if (offset >= cutRequestAt) {
          req.pause();
          up.destroy();
          cut();
        }
        return;
      }
      if (flipRequestAt !== undefined && flipRequestAt >= offset && flipRequestAt < offset + c.length) {
        c = Buffer.from(c);
        c[flipRequestAt - offset] = c[flipRequestAt - offset]! ^ 0x01;
      }
      offset += c.length;
      rec.forwarded = offset;
      if (!up.write(c)) {
        req.pause();
        up.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      if (cutRequestAt === undefined) up.end();
      else if (offset < cutRequestAt) {
        // A body shorter than the cut point: cut at its end instead.
        up.destroy();
        cut();
      }
    });
    req.on('error', () => up.destroy());
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    // Paused while the latency passed: flow now that the listeners are in place.
    if (req.isPaused()) req.resume();
  };
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= new Promise<void>((resolve) => {
      clearTimeout(lifetime);
      for (const s of sockets) s.destroy();
      agent.destroy();
      server.close(() => resolve());
    }));
  const lifetime = setTimeout(() => void close(), opts.lifetimeMs ?? 600_000);
  lifetime.unref();

  return {
    host,
    url: `http://${host}`,
    injected,
    requests,
    setRates: (r) => {
      rates = { ...r };
    },
    total,
    close,
  };
}

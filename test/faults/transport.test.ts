import { lookup } from 'node:dns/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AirlockError,
  backoffMs,
  DEFAULT_RETRY,
  Registries,
  retryAfterMs,
  StaticCredentials,
  Transport,
  type Credential,
  type TransportOptions,
} from '@airlock/oci';
import { readLimited } from '../../packages/oci/src/util/body.js';

/**
 * Transport faults against real node:http servers on loopback: retries (status codes, Retry-After,
 * connection resets), fail-fast statuses, backoff, and credentials across redirects.
 */

interface Hit {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

interface Server {
  host: string;
  port: number;
  hits: Hit[];
  /** Answers hit number `n` (0-based). */
  handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;
  close(): Promise<void>;
}

async function startServer(address = '127.0.0.1', hostName = address): Promise<Server> {
  const srv: Server = {
    host: '',
    port: 0,
    hits: [],
    handler: (_req, res) => res.writeHead(500).end(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    srv.hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    srv.handler(req, res, srv.hits.length - 1);
  });
  await new Promise<void>((resolve) => server.listen(0, address, () => resolve()));
  srv.port = (server.address() as AddressInfo).port;
  srv.host = `${hostName}:${srv.port}`;
  return srv;
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const b = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length, ...headers });
  res.end(b);
}

function registryError(res: http.ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  json(res, status, { errors: [{ code, message }] }, headers);
}

type RetryInfo = Parameters<NonNullable<TransportOptions['onRetry']>>[0];

describe('transport faults', () => {
  let srv: Server;
  let retries: RetryInfo[] = [];
  const transports: Transport[] = [];

  const transport = (retry: TransportOptions['retry'] = { retries: 3, minDelayMs: 1, maxDelayMs: 2000 }) => {
    const t = new Transport({ retry, onRetry: (i) => retries.push(i) });
    transports.push(t);
    return t;
  };
  const get = (t: Transport, path = '/v2/') => t.request({ method: 'GET', host: srv.host, path });

  beforeAll(async () => {
    srv = await startServer();
  });
  afterEach(async () => {
    srv.hits = [];
    retries = [];
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('retries a 429 after the delay its Retry-After asks for', async () => {
    srv.handler = (_req, res, n) => (n === 0 ? registryError(res, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '1' }) : json(res, 200, {}));
    const res = await get(transport());
    expect(res.status).toBe(200);
    expect(srv.hits).toHaveLength(2);
    expect(retries).toEqual([{ url: `${srv.host}/v2/`, attempt: 1, delayMs: 1000, reason: 'HTTP 429' }]);
  });

  it('caps a Retry-After longer than the policy allows at maxDelayMs', async () => {
    srv.handler = (_req, res, n) => (n === 0 ? registryError(res, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '3600' }) : json(res, 200, {}));
    const res = await get(transport({ retries: 2, minDelayMs: 1, maxDelayMs: 40 }));
    expect(res.status).toBe(200);
    expect(retries.map((r) => r.delayMs)).toEqual([40]);
  });

  it('honours Retry-After given as an HTTP date', async () => {
    // A date already past means "now": no backoff at all (a backoff would be at least minDelayMs / 2).
    const past = new Date(Date.now() - 60_000).toUTCString();
    srv.handler = (_req, res, n) => (n === 0 ? registryError(res, 503, 'UNAVAILABLE', 'maintenance', { 'retry-after': past }) : json(res, 200, {}));
    const res = await get(transport({ retries: 2, minDelayMs: 400, maxDelayMs: 2000 }));
    expect(res.status).toBe(200);
    expect(retries).toEqual([{ url: `${srv.host}/v2/`, attempt: 1, delayMs: 0, reason: 'HTTP 503' }]);
  });

  it('parses Retry-After seconds and HTTP dates', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs(' 3 ', now)).toBe(3000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });

  it('retries 500, 502 and 503, then succeeds', async () => {
    const statuses = [500, 502, 503];
    srv.handler = (_req, res, n) => (n < statuses.length ? registryError(res, statuses[n]!, 'UNAVAILABLE', 'try again') : json(res, 200, { ok: true }));
    const res = await get(transport());
    expect(res.status).toBe(200);
    expect(JSON.parse((await readLimited(res.body, 1024, 'body')).toString())).toEqual({ ok: true });
    expect(srv.hits).toHaveLength(4);
    expect(retries.map((r) => [r.attempt, r.reason])).toEqual([
      [1, 'HTTP 500'],
      [2, 'HTTP 502'],
      [3, 'HTTP 503'],
    ]);
  });

  it('gives up on a persistent 500 after the configured retries, with the registry’s message', async () => {
    srv.handler = (_req, res) => registryError(res, 500, 'INTERNAL_ERROR', 'storage backend unavailable');
    const t = transport({ retries: 2, minDelayMs: 1, maxDelayMs: 5 });
    const client = new Registries(t, new StaticCredentials({})).client(srv.host);
    const err = await client.getManifest('team/app', 'v1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirlockError);
    expect((err as AirlockError).code).toBe('REGISTRY');
    expect((err as AirlockError).status).toBe(500);
    expect((err as AirlockError).message).toContain('INTERNAL_ERROR: storage backend unavailable');
    expect((err as AirlockError).message).toContain(`${srv.host}/team/app:v1`);
    expect(srv.hits).toHaveLength(3); // one try and two retries
    expect(retries).toHaveLength(2);
  });

  it('retries a manifest whose body is cut after the headers, and still checks its digest', async () => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
    srv.handler = (_req, res, n) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': String(body.length) });
      if (n === 0) {
        res.write(body.subarray(0, 10));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      res.end(body);
    };
    const client = new Registries(transport(), new StaticCredentials({})).client(srv.host);
    const m = await client.getManifest('team/app', 'v1');
    expect(m.bytes.equals(body)).toBe(true);
    expect(srv.hits).toHaveLength(2);
  });

  it('retries a connection reset before the response is complete', async () => {
    const resets: Array<(req: http.IncomingMessage, res: http.ServerResponse) => void> = [
      // The connection closes with no answer at all.
      (req) => req.socket.destroy(),
      // TCP RST.
      (req) => req.socket.resetAndDestroy(),
      // The status line and half the headers, then the socket dies.
      (_req, res) => {
        res.socket!.write('HTTP/1.1 200 OK\r\nContent-Type: application/js', () => res.socket!.destroy());
      },
    ];
    srv.handler = (req, res, n) => (n < resets.length ? resets[n]!(req, res) : json(res, 200, { ok: true }));
    const res = await get(transport());
    expect(res.status).toBe(200);
    await readLimited(res.body, 1024, 'body');
    expect(srv.hits).toHaveLength(4);
    expect(retries).toHaveLength(3);
    for (const r of retries) expect(r.reason).toMatch(/^(ECONNRESET|UND_ERR_SOCKET|EPIPE|UND_ERR_CLOSED)$/);
  });

  it('fails with NETWORK once resets outlast the retries', async () => {
    srv.handler = (req) => req.socket.destroy();
    const err = await get(transport({ retries: 1, minDelayMs: 1, maxDelayMs: 5 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirlockError);
    expect((err as AirlockError).code).toBe('NETWORK');
    expect(srv.hits).toHaveLength(2);
  });

  it.each([
    [404, 'MANIFEST_UNKNOWN', 'NOT_FOUND'],
    [400, 'NAME_INVALID', 'REGISTRY'],
    [403, 'DENIED', 'DENIED'],
    [401, 'UNAUTHORIZED', 'UNAUTHORIZED'],
  ] as const)('fails fast on %i: exactly one request, no retry', async (status, registryCode, code) => {
    srv.handler = (_req, res) =>
      registryError(res, status, registryCode, 'nope', status === 401 ? { 'www-authenticate': 'Basic realm="test"' } : {});
    const t = transport();
    const raw = await get(t, '/v2/team/app/manifests/v1');
    expect(raw.status).toBe(status);
    await readLimited(raw.body, 1024, 'body');
    expect(srv.hits).toHaveLength(1);
    srv.hits = [];
    const client = new Registries(t, new StaticCredentials({})).client(srv.host);
    const err = await client.getManifest('team/app', 'v1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirlockError);
    expect((err as AirlockError).code).toBe(code);
    // 401: the challenge is answered with the credentials we have (none here), not by asking again.
    expect(srv.hits).toHaveLength(1);
    expect(retries).toEqual([]);
  });

  it('names an absolute upload URL once in retry logs and errors (no host prefix glued on)', async () => {
    srv.handler = (req) => req.socket.destroy();
    const url = `http://${srv.host}/v2/team/app/blobs/uploads/abc?_state=opaque`;
    const err = await transport({ retries: 1, minDelayMs: 1, maxDelayMs: 5 })
      .request({ method: 'PATCH', host: srv.host, path: url, body: () => 'x' })
      .catch((e: unknown) => e);
    expect(retries.map((r) => r.url)).toEqual([url]);
    expect((err as AirlockError).code).toBe('NETWORK');
    expect((err as AirlockError).message).toMatch(new RegExp(`^PATCH http://${srv.host}/v2/team/app/blobs/uploads/abc: `));
    expect((err as AirlockError).message).not.toContain('_state');
  });

  it('does not retry a request whose body is a one-shot stream (retry: false)', async () => {
    srv.handler = (_req, res) => registryError(res, 503, 'UNAVAILABLE', 'later');
    const res = await transport().request({ method: 'PUT', host: srv.host, path: '/v2/x/blobs/uploads/1', body: () => 'abc', retry: false });
    expect(res.status).toBe(503);
    expect(srv.hits).toHaveLength(1);
  });
});

describe('backoff', () => {
  const p = { retries: 10, minDelayMs: 100, maxDelayMs: 5000 };

  it('grows exponentially with the attempt and is capped', () => {
    const mid = () => 0.5;
    const delays = [0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffMs(a, p, mid));
    // exp = min(max, min * 2^attempt); delay = exp/2 + 0.5 * exp/2 = 0.75 exp
    expect(delays).toEqual([75, 150, 300, 600, 1200, 2400, 3750, 3750]);
    for (let i = 1; i < 6; i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!);
  });

  it('has jitter: the random draw spreads the delay over [exp/2, exp]', () => {
    expect(backoffMs(3, p, () => 0)).toBe(400);
    expect(backoffMs(3, p, () => 0.999999)).toBe(800);
    expect(backoffMs(3, p, () => 0.25)).toBe(500);
    const seen = new Set<number>();
    let x = 0.1;
    for (let i = 0; i < 20; i++) {
      x = (x * 9301 + 0.49297) % 1;
      const d = backoffMs(2, p, () => x);
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(400);
      seen.add(d);
    }
    expect(seen.size).toBeGreaterThan(5);
  });

  it('never exceeds maxDelayMs, and the defaults are sane', () => {
    for (let a = 0; a < 40; a++) expect(backoffMs(a, p, () => 1)).toBeLessThanOrEqual(p.maxDelayMs);
    expect(DEFAULT_RETRY.retries).toBeGreaterThan(0);
    expect(DEFAULT_RETRY.minDelayMs).toBeLessThan(DEFAULT_RETRY.maxDelayMs);
  });
});

describe('credentials across redirects', () => {
  let registry: Server;
  let storage: Server;
  let otherPort: Server;
  let regs: Registries;
  const blob = Buffer.from('layer bytes served from object storage');
  const digest = 'sha256:' + '1'.repeat(64);
  const cred: Credential = { kind: 'basic', username: 'alice', password: 's3cret' };
  const basic = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;

  beforeAll(async () => {
    // 127.0.0.1 and localhost are different hosts to a client, though the same machine.
    const { address } = await lookup('localhost');
    [registry, storage, otherPort] = await Promise.all([startServer('127.0.0.1'), startServer(address, 'localhost'), startServer('127.0.0.1')]);
    for (const s of [storage, otherPort]) {
      s.handler = (_req, res) => {
        res.writeHead(200, { 'content-length': blob.length, 'content-type': 'application/octet-stream' });
        res.end(blob);
      };
    }
    regs = new Registries(new Transport({ retry: { retries: 0 } }), new StaticCredentials({ [registry.host]: cred }));
  });
  afterAll(async () => {
    await regs?.close();
    await Promise.all([registry?.close(), storage?.close(), otherPort?.close()]);
  });

  /** The registry wants Basic auth, then redirects blob GETs to `target` (relative = same host). */
  const redirectTo = (target: string) => {
    registry.hits = [];
    registry.handler = (req, res) => {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"', 'content-length': 0 }).end();
        return;
      }
      if (req.url?.startsWith('/_storage/')) {
        res.writeHead(200, { 'content-length': blob.length }).end(blob);
        return;
      }
      res.writeHead(307, { location: target, 'content-length': 0 }).end();
    };
  };

  it('drops Authorization when a blob GET is redirected to another host', async () => {
    storage.hits = [];
    redirectTo(`http://${storage.host}/bucket/blob?X-Amz-Signature=abc`);
    const body = await regs.client(registry.host).getBlob('team/app', { digest: digest as `sha256:${string}` });
    expect((await readLimited(body, 1 << 20, 'blob')).equals(blob)).toBe(true);
    expect(registry.hits.at(-1)!.headers.authorization).toBe(basic);
    expect(storage.hits).toHaveLength(1);
    expect(storage.hits[0]!.url).toBe('/bucket/blob?X-Amz-Signature=abc');
    expect(storage.hits[0]!.headers.host).toBe(storage.host);
    expect(storage.hits[0]!.headers.authorization).toBeUndefined();
  });

  it('drops Authorization on a redirect to the same address on another port', async () => {
    otherPort.hits = [];
    redirectTo(`http://${otherPort.host}/blob`);
    const body = await regs.client(registry.host).getBlob('team/app', { digest: digest as `sha256:${string}` });
    await readLimited(body, 1 << 20, 'blob');
    expect(otherPort.hits).toHaveLength(1);
    expect(otherPort.hits[0]!.headers.authorization).toBeUndefined();
  });

  it('keeps Authorization on a same-host redirect', async () => {
    redirectTo(`/_storage/${digest}`);
    const body = await regs.client(registry.host).getBlob('team/app', { digest: digest as `sha256:${string}` });
    expect((await readLimited(body, 1 << 20, 'blob')).equals(blob)).toBe(true);
    const hop = registry.hits.find((h) => h.url.startsWith('/_storage/'));
    expect(hop).toBeDefined();
    expect(hop!.headers.authorization).toBe(basic);
  });

  it('keeps it dropped when the other host redirects back again', async () => {
    storage.hits = [];
    registry.hits = [];
    const back = `http://${registry.host}/_storage/${digest}`;
    storage.handler = (_req, res) => res.writeHead(302, { location: back, 'content-length': 0 }).end();
    redirectTo(`http://${storage.host}/bounce`);
    try {
      const res = await regs.transport.request({
        method: 'GET',
        host: registry.host,
        path: `/v2/team/app/blobs/${digest}`,
        headers: { authorization: basic },
      });
      // The registry's storage hop came without credentials, so it refused.
      expect(res.status).toBe(401);
      await readLimited(res.body, 1 << 20, 'body');
      expect(storage.hits[0]!.headers.authorization).toBeUndefined();
      expect(registry.hits.at(-1)!.url).toBe(`/_storage/${digest}`);
      expect(registry.hits.at(-1)!.headers.authorization).toBeUndefined();
    } finally {
      storage.handler = (_req, res) => {
        res.writeHead(200, { 'content-length': blob.length }).end(blob);
      };
    }
  });
});

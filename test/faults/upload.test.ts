import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AirlockError, pushBlob, RegistryRepo, type Descriptor, type Registries } from '@airlock/oci';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { registriesFor } from '../helpers/lib.js';
import { getBlobRaw, headRaw, pseudoRandom, sha256 } from '../helpers/oci-server.js';

/**
 * Upload faults against a REAL docker-registry, through a node:http proxy that can misbehave.
 *
 * distribution 2.x keeps an upload's offset in the HMAC-signed `_state` query of each Location it
 * hands out and refuses (and cancels) a session addressed with a stale one. A client whose PATCH
 * was cut never sees the new Location, so against bare distribution it cannot resume: its status
 * query cancels the session and it must start again. Registries with server-side sessions (and the
 * OCI spec) let the client ask the original URL for the offset; with `sessions: true` the proxy
 * gives distribution that behaviour by mapping every upload URL to the latest `_state`.
 */
interface Recorded {
  method: string;
  path: string;
  contentRange?: string;
  contentLength?: string;
  /** Body bytes forwarded to the registry. */
  forwarded: number;
  /** Status returned to the client (undefined when the connection was cut). */
  status?: number;
}

interface Proxy {
  host: string;
  requests: Recorded[];
  /**
   * Cut the next `times` (default 1) PATCHes whose body is larger than `at` bytes after `at` bytes:
   * 'drop' kills both connections; 'commit' ends the registry's request cleanly (it keeps `at`
   * bytes) and kills only the client's.
   */
  cut?: { at: number; mode: 'drop' | 'commit'; times?: number };
  sessions: boolean;
  chunkMinLength?: number;
  refuseMount: boolean;
  close(): Promise<void>;
}

async function startProxy(upstream: string): Promise<Proxy> {
  const latest = new Map<string, string>(); // upload uuid → latest _state
  const uuidOf = (path: string) => /\/blobs\/uploads\/([^/?]+)/.exec(path)?.[1];
  const remember = (location: string | undefined) => {
    if (!location) return;
    const u = new URL(location, 'http://x');
    const id = uuidOf(u.pathname);
    const st = u.searchParams.get('_state');
    if (id && st) latest.set(id, st);
  };

  const server = http.createServer((req, res) => {
    let path = req.url ?? '/';
    const rec: Recorded = {
      method: req.method ?? '',
      path,
      forwarded: 0,
      ...(typeof req.headers['content-range'] === 'string' ? { contentRange: req.headers['content-range'] } : {}),
      ...(typeof req.headers['content-length'] === 'string' ? { contentLength: req.headers['content-length'] } : {}),
    };
    proxy.requests.push(rec);
    const u = new URL(path, 'http://x');
    if (proxy.refuseMount && req.method === 'POST' && u.searchParams.has('mount')) {
      // Harbor-style: ignore the mount, open an ordinary upload session (202).
      u.searchParams.delete('mount');
      u.searchParams.delete('from');
      path = u.pathname + u.search;
    }
    const id = uuidOf(u.pathname);
    if (proxy.sessions && id && latest.has(id)) {
      u.searchParams.set('_state', latest.get(id)!);
      path = u.pathname + u.search;
    }
    const headers = { ...req.headers };
    const size = Number(req.headers['content-length'] ?? '0');
    const cut = req.method === 'PATCH' && proxy.cut && size > proxy.cut.at ? proxy.cut : undefined;
    if (cut) {
      if ((cut.times ?? 1) <= 1) proxy.cut = undefined;
      else proxy.cut = { ...cut, times: (cut.times ?? 1) - 1 };
      if (cut.mode === 'commit') {
        // The registry gets a complete (shorter) request; only the client's connection dies.
        delete headers['content-length'];
        headers['transfer-encoding'] = 'chunked';
      }
    }
    const up = http.request({ host: '127.0.0.1', port: Number(upstream.split(':')[1]), method: req.method, path, headers }, (ures) => {
      remember(typeof ures.headers.location === 'string' ? ures.headers.location : undefined);
      if (cut) {
        ures.resume();
        ures.on('end', () => req.socket.destroy());
        return;
      }
      const out = { ...ures.headers };
      if (proxy.chunkMinLength && req.method === 'POST' && ures.statusCode === 202) out['oci-chunk-min-length'] = String(proxy.chunkMinLength);
      rec.status = ures.statusCode;
      res.writeHead(ures.statusCode ?? 502, out);
      ures.pipe(res);
    });
    up.on('error', () => req.socket.destroy());
    let sent = 0;
    req.on('data', (c: Buffer) => {
      if (cut && sent + c.length >= cut.at) {
        const part = c.subarray(0, cut.at - sent);
        if (part.length) up.write(part);
        sent += part.length;
        rec.forwarded = sent;
        req.pause();
        if (cut.mode === 'commit') up.end();
        else {
          up.destroy();
          req.socket.destroy();
        }
        return;
      }
      sent += c.length;
      rec.forwarded = sent;
      if (!up.write(c)) {
        req.pause();
        up.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      if (!cut || sent < cut.at) up.end();
    });
    req.on('error', () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const proxy: Proxy = {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: [],
    sessions: false,
    refuseMount: false,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return proxy;
}

const MiB = 1024 * 1024;

/** A blob and an opener that streams it in 64 KiB pieces (as a network source would). */
function blob(seed: string, size: number): { bytes: Buffer; desc: Descriptor; open: () => Promise<Readable> } {
  const bytes = pseudoRandom(seed, size);
  const desc: Descriptor = { mediaType: 'application/octet-stream', digest: sha256(bytes), size };
  const open = async () => {
    const parts: Buffer[] = [];
    for (let o = 0; o < size; o += 64 * 1024) parts.push(bytes.subarray(o, o + 64 * 1024));
    return Readable.from(parts);
  };
  return { bytes, desc, open };
}

describe('blob upload faults (real docker-registry behind a proxy)', () => {
  let reg: TestRegistry;
  let proxy: Proxy;
  let regs: Registries;

  beforeAll(async () => {
    reg = await startRegistry();
    proxy = await startProxy(reg.host);
    regs = registriesFor([]);
  });
  afterAll(async () => {
    await regs?.close();
    await proxy?.close();
    await reg?.stop();
  });
  beforeEach(() => {
    proxy.requests = [];
    proxy.cut = undefined;
    proxy.sessions = false;
    proxy.chunkMinLength = undefined;
    proxy.refuseMount = false;
  });

  const patches = () => proxy.requests.filter((r) => r.method === 'PATCH');
  const forwardedBody = () => proxy.requests.filter((r) => r.method === 'PATCH' || r.method === 'PUT').reduce((n, r) => n + r.forwarded, 0);

  it('resumes a PATCH cut mid-stream from the offset the registry reports', async () => {
    const b = blob('resume', 3 * MiB);
    const cutAt = 1 * MiB + 12345;
    proxy.sessions = true;
    proxy.cut = { at: cutAt, mode: 'commit' };
    const outcome = await pushBlob(regs.client(proxy.host), 'up/resume', b.desc, b.open, { monolithicMax: 1024 });
    expect(outcome).toBe('uploaded');
    const p = patches();
    expect(p).toHaveLength(2);
    expect(p[0]!.forwarded).toBe(cutAt);
    expect(p[0]!.status).toBeUndefined(); // the client never got an answer
    // The status query came between the two PATCHes, and the second PATCH continued where the registry was.
    const statusAt = proxy.requests.findIndex((r) => r.method === 'GET' && r.path.includes('/blobs/uploads/'));
    expect(statusAt).toBeGreaterThan(proxy.requests.indexOf(p[0]!));
    expect(statusAt).toBeLessThan(proxy.requests.indexOf(p[1]!));
    expect(p[1]!.contentRange).toBe(`${cutAt}-${b.desc.size - 1}`);
    expect(p[1]!.contentLength).toBe(String(b.desc.size - cutAt));
    // Only one session, and not a byte more than the blob was sent.
    expect(proxy.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(forwardedBody()).toBe(b.desc.size);
    expect(forwardedBody()).toBeLessThan(2 * b.desc.size);
    const stored = await getBlobRaw(reg.url, 'up/resume', b.desc.digest);
    expect(stored && sha256(stored)).toBe(b.desc.digest);
  });

  it('starts a fresh session when bare distribution has invalidated the cut one', async () => {
    const b = blob('restart', 2 * MiB);
    proxy.cut = { at: 700 * 1024, mode: 'drop' };
    const outcome = await pushBlob(regs.client(proxy.host), 'up/restart', b.desc, b.open, { monolithicMax: 1024 });
    expect(outcome).toBe('uploaded');
    expect(proxy.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    expect(patches()).toHaveLength(2);
    expect(patches()[1]!.contentRange).toBeUndefined(); // from byte 0 of a new session
    expect(forwardedBody()).toBeLessThan(2 * b.desc.size);
    const stored = await getBlobRaw(reg.url, 'up/restart', b.desc.digest);
    expect(stored && sha256(stored)).toBe(b.desc.digest);
  });

  it('does not skip a byte when a PATCH is cut before any data arrived (Range: 0-0 means nothing or one byte)', async () => {
    const b = blob('zero', 1 * MiB);
    proxy.cut = { at: 0, mode: 'drop' };
    const outcome = await pushBlob(regs.client(proxy.host), 'up/zero', b.desc, b.open, { monolithicMax: 1024 });
    expect(outcome).toBe('uploaded');
    const p = patches();
    expect(p.length).toBeGreaterThanOrEqual(2);
    expect(p[0]!.forwarded).toBe(0);
    // The registry answered "Range: 0-0" for its empty session: that must not be read as one byte held.
    for (const x of p.slice(1)) expect(x.contentRange === undefined || x.contentRange.startsWith('0-')).toBe(true);
    const stored = await getBlobRaw(reg.url, 'up/zero', b.desc.digest);
    expect(stored && sha256(stored)).toBe(b.desc.digest);
  });

  it('gives up after the configured resumes with a NETWORK error and commits nothing', async () => {
    const b = blob('giveup', 1 * MiB);
    proxy.cut = { at: 100 * 1024, mode: 'drop', times: 100 };
    const err = await pushBlob(regs.client(proxy.host), 'up/giveup', b.desc, b.open, { monolithicMax: 1024, resumes: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirlockError);
    expect((err as AirlockError).code).toBe('NETWORK');
    expect(patches()).toHaveLength(3); // the first try and two resumes
    expect((await headRaw(reg.url, 'up/giveup', 'blobs', b.desc.digest)).status).toBe(404);
  });

  it('uploads in chunks of at least the OCI-Chunk-Min-Length the registry asks for', async () => {
    const b = blob('chunked', 2 * MiB + 4321);
    const min = 768 * 1024;
    proxy.chunkMinLength = min;
    const outcome = await pushBlob(regs.client(proxy.host), 'up/chunked', b.desc, b.open, { chunkSize: 256 * 1024 });
    expect(outcome).toBe('uploaded');
    const p = patches();
    const sizes = p.map((x) => Number(x.contentLength));
    expect(sizes.reduce((a, n) => a + n, 0)).toBe(b.desc.size);
    expect(sizes.length).toBe(Math.ceil(b.desc.size / min));
    for (const s of sizes.slice(0, -1)) expect(s).toBeGreaterThanOrEqual(min);
    // Contiguous, inclusive Content-Range on every chunk.
    let offset = 0;
    for (const x of p) {
      expect(x.contentRange).toBe(`${offset}-${offset + Number(x.contentLength) - 1}`);
      offset += Number(x.contentLength);
    }
    const stored = await getBlobRaw(reg.url, 'up/chunked', b.desc.digest);
    expect(stored && sha256(stored)).toBe(b.desc.digest);
  });

  it('uses the asked-for chunk size when it is above the registry minimum', async () => {
    const b = blob('chunked-big', 1 * MiB);
    proxy.chunkMinLength = 64 * 1024;
    await pushBlob(regs.client(proxy.host), 'up/chunked-big', b.desc, b.open, { chunkSize: 300 * 1024 });
    expect(patches().map((x) => Number(x.contentLength))).toEqual([300 * 1024, 300 * 1024, 300 * 1024, MiB - 900 * 1024]);
    expect((await headRaw(reg.url, 'up/chunked-big', 'blobs', b.desc.digest)).status).toBe(200);
  });

  it('mounts from a sibling repository when the registry allows it', async () => {
    const b = blob('mount-ok', 200 * 1024);
    await pushBlob(regs.client(reg.host), 'up/mount-src', b.desc, b.open);
    proxy.requests = [];
    const outcome = await pushBlob(regs.client(proxy.host), 'up/mount-dst', b.desc, b.open, { mountFrom: 'up/mount-src' });
    expect(outcome).toBe('mounted');
    expect(forwardedBody()).toBe(0);
    expect((await headRaw(reg.url, 'up/mount-dst', 'blobs', b.desc.digest)).status).toBe(200);
  });

  it('falls back to uploading when the mount is answered with an upload session (202)', async () => {
    const b = blob('mount-refused', 3 * MiB);
    await pushBlob(regs.client(reg.host), 'up/refuse-src', b.desc, b.open);
    proxy.refuseMount = true;
    for (const [repo, opts] of [
      ['up/refuse-mono', {}],
      ['up/refuse-patch', { monolithicMax: 1024 }],
    ] as const) {
      proxy.requests = [];
      const outcome = await pushBlob(regs.client(proxy.host), repo, b.desc, b.open, { ...opts, mountFrom: 'up/refuse-src' });
      expect(outcome).toBe('uploaded');
      const posts = proxy.requests.filter((r) => r.method === 'POST');
      expect(posts).toHaveLength(1);
      expect(posts[0]!.path).toContain('mount=');
      expect(forwardedBody()).toBe(b.desc.size);
      const stored = await getBlobRaw(reg.url, repo, b.desc.digest);
      expect(stored && sha256(stored)).toBe(b.desc.digest);
    }
  });

  it('RegistryRepo passes its upload options (monolithicMax) through to pushBlob', async () => {
    const b = blob('repo-opts', 512 * 1024);
    const repo = new RegistryRepo(regs.client(proxy.host), 'up/repo-opts', { monolithicMax: 1024 });
    expect(await repo.pushBlob(b.desc, b.open, {})).toBe('uploaded');
    expect(patches()).toHaveLength(1);
    expect(patches()[0]!.forwarded).toBe(b.desc.size);
    expect(await repo.hasBlob(b.desc)).toBe(true);
  });
});

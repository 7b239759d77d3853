import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseLocation, runTransfers, type ImageResult, type RetryInfo, type TransportOptions } from '@airlock/oci';
import { startFaultProxy, type FaultProxy, type FaultRates, type ProxiedRequest } from '../helpers/fault-proxy.js';
import { registriesFor } from '../helpers/lib.js';
import { buildImage, getBlobRaw, headRaw, hex, pushRaw, sha256, type BuiltManifest } from '../helpers/oci-server.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeTempDir } from '../helpers/tmp.js';

/**
 * Transient faults are retried where they happen, against REAL docker-registries behind the fault
 * proxy, one fault at a time so that each retry path is seen on its own: a blob upload answered
 * 503/429 (a new session, Retry-After honoured), a source read cut or truncated mid-blob (continued
 * with Range), a flipped byte (fetched again from the start), a truncated manifest (read again). A
 * fault that persists fails the image with a message saying how many attempts were made.
 */

const isBlobGet = (r: { method: string; path: string }) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.path);
const isUploadPut = (r: { method: string; path: string }) => r.method === 'PUT' && /\/blobs\/uploads\//.test(r.path);

describe('retries under single faults (real registries behind the fault proxy)', () => {
  let src: TestRegistry;
  let dst: TestRegistry;
  const proxies: FaultProxy[] = [];
  const layouts: string[] = [];
  let retries: RetryInfo[] = [];
  const images = new Map<string, BuiltManifest>();
  let n = 0;

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    for (let i = 0; i < 12; i++) {
      const img = buildImage(`retry-${i}`, { layers: 2, layerSize: 150 * 1024 });
      await pushRaw(src.url, `src/img${i}`, img, 'v1');
      images.set(`src/img${i}`, img);
    }
  });
  afterEach(async () => {
    retries = [];
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    await Promise.all([src?.stop(), dst?.stop(), ...layouts.map((d) => rm(d, { recursive: true, force: true }))]);
  });

  /** A proxy in front of `reg` that injects `rates` into requests `only` selects, at most `max` times. */
  const proxy = async (reg: TestRegistry, rates: FaultRates, only: (r: { method: string; path: string }) => boolean, max?: number) => {
    const p = await startFaultProxy({ upstream: reg.host, rates, only, seed: 7, ...(max !== undefined ? { maxFaults: max } : {}), retryAfter: '1' });
    proxies.push(p);
    return p;
  };

  /** Copy one source image (by repo) from `from` to `to` (hosts), with the given retry policy. */
  const copy = async (repo: string, from: string, to: string, retry: TransportOptions['retry'] = { retries: 3, minDelayMs: 1, maxDelayMs: 20 }): Promise<ImageResult> => {
    const regs = registriesFor([], { retry, onRetry: (i) => retries.push(i) });
    try {
      const dest = to.startsWith('oci:') ? to : `${to}/dst${n++}/${repo.split('/')[1]}:v1`;
      const [r] = await runTransfers([{ source: parseLocation(`${from}/${repo}:v1`), destination: parseLocation(dest) }], { registries: regs, referrers: false });
      return r!;
    } finally {
      await regs.close();
    }
  };

  const destRepo = (r: ImageResult) => r.destination.split('/').slice(1).join('/').replace(/:v1$/, '');
  const postsTo = (p: FaultProxy) => p.requests.filter((r) => r.method === 'POST').length;

  const expectComplete = async (r: ImageResult, img: BuiltManifest) => {
    expect(r.status, JSON.stringify(r.error)).toBe('copied');
    expect(r.destinationDigest).toBe(img.digest);
    for (const b of img.blobs) {
      const got = await getBlobRaw(dst.url, destRepo(r), b.desc.digest);
      expect(got && sha256(got), b.desc.digest).toBe(b.desc.digest);
    }
  };

  it('a 503 on the monolithic PUT starts a new upload session, and the image is copied', async () => {
    const p = await proxy(dst, { error: 1 }, isUploadPut, 1);
    const r = await copy('src/img0', src.host, p.host);
    await expectComplete(r, images.get('src/img0')!);
    expect(p.injected.error).toBe(1);
    // One session per blob, and one more for the blob whose PUT was refused.
    expect(postsTo(p)).toBe(images.get('src/img0')!.blobs.length + 1);
    expect(r.retries).toBe(1);
    expect(retries.map((i) => i.reason)).toEqual([expect.stringMatching(/^HTTP 50[023]$/)]);
  });

  it('a 429 on the PUT waits the Retry-After the registry asked for, then uploads again', async () => {
    const p = await proxy(dst, { throttle: 1 }, isUploadPut, 1);
    const r = await copy('src/img1', src.host, p.host, { retries: 3, minDelayMs: 1, maxDelayMs: 5000 });
    await expectComplete(r, images.get('src/img1')!);
    expect(retries).toEqual([expect.objectContaining({ reason: 'HTTP 429', delayMs: 1000 })]);
  });

  it('a PUT refused every time fails the image, saying how many attempts were made, and commits nothing', async () => {
    const p = await proxy(dst, { error: 1 }, isUploadPut);
    const r = await copy('src/img2', src.host, p.host, { retries: 2, minDelayMs: 1, maxDelayMs: 5 });
    expect(r.status).toBe('failed');
    expect(r.error?.message).toMatch(/^upload sha256:[a-f0-9]{64} to 127\.0\.0\.1:\d+\/dst\d+\/img2: HTTP 50[023].* \(3 attempts\)$/);
    expect(r.error?.hint).toMatch(/retried, still failing/);
    for (const b of images.get('src/img2')!.blobs) expect((await headRaw(dst.url, destRepo(r), 'blobs', b.desc.digest)).status).toBe(404);
    expect((await headRaw(dst.url, destRepo(r), 'manifests', 'v1')).status).toBe(404);
  });

  it('a source read cut mid-blob continues where it stopped (Range), and the blob verifies', async () => {
    // A layer of 150 KiB, cut after half: some of it has been read when the connection drops.
    const layer = images.get('src/img3')!.blobs[1]!.desc.digest;
    const p = await proxy(src, { reset: 1 }, (x) => isBlobGet(x) && x.path.endsWith(layer), 1);
    const r = await copy('src/img3', p.host, dst.host);
    await expectComplete(r, images.get('src/img3')!);
    expect(p.injected.reset).toBe(1);
    const cut = p.requests.find((x) => x.fault === 'reset')!;
    const again = p.requests.filter((x) => x.path === cut.path && x !== cut);
    expect(again).toHaveLength(1);
    expect(again[0]!.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(r.retries).toBe(1);
  });

  it('a source body that ends early (truncated, cleanly) continues with Range too', async () => {
    const layer = images.get('src/img4')!.blobs[1]!.desc.digest;
    const p = await proxy(src, { truncate: 1 }, (x) => isBlobGet(x) && x.path.endsWith(layer), 1);
    const r = await copy('src/img4', p.host, dst.host);
    await expectComplete(r, images.get('src/img4')!);
    const cut = p.requests.find((x) => x.fault === 'truncate')!;
    expect(p.requests.filter((x) => x.path === cut.path && x !== cut).map((x) => x.range)).toEqual([expect.stringMatching(/^bytes=[1-9]\d*-$/)]);
  });

  it('a flipped byte is fetched again from the start; the registry never receives the bad blob whole', async () => {
    const p = await proxy(src, { flip: 1 }, isBlobGet, 1);
    const r = await copy('src/img5', p.host, dst.host);
    await expectComplete(r, images.get('src/img5')!);
    const bad = p.requests.find((x) => x.fault === 'flip')!;
    expect(p.requests.filter((x) => x.path === bad.path && x !== bad).map((x) => x.range)).toEqual([undefined]);
    expect(retries.map((i) => i.reason)).toEqual([expect.stringMatching(/content did not verify; fetching again/)]);
  });

  it('a flip that repeats is final: DIGEST_MISMATCH naming the source and the fetches, nothing committed', async () => {
    const img = images.get('src/img6')!;
    const layer = img.blobs[1]!.desc.digest;
    const p = await proxy(src, { flip: 1 }, (x) => isBlobGet(x) && x.path.endsWith(layer));
    const r = await copy('src/img6', p.host, dst.host, { retries: 2, minDelayMs: 1, maxDelayMs: 5 });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('DIGEST_MISMATCH');
    expect(r.error?.message).toContain(`${p.host}/src/img6@${layer}`);
    expect(r.error?.message).toMatch(/\(fetched 3 times\)$/);
    expect(p.injected.flip).toBe(3);
    expect((await headRaw(dst.url, destRepo(r), 'blobs', layer)).status).toBe(404);
    expect((await headRaw(dst.url, destRepo(r), 'manifests', 'v1')).status).toBe(404);
  });

  it('a truncated manifest is read again', async () => {
    const p = await proxy(src, { truncate: 1 }, (x) => x.method === 'GET' && x.path.includes('/manifests/'), 1);
    const r = await copy('src/img7', p.host, dst.host);
    await expectComplete(r, images.get('src/img7')!);
    expect(p.injected.truncate).toBe(1);
    expect(retries.map((i) => i.reason)).toEqual([expect.stringMatching(/content did not verify; reading again/)]);
  });

  it('a byte flipped on the way to the destination (DIGEST_INVALID) is sent again in a new session', async () => {
    const p = await proxy(dst, { flip: 1 }, isUploadPut, 1);
    const r = await copy('src/img8', src.host, p.host);
    await expectComplete(r, images.get('src/img8')!);
    expect(p.injected.flip).toBe(1);
    expect(retries.map((i) => i.reason)).toEqual(['HTTP 400']);
  });

  it('to an OCI layout: a flipped source byte is fetched again into a new temp file, none left behind', async () => {
    const dir = makeTempDir('layout');
    layouts.push(dir);
    const p = await proxy(src, { flip: 1 }, isBlobGet, 1);
    const r = await copy('src/img9', p.host, `oci:${dir}:v1`);
    const img = images.get('src/img9')!;
    expect(r.status, JSON.stringify(r.error)).toBe('copied');
    expect(r.destinationDigest).toBe(img.digest);
    const blobs = readdirSync(path.join(dir, 'blobs', 'sha256'));
    expect(blobs.filter((f) => f.includes('.tmp'))).toEqual([]);
    for (const b of img.blobs) expect(sha256(readFileSync(path.join(dir, 'blobs', 'sha256', hex(b.desc.digest))))).toBe(b.desc.digest);
    expect(existsSync(path.join(dir, 'index.json'))).toBe(true);
  });

  it('a reset after the closing PUT committed is not a failure: the blob is found there', async () => {
    const p = await proxy(dst, { reset: 1 }, (x) => isUploadPut(x), 1);
    const before: ProxiedRequest[] = p.requests;
    const r = await copy('src/img10', src.host, p.host);
    await expectComplete(r, images.get('src/img10')!);
    expect(p.injected.reset).toBe(1);
    expect(before.filter((x) => x.method === 'PUT' && /\/blobs\/uploads\//.test(x.path)).length).toBeGreaterThanOrEqual(images.get('src/img10')!.blobs.length);
  });
});

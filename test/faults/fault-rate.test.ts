import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyReportSchema, parseLocation, runTransfers, type CopyReport } from '@airlock/oci';
import { expectNoStack, runCli, type CliResult } from '../helpers/cli.js';
import { startFaultProxy, spreadRate, type FaultProxy } from '../helpers/fault-proxy.js';
import { makeImages, type ImageLayout } from '../helpers/images.js';
import { registriesFor } from '../helpers/lib.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { imageProblem, rehashStorage } from '../helpers/storage.js';

/**
 * A 30-image mirror through a proxy injecting a seeded mix of faults (resets mid-body, 500/502/503,
 * 429 with Retry-After, truncated bodies, flipped bytes) into the requests of the SOURCE, of the
 * DESTINATION, then of both at a higher rate. Real docker-registries on both sides; the result is
 * checked over plain HTTP and by re-hashing the destination's storage: no corrupt blob is ever
 * committed, exit 0 means every image is there with its digest, and a failure is always in the
 * summary and both reports.
 */

const IMAGES = 30;
// Retries in milliseconds (hidden test knobs, see packages/copy/src/run.ts), enough of them that a
// 20 % fault rate never exhausts them in practice.
const ENV = { AIRLOCK_RETRY_BASE_MS: '2', AIRLOCK_RETRY_MAX_MS: '40' };
const RETRIES = '10';

describe('a 30-image mirror under a seeded fault rate (real registries behind the fault proxy)', () => {
  let src: TestRegistry;
  let dst: TestRegistry;
  let layout: ImageLayout;
  const expected = new Map<string, string>(); // tag → manifest digest
  const proxies: FaultProxy[] = [];

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    // 30 images: a 100 KiB base shared by all, one 150 KiB layer of their own, a config.
    layout = await makeImages({ images: IMAGES, layers: 1, layerMb: 0.15, sharedBaseMb: 0.1, seed: 8 });
    const index = JSON.parse(readFileSync(path.join(layout.layoutDir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    for (const m of index.manifests) expected.set(m.annotations['org.opencontainers.image.ref.name']!, m.digest);
    const regs = registriesFor([src]);
    const seeded = await runTransfers(
      layout.tags.map((t) => ({ source: parseLocation(`oci:${layout.layoutDir}:${t}`), destination: parseLocation(`${src.host}/src/${t}:v1`) })),
      { registries: regs },
    );
    await regs.close();
    expect(seeded.map((r) => r.status)).toEqual(layout.tags.map(() => 'copied'));
  });
  afterAll(async () => {
    await Promise.all([...proxies.map((p) => p.close()), src?.stop(), dst?.stop(), layout?.remove()]);
  });

  const proxyTo = async (reg: TestRegistry, rate: number, seed: number) => {
    const p = await startFaultProxy({ upstream: reg.host, rates: spreadRate(rate), seed, retryAfter: '1', everyKind: true });
    proxies.push(p);
    return p;
  };

  /** Mirror every image from `from`/src/img-N:v1 to `to`/PREFIX/img-N:v1. */
  const mirror = async (from: string, to: string, prefix: string): Promise<{ r: CliResult; report: CopyReport; junit: string }> => {
    const d = mkdtempSync(path.join(tmpdir(), 'airlock-faultrate-'));
    const list = path.join(d, 'images.txt');
    writeFileSync(list, layout.tags.map((t) => `${from}/src/${t}:v1 ${to}/${prefix}/${t}:v1`).join('\n'));
    const r = await runCli(['mirror', '--file', list, '--retries', RETRIES, '--report', path.join(d, 'report.json'), '--junit', path.join(d, 'junit.xml')], { env: ENV });
    expectNoStack(r);
    const report = copyReportSchema.parse(JSON.parse(readFileSync(path.join(d, 'report.json'), 'utf8')));
    return { r, report, junit: readFileSync(path.join(d, 'junit.xml'), 'utf8') };
  };

  /**
   * What must hold after any run, faults or not: one result per image; exit 0 exactly when none
   * failed; every image not failed is at the destination with its digest and all its blobs; every
   * failed one is named in the summary and in both reports; the summary counts the retries.
   */
  const expectTruthful = async ({ r, report, junit }: Awaited<ReturnType<typeof mirror>>, prefix: string) => {
    expect(report.images).toHaveLength(IMAGES);
    const failed = report.images.filter((i) => i.status === 'failed');
    expect(r.code, r.stderr).toBe(failed.length ? 1 : 0);
    expect(report.ok).toBe(failed.length === 0);
    for (const [i, img] of report.images.entries()) {
      const tag = layout.tags[i]!;
      if (img.status === 'failed') continue;
      expect(img.destinationDigest).toBe(expected.get(tag));
      expect(await imageProblem(dst, `${prefix}/${tag}`, 'v1', expected.get(tag)!)).toBeUndefined();
    }
    expect(junit).toContain(`tests="${IMAGES}" failures="${failed.length}"`);
    for (const f of failed) {
      expect(r.stderr).toContain(`✘ ${f.source} → ${f.destination}: ${f.error!.message}`);
      expect(junit).toContain(`<testcase name="${f.source} → ${f.destination}"`);
    }
    const m = /(\d+)\/(\d+) images ok .* (\d+) retr(?:y|ies) in /.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(Number(m![3])).toBe(report.totals.retries);
    expect(report.totals.retries).toBe(report.images.reduce((n, i) => n + (i.retries ?? 0), 0));
    // No corrupt blob was ever committed, whatever happened.
    expect((await rehashStorage(dst)).corrupt).toEqual([]);
  };

  it('20 % of the SOURCE requests faulted: exit 0, every digest correct, the retries counted', async () => {
    const p = await proxyTo(src, 0.2, 20);
    const run = await mirror(p.host, dst.host, 'src20');
    await expectTruthful(run, 'src20');
    expect(run.r.code, run.r.stderr).toBe(0);
    // Every kind was exercised, and each fault cost at least one retry.
    for (const k of ['reset', 'error', 'throttle', 'truncate', 'flip'] as const) expect(p.injected[k], k).toBeGreaterThan(0);
    expect(run.report.totals.retries).toBeGreaterThanOrEqual(p.total());
  });

  it('20 % of the DESTINATION requests faulted: exit 0, every digest correct, the retries counted', async () => {
    const p = await proxyTo(dst, 0.2, 21);
    const run = await mirror(src.host, p.host, 'dst20');
    // The report names the proxy as the destination; the images are checked at the registry itself.
    await expectTruthful(run, 'dst20');
    expect(run.r.code, run.r.stderr).toBe(0);
    for (const k of ['reset', 'error', 'throttle', 'flip'] as const) expect(p.injected[k], k).toBeGreaterThan(0);
    expect(run.report.totals.retries).toBeGreaterThan(0);
  });

  it('35 % on both sides: it completes or exits 1 with every failure reported, never 0 with an image missing', async () => {
    const [ps, pd] = await Promise.all([proxyTo(src, 0.35, 35), proxyTo(dst, 0.35, 36)]);
    const run = await mirror(ps.host, pd.host, 'both35');
    await expectTruthful(run, 'both35');
    expect(ps.total() + pd.total()).toBeGreaterThan(0);
  });
});

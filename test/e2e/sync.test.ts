import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
void readFileSync;
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { listTags, pushImage, pushSignature, startCountingProxy, tagDigest, type CountingProxy, type PushedImage } from '../helpers/sync-fixtures.js';

interface SyncImage {
  source: string;
  destination: string;
  status: string;
  outcome: string;
  reason: string;
  bytes: number;
  manifests: number;
  blobs: { copied: number; skipped: number; mounted: number };
  durationMs: number;
  error?: { message: string };
}
interface SyncReport {
  command: string;
  ok: boolean;
  images: SyncImage[];
  pruned: Array<{ reference: string; status: string; note?: string }>;
  totals: Record<string, unknown> & { bytes: number; images: number; failed: number; durationMs: number };
  shard?: { index: number; total: number };
}

const tmp = () => mkdtempSync(path.join(tmpdir(), 'airlock-sync-test-'));
const layer = (s: string, kb = 4) => Buffer.from(`${s}:`.repeat(Math.ceil((kb * 1024) / (s.length + 1))).slice(0, kb * 1024));
const sum = (o: Record<string, number>, pred: (k: string) => boolean) => Object.entries(o).filter(([k]) => pred(k)).reduce((a, [, n]) => a + n, 0);

async function sync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string; report: SyncReport }> {
  const r = await runCli(['sync', ...args, '--json'], { env });
  expectNoStack(r);
  let report: SyncReport;
  try {
    report = JSON.parse(r.stdout) as SyncReport;
  } catch {
    throw new Error(`no JSON report (exit ${r.code}):\n${r.stderr}`);
  }
  return { code: r.code, stderr: r.stderr, report };
}

describe('airlock sync', () => {
  let src: TestRegistry;
  let srcProxy: CountingProxy;
  const pushed = new Map<string, PushedImage>();

  beforeAll(async () => {
    src = await startRegistry();
    srcProxy = await startCountingProxy(src.host);
    // lib/app: versions with a pre-release and non-version tags; base layer shared by all tags.
    const base = layer('base', 16);
    for (const [tag, created] of [
      ['1.0.0', '2024-01-01T00:00:00Z'],
      ['1.1.0', '2024-02-01T00:00:00Z'],
      ['1.2.0-rc.1', '2024-03-01T00:00:00Z'],
      ['2.0.0', '2024-04-01T00:00:00Z'],
      ['v2.1', '2024-05-01T00:00:00Z'],
    ] as const) {
      pushed.set(`lib/app:${tag}`, await pushImage(src.url, 'lib/app', tag, { layers: [base, layer(`app-${tag}`)], created }));
    }
    // lib/tool: names that are not versions; creation order differs from name order.
    for (const [tag, created] of [
      ['alpha', '2024-06-03T00:00:00Z'],
      ['beta', '2024-06-01T00:00:00Z'],
      ['gamma', '2024-06-02T00:00:00Z'],
      ['main', '2024-05-01T00:00:00Z'],
    ] as const) {
      pushed.set(`lib/tool:${tag}`, await pushImage(src.url, 'lib/tool', tag, { layers: [layer(`tool-${tag}`)], created }));
    }
    // A signed image.
    await pushSignature(src.url, 'lib/app', pushed.get('lib/app:1.1.0')!.digest);
  });
  afterAll(async () => {
    await srcProxy?.close();
    await src?.stop();
  });

  it('selects tags: regex include/exclude, semver (pre-releases only when asked), latest N by semver and by creation time', async () => {
    const dst = await startRegistry();
    try {
      const d = tmp();
      const file = path.join(d, 'sync.yaml');
      writeFileSync(
        file,
        `defaults:
  to: ${dst.host}/m
images:
  - repository: ${src.host}/lib/app
    destination: ${dst.host}/semver
    semver: ">=1.0.0 <2"
  - repository: ${src.host}/lib/app
    destination: ${dst.host}/semver-pre
    semver: ">=1.0.0-0 <2"
    prereleases: true
  - repository: ${src.host}/lib/app
    destination: ${dst.host}/latest
    latest: 2
  - repository: ${src.host}/lib/tool
    destination: ${dst.host}/newest
    latest: 2
  - repository: ${src.host}/lib/tool
    destination: ${dst.host}/regex
    include: ['^[a-m]']
    exclude: ['^b']
  - repository: ${src.host}/lib/tool
    destination: ${dst.host}/listed
    tags: [main]
`,
      );
      const { code, stderr, report } = await sync(['-f', file, '--dry-run']);
      expect(code, stderr).toBe(0);
      const dests = (repo: string) => report.images.filter((i) => i.destination.startsWith(`${dst.host}/${repo}:`)).map((i) => i.destination.split(':').pop());
      expect(dests('semver')).toEqual(['1.0.0', '1.1.0']);
      expect(dests('semver-pre')).toEqual(['1.0.0', '1.1.0', '1.2.0-rc.1']);
      // v2.1 and 2.0.0 are the newest versions; the pre-release is not a candidate.
      expect(dests('latest')).toEqual(['2.0.0', 'v2.1']);
      // Not versions: newest by the image config's created (alpha 06-03, gamma 06-02).
      expect(dests('newest')).toEqual(['alpha', 'gamma']);
      expect(dests('regex')).toEqual(['alpha', 'gamma', 'main']);
      expect(dests('listed')).toEqual(['main']);
      expect(report.images.every((i) => i.outcome === 'would sync' && i.reason === 'new tag')).toBe(true);
      // A dry run writes nothing.
      expect(await listTags(dst.url, 'semver')).toEqual([]);
    } finally {
      await dst.stop();
    }
  });

  it('first run copies; the no-op re-run is only HEADs and one tag list per repository; a changed tag moves only its new blobs', async () => {
    const dst = await startRegistry();
    const dstProxy = await startCountingProxy(dst.host);
    try {
      const d = tmp();
      const file = path.join(d, 'sync.yaml');
      writeFileSync(
        file,
        `defaults:
  to: ${dstProxy.host}/mirror
images:
  - repository: ${srcProxy.host}/lib/app
    tags: ["1.0.0", "1.1.0", "2.0.0"]
  - repository: ${srcProxy.host}/lib/tool
    include: ['^(alpha|beta)$']
  - ${srcProxy.host}/lib/tool:main
`,
      );
      const first = await sync(['-f', file]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.report.images.map((i) => i.outcome)).toEqual(Array(6).fill('synced'));
      expect(first.report.images.every((i) => i.reason === 'new tag')).toBe(true);
      // The signature came along.
      const signed = pushed.get('lib/app:1.1.0')!.digest;
      expect(await tagDigest(dst.url, 'mirror/lib/app', `sha256-${signed.slice(7)}.sig`)).toBe(await tagDigest(src.url, 'lib/app', `sha256-${signed.slice(7)}.sig`));

      // --- the no-op re-run
      const s0 = srcProxy.requests.length;
      const d0 = dstProxy.requests.length;
      const again = await sync(['-f', file]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.report.images.map((i) => i.outcome)).toEqual(Array(6).fill('up-to-date'));
      expect(again.report.totals.bytes).toBe(0);
      const srcKinds = srcProxy.kinds(s0);
      const dstKinds = dstProxy.kinds(d0);
      // Nothing pushed, nothing uploaded, no blob touched at either end.
      expect(sum(dstKinds, (k) => /^(PUT|POST|PATCH|DELETE) /.test(k))).toBe(0);
      expect(sum(srcKinds, (k) => / blob /.test(k)) + sum(dstKinds, (k) => / blob /.test(k))).toBe(0);
      expect(sum(srcKinds, (k) => k.startsWith('GET manifest'))).toBe(0);
      // Exactly: per repository one tag list (2); per image one HEAD at each end (6 + 6); the signed
      // image's .sig tag one HEAD at each end (1 + 1); one referrers-API probe at the source (1).
      const images = 6;
      const repos = 2;
      const sigs = 1;
      expect(srcKinds['GET tags 200']).toBe(repos);
      expect(sum(srcKinds, (k) => k.startsWith('HEAD manifest'))).toBe(images + sigs);
      expect(sum(dstKinds, (k) => k.startsWith('HEAD manifest'))).toBe(images + sigs);
      const total = srcProxy.requests.length - s0 + (dstProxy.requests.length - d0);
      expect(total, JSON.stringify({ srcKinds, dstKinds })).toBeLessThanOrEqual(repos + 2 * images + 2 * sigs + 1);

      // --- upstream re-tags 1.1.0: same base layer, one new layer
      const base = layer('base', 16);
      const fresh = layer('app-1.1.0-patched', 8);
      const changed = await pushImage(src.url, 'lib/app', '1.1.0', { layers: [base, fresh], created: '2024-07-01T00:00:00Z' });
      const s1 = srcProxy.requests.length;
      const d1 = dstProxy.requests.length;
      const third = await sync(['-f', file]);
      expect(third.code, third.stderr).toBe(0);
      const row = third.report.images.find((i) => i.destination.endsWith('/mirror/lib/app:1.1.0'))!;
      expect(row.outcome).toBe('synced');
      expect(row.reason).toMatch(/^changed digest/);
      expect(third.report.images.filter((i) => i !== row).every((i) => i.outcome === 'up-to-date')).toBe(true);
      // Only the new layer and the new config moved; the base layer was already there.
      const newBlobs = changed.blobs.filter((b) => b.digest !== pushed.get('lib/app:1.0.0')!.blobs[1]!.digest);
      expect(row.blobs.copied).toBe(2);
      expect(row.bytes).toBe(fresh.length + changed.blobs[0]!.size);
      expect(newBlobs.length).toBe(2);
      expect(third.report.totals.bytes).toBe(row.bytes);
      const dk = dstProxy.kinds(d1);
      expect(sum(dk, (k) => / upload 201$/.test(k) || /PUT upload/.test(k))).toBe(2);
      expect(sum(srcProxy.kinds(s1), (k) => k.startsWith('GET blob'))).toBe(2);
      expect(await tagDigest(dst.url, 'mirror/lib/app', '1.1.0')).toBe(changed.digest);
      // The old signature is for the old digest: the new digest has none, nothing else moved.
      expect(sum(dk, (k) => k.startsWith('PUT manifest'))).toBe(1);
    } finally {
      await dstProxy.close();
      await dst.stop();
    }
  });
});

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { listTags, pushImage, pushIndex, pushSignature, startCountingProxy, tagDigest, type CountingProxy, type PushedImage } from '../helpers/sync-fixtures.js';

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

      // --- a new signature upstream for an unchanged image: dry run says why, the run copies only it
      const v2 = pushed.get('lib/app:2.0.0')!.digest;
      await pushSignature(src.url, 'lib/app', v2, 'late');
      const dry = await sync(['-f', file, '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      const v2row = dry.report.images.find((i) => i.destination.endsWith('/mirror/lib/app:2.0.0'))!;
      expect(v2row.outcome).toBe('would sync');
      expect(v2row.reason).toBe(`missing referrer sha256-${v2.slice(7)}.sig`);
      expect(dry.report.images.filter((i) => i !== v2row).every((i) => i.outcome === 'up-to-date')).toBe(true);
      expect(dry.stderr).toMatch(/would sync: missing referrer/);
      const signedNow = await sync(['-f', file]);
      expect(signedNow.report.images.find((i) => i.destination.endsWith('/mirror/lib/app:2.0.0'))!.outcome).toBe('synced');
      expect(await tagDigest(dst.url, 'mirror/lib/app', `sha256-${v2.slice(7)}.sig`)).toBe(await tagDigest(src.url, 'lib/app', `sha256-${v2.slice(7)}.sig`));

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

  it('3 shards cover every image exactly once, and their merged report equals an unsharded run (timings aside)', async () => {
    // Images with no blob in common, so which job moved which bytes is deterministic.
    for (let r = 0; r < 3; r++) {
      for (let t = 0; t < 3; t++) {
        const img = await pushImage(src.url, `shard/repo-${r}`, `${t + 1}.0.0`, { layers: [layer(`shard-${r}-${t}`, 2 + r + t)] });
        if (r === 1 && t === 1) await pushSignature(src.url, `shard/repo-${r}`, img.digest, 'shard');
      }
    }
    const [one, many] = await Promise.all([startRegistry(), startRegistry()]);
    try {
      const d = tmp();
      const conf = (host: string) => {
        const file = path.join(d, `sync-${host.replace(/\W/g, '_')}.yaml`);
        writeFileSync(file, `defaults:\n  rewrite: ["${src.host}/shard=${host}/s"]\nimages:\n${[0, 1, 2].map((r) => `  - repository: ${src.host}/shard/repo-${r}\n    semver: ">=1"\n`).join('')}`);
        return file;
      };
      const fileOne = conf(one.host);
      const fileMany = conf(many.host);
      const whole = await runCli(['sync', '-f', fileOne, '--report', path.join(d, 'whole.json')]);
      expect(whole.code, whole.stderr).toBe(0);
      const shards = await Promise.all([
        runCli(['sync', '-f', fileMany, '--shard', '1/3', '--report', path.join(d, 's1.json')]),
        runCli(['sync', '-f', fileMany, '--shard', '2/3', '--report', path.join(d, 's2.json')]),
        // GitLab parallel: sets these (1-based).
        runCli(['sync', '-f', fileMany, '--report', path.join(d, 's3.json')], { env: { CI_NODE_INDEX: '3', CI_NODE_TOTAL: '3' } }),
      ]);
      for (const s of shards) expect(s.code, s.stderr).toBe(0);
      const parts = [1, 2, 3].map((n) => JSON.parse(readFileSync(path.join(d, `s${n}.json`), 'utf8')) as SyncReport);
      expect(parts.map((p) => p.shard)).toEqual([1, 2, 3].map((index) => ({ index, total: 3 })));
      expect(parts.map((p) => p.images.length)).toEqual([3, 3, 3]);
      const covered = parts.flatMap((p) => p.images.map((i) => i.source)).sort();
      expect(covered).toEqual([0, 1, 2].flatMap((r) => [1, 2, 3].map((t) => `${src.host}/shard/repo-${r}:${t}.0.0`)).sort());
      expect(new Set(covered).size).toBe(9);

      const merge = await runCli(['report', 'merge', ...[1, 2, 3].map((n) => path.join(d, `s${n}.json`)), '-o', path.join(d, 'merged.json'), '--junit', path.join(d, 'merged.xml')]);
      expect(merge.code, merge.stderr).toBe(0);
      const normalize = (text: string, host: string, file: string) => {
        const strip = (v: unknown): unknown => {
          if (Array.isArray(v)) return v.map(strip);
          if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'durationMs').map(([k, x]) => [k, strip(x)]));
          return v;
        };
        return strip(JSON.parse(text.split(host).join('DST').split(file).join('SYNC.yaml')));
      };
      const merged = normalize(readFileSync(path.join(d, 'merged.json'), 'utf8'), many.host, fileMany);
      const single = normalize(readFileSync(path.join(d, 'whole.json'), 'utf8'), one.host, fileOne);
      expect(merged).toEqual(single);
      expect((single as SyncReport).images).toHaveLength(9);
      expect((single as SyncReport).totals.bytes).toBeGreaterThan(0);
      const junit = readFileSync(path.join(d, 'merged.xml'), 'utf8');
      expect(junit).toMatch(/<testsuite name="airlock sync" tests="9" failures="0"/);
    } finally {
      await Promise.all([one.stop(), many.stop()]);
    }
  });

  it('a failing source is reported with its reason and the rest complete; --max-failures and --on-failure-exec (without secrets)', async () => {
    const dst = await startRegistry();
    try {
      const d = tmp();
      const file = path.join(d, 'sync.yaml');
      writeFileSync(
        file,
        `defaults:
  to: ${dst.host}/m
registries:
  ${src.host}:
    username-env: SRC_USER
    password-env: SRC_PASS
images:
  - ${src.host}/lib/tool:alpha
  - ${src.host}/lib/missing:1.0
  - 127.0.0.1:9/gone/away:1
  - repository: 127.0.0.1:9/gone/repo
    latest: 1
  - repository: ${src.host}/lib/tool
    tags: [beta, nope]
`,
      );
      const hookOut = path.join(d, 'hook');
      const env = {
        SRC_USER: 'reader',
        SRC_PASS: 'reader-secret',
        AIRLOCK_REGISTRY_PASSWORD: 'secret-1',
        COSIGN_PASSWORD: 'secret-2',
        GITLAB_TOKEN: 'secret-3',
        SMTP_PASSWORD: 'secret-4',
        HOOK_MARK: 'visible',
      };
      const hook = `mkdir -p ${hookOut} && env > ${hookOut}/env.txt && printf '%s' "$1" > ${hookOut}/arg.txt`;
      const r = await sync(['-f', file, '--retries', '0', '--on-failure-exec', hook, '--report', path.join(d, 'report.json')], env);
      expect(r.code).toBe(1);
      const by = (s: string) => r.report.images.find((i) => i.source.includes(s))!;
      expect(by('lib/tool:alpha').outcome).toBe('synced');
      expect(by('lib/tool:beta').outcome).toBe('synced');
      expect(by('lib/missing').outcome).toBe('failed');
      expect(by('lib/missing').reason).toMatch(/manifest not found/);
      expect(by('lib/tool:nope').reason).toMatch(/has no tag "nope"/);
      expect(by('gone/away').outcome).toBe('failed');
      expect(by('gone/repo').reason).toMatch(/listing the tags of 127\.0\.0\.1:9\/gone\/repo failed/);
      expect(r.report.totals.failed).toBe(4);
      expect(r.stderr).toMatch(/4 images failed:/);
      expect(await tagDigest(dst.url, 'm/lib/tool', 'alpha')).toBe(pushed.get('lib/tool:alpha')!.digest);
      // The hook got the report path, as $1 and in the environment, and no secret.
      expect(readFileSync(path.join(hookOut, 'arg.txt'), 'utf8')).toBe(path.join(d, 'report.json'));
      const hookEnv = readFileSync(path.join(hookOut, 'env.txt'), 'utf8');
      expect(hookEnv).toContain(`AIRLOCK_SYNC_REPORT=${path.join(d, 'report.json')}`);
      expect(hookEnv).toContain('HOOK_MARK=visible');
      expect(hookEnv).not.toMatch(/secret|SRC_USER|SRC_PASS|AIRLOCK_REGISTRY_PASSWORD|COSIGN_PASSWORD|GITLAB_TOKEN|SMTP_PASSWORD/);
      const fromFile = JSON.parse(readFileSync(path.join(d, 'report.json'), 'utf8')) as SyncReport;
      expect(fromFile.images.length).toBe(6);

      const tolerated = await sync(['-f', file, '--retries', '0', '--max-failures', '4'], env);
      expect(tolerated.code).toBe(0);
      expect(tolerated.report.images.filter((i) => i.outcome === 'up-to-date').length).toBe(2);
      const strict = await sync(['-f', file, '--retries', '0', '--max-failures', '3'], env);
      expect(strict.code).toBe(1);
    } finally {
      await dst.stop();
    }
  });

  it('429 with Retry-After is obeyed: the throttled requests are retried and the sync succeeds', async () => {
    const dst = await startRegistry();
    const throttling = await startCountingProxy(src.host, { throttle: 3 });
    try {
      const d = tmp();
      const file = path.join(d, 'sync.yaml');
      writeFileSync(
        file,
        `defaults:
  to: ${dst.host}/m
registries:
  ${throttling.host}:
    requests-per-second: 50
images:
  - ${throttling.host}/lib/tool:alpha
  - ${throttling.host}/lib/tool:beta
`,
      );
      const r = await sync(['-f', file]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.report.images.map((i) => i.outcome)).toEqual(['synced', 'synced']);
      expect(throttling.throttled).toBe(3);
      const throttled = throttling.requests.filter((q) => q.status === 429);
      expect(throttled).toHaveLength(3);
      for (const t of throttled) {
        const i = throttling.requests.indexOf(t);
        expect(throttling.requests.slice(i + 1).some((q) => q.method === t.method && q.path === t.path && q.status < 400), `${t.method} ${t.path} retried`).toBe(true);
      }
      expect(r.stderr.match(/retry \d+ in [\d.]+m?s: HTTP 429/g)?.length).toBe(3);
      expect(await tagDigest(dst.url, 'm/lib/tool', 'beta')).toBe(pushed.get('lib/tool:beta')!.digest);
    } finally {
      await throttling.close();
      await dst.stop();
    }
  });

  it('--prune lists first, then removes only tags that left a managed selection', async () => {
    const dst = await startRegistry({ deleteEnabled: true });
    try {
      const d = tmp();
      const file = path.join(d, 'sync.yaml');
      const write = (tags: string[]) =>
        writeFileSync(
          file,
          `defaults:
  to: ${dst.host}/m
images:
  - repository: ${src.host}/lib/tool
    tags: [${tags.join(', ')}]
  - ${src.host}/lib/app:1.0.0
`,
        );
      write(['alpha', 'beta', 'gamma']);
      expect((await sync(['-f', file])).code).toBe(0);
      // Not sync's: another repository, a tag in an unmanaged repository, and a second tag on a kept manifest.
      await pushImage(dst.url, 'other/thing', '1', { layers: [layer('other')] });
      await pushImage(dst.url, 'm/lib/app', 'stray', { layers: [layer('stray')] });
      const gamma = pushed.get('lib/tool:gamma')!;
      const gammaManifest = await fetch(`${src.url}/v2/lib/tool/manifests/gamma`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }).then(async (res) => Buffer.from(await res.arrayBuffer()));
      const put = await fetch(`${dst.url}/v2/m/lib/tool/manifests/alias`, { method: 'PUT', body: gammaManifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
      expect(put.status).toBe(201);

      write(['beta', 'gamma']);
      const dry = await sync(['-f', file, '--prune', '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      const status = (rep: SyncReport) => Object.fromEntries(rep.pruned.map((p) => [p.reference.replace(`${dst.host}/`, ''), p.status]));
      expect(status(dry.report)).toEqual({ 'm/lib/tool:alpha': 'would delete', 'm/lib/tool:alias': 'kept' });
      expect(dry.stderr).toMatch(/prune: .*m\/lib\/tool:alpha .*would delete/);
      expect(await listTags(dst.url, 'm/lib/tool')).toEqual(['alias', 'alpha', 'beta', 'gamma']);

      const real = await sync(['-f', file, '--prune']);
      expect(real.code, real.stderr).toBe(0);
      expect(status(real.report)).toEqual({ 'm/lib/tool:alpha': 'deleted', 'm/lib/tool:alias': 'kept' });
      expect(real.report.pruned.find((p) => p.reference.endsWith(':alias'))!.note).toMatch(/same manifest as the selected tag gamma/);
      expect(await listTags(dst.url, 'm/lib/tool')).toEqual(['alias', 'beta', 'gamma']);
      expect(await tagDigest(dst.url, 'm/lib/tool', 'gamma')).toBe(gamma.digest);
      expect(await listTags(dst.url, 'm/lib/app')).toEqual(['1.0.0', 'stray']);
      expect(await listTags(dst.url, 'other/thing')).toEqual(['1']);
    } finally {
      await dst.stop();
    }
  });

  it('input errors exit 2 with one line, before anything is copied', async () => {
    const d = tmp();
    const bad = path.join(d, 'bad.yaml');
    writeFileSync(bad, `images:\n  - repository: ${src.host}/lib/tool\n`);
    const r1 = await runCli(['sync', '-f', bad]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/^error: .*bad\.yaml: invalid sync file at images\.0: .*tag selection/m);
    expectNoStack(r1);
    const creds = path.join(d, 'creds.yaml');
    writeFileSync(creds, `defaults: { to: 127.0.0.1:9/x }\nregistries:\n  docker.io: { username-env: HUB_USER, password-env: HUB_TOKEN }\nimages: [nginx:1.27]\n`);
    const r2 = await runCli(['sync', '-f', creds]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/registries\.docker\.io takes its credentials from HUB_USER and HUB_TOKEN, which are not set/);
    const r3 = await runCli(['sync', '-f', creds, '--shard', '4/3']);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/invalid shard --shard 4\/3/);
    const semverBad = path.join(d, 'semver.yaml');
    writeFileSync(semverBad, `defaults: { to: 127.0.0.1:9/x }\nimages:\n  - { repository: ${src.host}/lib/app, semver: "not a range" }\n`);
    const r4 = await runCli(['sync', '-f', semverBad]);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/"not a range" is not a semver range/);
  });

  it('platform filters: the no-op check works out the filtered digest, so an unchanged image is not copied again', async () => {
    const multi = await pushIndex(src.url, 'lib/multi', '1.0', ['linux/amd64', 'linux/arm64', 'linux/s390x'], 'multi');
    const dst = await startRegistry();
    const dstProxy = await startCountingProxy(dst.host);
    try {
      const d = tmp();
      const file = path.join(d, 'sync.yaml');
      writeFileSync(
        file,
        `defaults:
  to: ${dstProxy.host}/one
  platforms: [linux/arm64]
images:
  - ${src.host}/lib/multi:1.0
  - source: ${src.host}/lib/multi:1.0
    destination: ${dstProxy.host}/two/multi:1.0
    platforms: [linux/amd64, linux/arm64]
`,
      );
      const first = await sync(['-f', file]);
      expect(first.code, first.stderr).toBe(0);
      expect(await tagDigest(dst.url, 'one/lib/multi', '1.0')).toBe(multi.children['linux/arm64']);
      const two = await tagDigest(dst.url, 'two/multi', '1.0');
      expect(two).not.toBe(multi.digest);
      const d0 = dstProxy.requests.length;
      const again = await sync(['-f', file]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.report.images.map((i) => i.outcome)).toEqual(['up-to-date', 'up-to-date']);
      const kinds = dstProxy.kinds(d0);
      expect(sum(kinds, (k) => /^(PUT|POST|PATCH)/.test(k))).toBe(0);
      expect(sum(kinds, (k) => k.startsWith('HEAD manifest'))).toBe(2);
    } finally {
      await dstProxy.close();
      await dst.stop();
    }
  });

  it('per-registry settings: a CA file trusted for that registry only, and insecure for one host', async () => {
    const tls = await startRegistry({ tls: true });
    const dst = await startRegistry();
    try {
      const img = await pushImage(src.url, 'lib/tls', '1', { layers: [layer('tls')] });
      // Seed the TLS registry from the plain one with a first sync.
      const d = tmp();
      const seed = path.join(d, 'seed.yaml');
      writeFileSync(seed, `registries:\n  ${tls.host}: { ca-file: ${tls.caFile} }\nimages:\n  - { source: ${src.host}/lib/tls:1, destination: ${tls.host}/up/tls:1 }\n`);
      const seeded = await sync(['-f', seed]);
      expect(seeded.code, seeded.stderr).toBe(0);
      const file = path.join(d, 'sync.yaml');
      const write = (settings: string) => writeFileSync(file, `defaults: { to: ${dst.host}/m }\n${settings}images:\n  - ${tls.host}/up/tls:1\n`);
      write('');
      const untrusted = await sync(['-f', file, '--retries', '0']);
      expect(untrusted.code).toBe(1);
      expect(untrusted.report.images[0]!.error?.message).toMatch(/TLS verification failed/);
      write(`registries:\n  ${tls.host}: { ca-file: ${tls.caFile} }\n`);
      const trusted = await sync(['-f', file]);
      expect(trusted.code, trusted.stderr).toBe(0);
      expect(await tagDigest(dst.url, 'm/up/tls', '1')).toBe(img.digest);
      write(`registries:\n  ${tls.host}: { insecure: true }\n`);
      const insecure = await sync(['-f', file]);
      expect(insecure.code, insecure.stderr).toBe(0);
      expect(insecure.report.images[0]!.outcome).toBe('up-to-date');
    } finally {
      await Promise.all([tls.stop(), dst.stop()]);
    }
  });
});

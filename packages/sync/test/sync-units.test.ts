import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AirlockError, HostRateLimiter } from '@airlock/oci';
import { mergeTransferReports as mergeReports, type MergeableReport } from '@airlock/step-kit/report';
import { shardFromFlagOrEnv as parseShard, partition, partitionGrouped, shardItems } from '@airlock/step-kit/shard';
import { hookEnv, parseSyncConfig, runHook, selectTags, versionOf } from '@airlock/sync';
import { PassThrough } from 'node:stream';

const TAGS = ['1.0.0', '1.1.0', '1.2.0-rc.1', '2.0.0', 'v2.1', '16', '1.27', 'latest', 'main', `sha256-${'a'.repeat(64)}.sig`, `sha256-${'b'.repeat(64)}`];

describe('tag selection', () => {
  it('reads short versions and v-prefixed ones; suffixes are pre-releases', () => {
    expect(versionOf('16')?.version).toBe('16.0.0');
    expect(versionOf('1.27')?.version).toBe('1.27.0');
    expect(versionOf('v2.1')?.version).toBe('2.1.0');
    expect(versionOf('1.27-alpine')?.prerelease).toEqual(['alpine']);
    expect(versionOf('latest')).toBeNull();
  });

  it('include/exclude regexes; cosign and fallback tags are never candidates', async () => {
    expect((await selectTags(TAGS, { include: '^1\\.' })).tags).toEqual(['1.0.0', '1.1.0', '1.2.0-rc.1', '1.27']);
    expect((await selectTags(TAGS, { include: ['^1\\.'], exclude: ['-rc', '^1\\.27$'] })).tags).toEqual(['1.0.0', '1.1.0']);
    expect((await selectTags(TAGS, { exclude: '.' })).tags).toEqual([]);
    expect((await selectTags(TAGS, { include: 'sha256' })).tags).toEqual([]);
  });

  it('semver ranges leave pre-releases out unless asked', async () => {
    expect((await selectTags(TAGS, { semver: '>=1.1 <2' })).tags).toEqual(['1.1.0', '1.27']);
    expect((await selectTags(TAGS, { semver: '>=1.1 <2', prereleases: true })).tags).toEqual(['1.1.0', '1.2.0-rc.1', '1.27']);
    expect((await selectTags(TAGS, { semver: '^2' })).tags).toEqual(['2.0.0', 'v2.1']);
  });

  it('latest N by version when every candidate is one, else by creation time (asked only then)', async () => {
    let asked = 0;
    const created = async (tags: string[]) => {
      asked++;
      return new Map(tags.map((t) => [t, { latest: 3, main: 2, '16': 1 }[t as 'latest'] ?? 0]));
    };
    const bySemver = await selectTags(TAGS, { semver: '*', latest: 2 }, created);
    expect(bySemver).toEqual({ tags: ['16', 'v2.1'], missing: [], orderedBy: 'semver' });
    expect(asked).toBe(0);
    const byDate = await selectTags(TAGS, { include: '^(latest|main|16)$', latest: 2 }, created);
    expect(byDate).toEqual({ tags: ['latest', 'main'], missing: [], orderedBy: 'created' });
    expect(asked).toBe(1);
  });

  it('a tags: list is taken as is, and names what is missing', async () => {
    expect(await selectTags(TAGS, { tags: ['main', 'nope'] })).toEqual({ tags: ['main'], missing: ['nope'] });
    expect((await selectTags(TAGS, { tags: ['main'], semver: '^2' })).tags).toEqual(['2.0.0', 'main', 'v2.1']);
  });
});

describe('sync.yaml', () => {
  it('the documented example (examples/sync.yaml) is valid', () => {
    const file = fileURLToPath(new URL('../../../examples/sync.yaml', import.meta.url));
    const c = parseSyncConfig(readFileSync(file, 'utf8'), file);
    expect(c.images.length).toBeGreaterThan(5);
    expect(c.registries?.['docker.io']?.['password-env']).toBe('DOCKERHUB_TOKEN');
  });

  it('accepts the documented forms and refuses what is wrong, naming where', () => {
    const ok = parseSyncConfig(
      `defaults: { to: r.local/m, platforms: [linux/amd64], referrers: false, concurrency: 4 }
registries:
  docker.io: { username-env: HUB_USER, password-env: HUB_TOKEN, requests-per-second: 2 }
images:
  - nginx:1.27
  - source: ghcr.io/a/b@sha256:${'c'.repeat(64)}
  - { repository: docker.io/library/redis, semver: "^7", latest: 2, include: ['^7'], tags: [7, "6.2"] }
`,
      'sync.yaml',
    );
    expect(ok.images).toHaveLength(3);
    expect((ok.images[2] as { tags: string[] }).tags).toEqual(['7', '6.2']);
    const bad = (text: string) => {
      try {
        parseSyncConfig(text, 's.yaml');
      } catch (e) {
        expect(e).toBeInstanceOf(AirlockError);
        return (e as AirlockError).message;
      }
      throw new Error('accepted');
    };
    expect(bad('images: []')).toMatch(/s\.yaml: invalid sync file at images/);
    expect(bad('images:\n  - { repository: a/b, include: "(" }')).toMatch(/not a valid regular expression/);
    expect(bad('images: [a]\nregistries:\n  x.io: { password-env: "$(cat /secret)", username-env: U }')).toMatch(/environment variable name/);
    expect(bad('images: [a]\nregistries:\n  x.io: { password: hunter2 }')).toMatch(/registries\.x\.io/);
    expect(bad('images:\n  - { repository: a/b, latest: 0 }')).toMatch(/images\.0/);
  });
});

describe('sharding', () => {
  const items = Array.from({ length: 10 }, (_, i) => ({ key: `img-${i}`, w: (i % 4) + 1 }));

  it('--shard I/N and CI_NODE_INDEX/CI_NODE_TOTAL (1-based); bad values are usage errors', () => {
    expect(parseShard('2/3', {})).toEqual({ index: 2, total: 3 });
    expect(parseShard(undefined, { CI_NODE_INDEX: '1', CI_NODE_TOTAL: '4' })).toEqual({ index: 1, total: 4 });
    expect(parseShard(undefined, {})).toBeUndefined();
    expect(() => parseShard('0/3', {})).toThrow(/invalid shard --shard 0\/3/);
    expect(parseShard('ci', { CI_NODE_INDEX: '2', CI_NODE_TOTAL: '2' })).toEqual({ index: 2, total: 2 });
    expect(() => parseShard('a/b', {})).toThrow(AirlockError);
  });

  it('covers every item once, balances weight, and ignores input order', () => {
    const groups = partition(items, 3, (i) => i.key, (i) => i.w);
    expect(groups.flat().map((i) => i.key).sort()).toEqual(items.map((i) => i.key).sort());
    const loads = groups.map((g) => g.reduce((a, i) => a + i.w, 0));
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1);
    const shuffled = [...items].reverse();
    expect(partition(shuffled, 3, (i) => i.key, (i) => i.w).map((g) => g.map((i) => i.key).sort())).toEqual(groups.map((g) => g.map((i) => i.key).sort()));
    const mine = [1, 2, 3].map((index) => shardItems(items, { index, total: 3 }, (i) => i.key));
    expect(mine.map((m) => m.length)).toEqual([4, 3, 3]);
  });
});

describe('grouped sharding', () => {
  it('keeps a group together unless it is bigger than a share, and still covers everything once', () => {
    const items = [
      ...['a1', 'a2', 'a3'].map((k) => ({ k, g: 'a' })),
      ...['b1', 'b2', 'b3'].map((k) => ({ k, g: 'b' })),
      ...['c1', 'c2', 'c3', 'c4', 'c5', 'c6'].map((k) => ({ k, g: 'c' })),
    ];
    const parts = partitionGrouped(items, 3, (i) => i.k, (i) => i.g);
    // Shares of 4 are fair; keeping a and b whole costs at most one image of balance here.
    expect(parts.map((p) => p.length).sort()).toEqual([3, 4, 5]);
    expect(parts.flat().map((i) => i.k).sort()).toEqual(items.map((i) => i.k).sort());
    // a and b are not split; c (6 > 4) is cut into runs of at most 4.
    for (const g of ['a', 'b']) expect(parts.filter((p) => p.some((i) => i.g === g))).toHaveLength(1);
    expect(parts.filter((p) => p.some((i) => i.g === 'c')).length).toBe(2);
    expect(partitionGrouped([...items].reverse(), 3, (i) => i.k, (i) => i.g).map((p) => p.map((i) => i.k).sort())).toEqual(parts.map((p) => p.map((i) => i.k).sort()));
  });
});

describe('report merge', () => {
  const image = (source: string, status: 'copied' | 'failed', bytes: number) => ({ source, destination: `d/${source}`, status, blobs: { copied: 1, skipped: 0, mounted: 0 }, bytes, manifests: 1, referrers: 0, durationMs: 5, outcome: status === 'failed' ? 'failed' : 'synced' });
  const report = (images: ReturnType<typeof image>[], extra: Record<string, unknown> = {}): MergeableReport =>
    ({ tool: 'airlock', command: 'sync', ok: images.every((i) => i.status !== 'failed'), dryRun: false, images, pruned: [], totals: { images: images.length, failed: 0, skipped: 0, bytes: 0, blobs: { copied: 0, skipped: 0, mounted: 0 }, durationMs: 7, synced: images.length, upToDate: 0 }, ...extra }) as MergeableReport;

  it('joins images in a stable order, recomputes totals, keeps step fields, drops the shard', () => {
    const m = mergeReports([
      { file: 'a', report: report([image('z', 'copied', 10)], { shard: { index: 1, total: 2 } }) },
      { file: 'b', report: report([image('a', 'failed', 0), image('m', 'copied', 5)], { shard: { index: 2, total: 2 } }) },
    ]);
    expect(m.images.map((i) => i.source)).toEqual(['a', 'm', 'z']);
    expect(m.totals).toMatchObject({ images: 3, failed: 1, bytes: 15, synced: 3, durationMs: 7 });
    expect(m.ok).toBe(false);
    expect('shard' in m).toBe(false);
    expect(m.images[0]!.outcome).toBe('failed');
  });

  it('refuses reports of another command or one image twice', () => {
    expect(() => mergeReports([{ file: 'a', report: report([image('x', 'copied', 1)]) }, { file: 'b', report: { ...report([]), command: 'mirror' } }])).toThrow(/mirror report/);
    expect(() => mergeReports([{ file: 'a', report: report([image('x', 'copied', 1)]) }, { file: 'b', report: report([image('x', 'copied', 1)]) }])).toThrow(/more than one report/);
  });
});

describe('--on-failure-exec environment', () => {
  it('drops passwords, tokens and the variables sync.yaml names; keeps the rest', () => {
    const env = hookEnv({ PATH: '/bin', AIRLOCK_REGISTRY_PASSWORD: 'x', COSIGN_PASSWORD: 'x', CI_JOB_TOKEN: 'x', DOCKER_AUTH_CONFIG: 'x', HUB_USER: 'u', MAIL_TO: 'ops' }, ['HUB_USER'], { AIRLOCK_SYNC_REPORT: '/r.json' });
    expect(env).toEqual({ PATH: '/bin', MAIL_TO: 'ops', AIRLOCK_SYNC_REPORT: '/r.json' });
  });
});

describe('--on-failure-exec', () => {
  const capture = async (cmd: string) => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const code = await runHook(cmd, '/tmp/report one.json', { PATH: process.env.PATH, AIRLOCK_SYNC_REPORT: '/tmp/report one.json' }, out, out);
    return { code, text };
  };
  it('appends the report path as the last argument unless the command uses it itself', async () => {
    expect(await capture('printf "[%s]"')).toEqual({ code: 0, text: '[/tmp/report one.json]' });
    expect(await capture('printf "<%s|%s>" "$AIRLOCK_SYNC_REPORT" x')).toEqual({ code: 0, text: '</tmp/report one.json|x>' });
    expect((await capture('exit 3')).code).toBe(3);
  });
});

describe('rate limiter', () => {
  it('spaces requests to a limited host and holds a paused one; other hosts pass', async () => {
    let now = 1000;
    const lim = new HostRateLimiter({ 'slow.example': 1000 }, () => now);
    await lim.acquire('fast.example');
    await lim.acquire('slow.example');
    // The second request to the limited host waits for its slot (1 ms later).
    let second = false;
    const p = lim.acquire('slow.example').then(() => (second = true));
    expect(second).toBe(false);
    await p;
    expect(second).toBe(true);
    lim.pause('fast.example', 5);
    let third = false;
    const q = lim.acquire('fast.example').then(() => (third = true));
    await Promise.resolve();
    expect(third).toBe(false);
    now += 10;
    await q;
    expect(() => new HostRateLimiter({ x: 0 })).toThrow(RangeError);
  });
});

/**
 * Charts in bundles over @airlock/helm: a `repo:` chart from a static chart repository (semver
 * range, index.yaml digest checked) with images-from-chart pulling its images from a loopback
 * registry, and an `oci://` chart pushed there first with `airlock chart copy`; created, verified,
 * loaded into a second registry (PREFIX/charts/NAME:VERSION, the exact helm-push manifest digest)
 * and to a ChartMuseum replay server with --chart-repo (201, then 409 for the same chart = success).
 * A chart whose bytes do not match index.yaml refuses the bundle, and nothing is written.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventorySchema } from '@airlock/oci/archive';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { buildChart, type ChartInput, helmIndexYaml, type MuseumServer, sha256hex, startMuseum, startStaticServer, type TestServer } from '../helpers/charts.js';
import { makeImages, pushLayoutToRegistry, skopeoInspect, type ImageLayout } from '../helpers/images.js';
import { rawRequest } from '../helpers/net.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** SOURCE_DATE_EPOCH 1767225600 = 2026-01-01T00:00:00Z: the bundle's creation time and the charts' `created`. */
const env = { SOURCE_DATE_EPOCH: '1767225600' };
const CREATED = '2026-01-01T00:00:00Z';

async function manifestDigest(reg: TestRegistry, repo: string, ref: string): Promise<{ digest: string; manifest: { config: { mediaType: string }; layers: { mediaType: string; digest: string }[]; annotations?: Record<string, string> } }> {
  const r = await rawRequest(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
  if (r.status !== 200) throw new Error(`GET ${repo}:${ref} → ${r.status}`);
  return { digest: String(r.headers['docker-content-digest']), manifest: JSON.parse(r.body.toString()) as never };
}

describe('airlock bundle with charts from repositories and registries', () => {
  let upstream: TestRegistry;
  let airgapped: TestRegistry;
  let images: ImageLayout;
  let repo: TestServer;
  let badRepo: TestServer;
  let museum: MuseumServer;
  let dir: string;
  let webTgz: Buffer;
  let apiTgz: Buffer;
  let apiDigest: string;

  beforeAll(async () => {
    [upstream, airgapped] = await Promise.all([startRegistry(), startRegistry()]);
    images = await makeImages({ images: 2, layers: 1, layerMb: 0.02, seed: 31 });
    await Promise.all(images.tags.map((t) => pushLayoutToRegistry(images.layoutDir, t, upstream, `acme/${t}`, '1.0')));
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-bundle-charts-'));

    // web: img-0 from values (map form, tag from appVersion), img-1 from the helm.sh/images annotation.
    const webChart = (version: string): ChartInput => ({
      name: 'web',
      version,
      appVersion: '1.0',
      templates: { 'deployment.yaml': 'kind: Deployment\n' },
      chartYamlExtra: ['annotations:', '  helm.sh/images: |', '    - name: sidecar', `      image: ${upstream.host}/acme/img-1:1.0`].join('\n'),
      valuesYaml: ['image:', `  repository: ${upstream.host}/acme/img-0`, '  tag: ""', ''].join('\n'),
    });
    const repoDir = path.join(dir, 'repo');
    const badDir = path.join(dir, 'bad-repo');
    for (const d of [repoDir, badDir]) mkdirSync(d);
    const old = await buildChart(webChart('1.1.0'));
    webTgz = await buildChart(webChart('1.2.0'));
    const newer = await buildChart(webChart('2.0.0'));
    for (const [f, b] of [['web-1.1.0.tgz', old], ['web-1.2.0.tgz', webTgz], ['web-2.0.0.tgz', newer]] as const) {
      writeFileSync(path.join(repoDir, f), b);
      writeFileSync(path.join(badDir, f), b);
    }
    const entries = [
      { c: webChart('2.0.0'), tgz: newer },
      { c: webChart('1.2.0'), tgz: webTgz },
      { c: webChart('1.1.0'), tgz: old },
    ];
    writeFileSync(path.join(repoDir, 'index.yaml'), helmIndexYaml(entries));
    // The same repository, but index.yaml says 1.2.0 hashes to something else.
    writeFileSync(path.join(badDir, 'index.yaml'), helmIndexYaml(entries.map((e) => (e.c.version === '1.2.0' ? { ...e, digest: sha256hex(Buffer.from('not this chart')) } : e))));
    [repo, badRepo, museum] = await Promise.all([startStaticServer(repoDir), startStaticServer(badDir), startMuseum()]);

    // api: pushed into the upstream registry with airlock chart copy, as helm push would.
    apiTgz = await buildChart({ name: 'api', version: '0.3.0+build.2', description: 'an API chart' });
    const apiFile = path.join(dir, 'api-0.3.0+build.2.tgz');
    writeFileSync(apiFile, apiTgz);
    const c = await runCli(['chart', 'copy', apiFile, `oci://${upstream.host}/charts-src`, '--created', '2025-06-01T00:00:00Z', '--json']);
    expect(c.code, c.stderr).toBe(0);
    apiDigest = (JSON.parse(c.stdout) as { chart: { manifestDigest: string } }).chart.manifestDigest;
    expect(apiDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([upstream?.stop(), airgapped?.stop(), images?.remove(), repo?.close(), badRepo?.close(), museum?.close()]);
  });

  it('repo: and oci:// charts with images-from-chart: created, verified, loaded to PREFIX/charts and to ChartMuseum', async () => {
    const yaml = path.join(dir, 'airlock.yaml');
    writeFileSync(
      yaml,
      [
        'charts:',
        `  - repo: ${repo.url}`,
        '    name: web',
        '    version: "^1.1"',
        '    images-from-chart: true',
        `  - oci: oci://${upstream.host}/charts-src/api:0.3.0_build.2`,
        '',
      ].join('\n'),
    );
    const b = path.join(dir, 'charts.tar');
    const c = await runCli(['bundle', 'create', '-f', yaml, '-o', b], { env });
    expect(c.code, c.stderr).toBe(0);

    const inv = inventorySchema.parse((JSON.parse((await runCli(['bundle', 'list', b, '--json'])).stdout) as { inventory: unknown }).inventory);
    const charts = inv.entries.filter((e) => e.kind === 'chart');
    expect(charts.map((e) => [e.name, e.version])).toEqual([
      ['web', '1.2.0'],
      ['api', '0.3.0+build.2'],
    ]);
    const webEntry = charts.find((e) => e.name === 'web')!;
    expect(webEntry.kind === 'chart' && [...(webEntry.images ?? [])].sort()).toEqual([`${upstream.host}/acme/img-0:1.0`, `${upstream.host}/acme/img-1:1.0`]);
    expect(webEntry.source).toContain(repo.url);
    const imageNames = inv.entries.filter((e) => e.kind === 'image').map((e) => e.name).sort();
    expect(imageNames).toEqual([`${upstream.host}/acme/img-0:1.0`, `${upstream.host}/acme/img-1:1.0`]);
    // the oci:// chart keeps the manifest chart copy wrote
    expect(charts.find((e) => e.name === 'api')!.digest).toBe(apiDigest);

    const v = await runCli(['bundle', 'verify', b]);
    expect(v.code, v.stderr).toBe(0);

    // What helm push (chart copy) writes for web 1.2.0 with the bundle's creation time.
    const expected = await runCli(['chart', 'copy', repo.url, '--name', 'web', '--version', '1.2.0', `oci://${upstream.host}/expected`, '--created', CREATED, '--json']);
    expect(expected.code, expected.stderr).toBe(0);
    const webDigest = (JSON.parse(expected.stdout) as { chart: { manifestDigest: string } }).chart.manifestDigest;
    expect(webEntry.digest).toBe(webDigest);

    const l = await runCli(['bundle', 'load', b, '--to', `${airgapped.host}/mirror`]);
    expect(l.code, l.stderr).toBe(0);
    const loadedWeb = await manifestDigest(airgapped, 'mirror/charts/web', '1.2.0');
    expect(loadedWeb.digest).toBe(webDigest);
    expect(loadedWeb.manifest.config.mediaType).toBe('application/vnd.cncf.helm.config.v1+json');
    expect(loadedWeb.manifest.layers).toEqual([{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: `sha256:${sha256hex(webTgz)}`, size: webTgz.length }]);
    expect(loadedWeb.manifest.annotations?.['org.opencontainers.image.created']).toBe(CREATED);
    expect((await manifestDigest(airgapped, 'mirror/charts/api', '0.3.0_build.2')).digest).toBe(apiDigest);
    for (const t of ['img-0', 'img-1']) {
      expect(await skopeoInspect(`docker://${airgapped.host}/mirror/acme/${t}:1.0`, { raw: true })).toBe(await skopeoInspect(`docker://${upstream.host}/acme/${t}:1.0`, { raw: true }));
    }

    // --chart-repo: the charts go to ChartMuseum (201), the images still to PREFIX.
    const m = await runCli(['bundle', 'load', b, '--to', `${airgapped.host}/mirror2`, '--chart-repo', museum.url]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stderr).toContain(`chart web 1.2.0 → ${museum.url}/api/charts (uploaded)`);
    expect([...museum.charts.keys()].sort()).toEqual(['api/0.3.0+build.2', 'web/1.2.0']);
    expect(museum.charts.get('web/1.2.0')!.tgz.equals(webTgz)).toBe(true);
    expect(museum.charts.get('api/0.3.0+build.2')!.tgz.equals(apiTgz)).toBe(true);
    expect(museum.requests.filter((r) => r.method === 'POST' && r.url === '/api/charts')).toHaveLength(2);
    await expect(manifestDigest(airgapped, 'mirror2/charts/web', '1.2.0')).rejects.toThrow(/404/);
    expect(await skopeoInspect(`docker://${airgapped.host}/mirror2/acme/img-0:1.0`, { raw: true })).toBe(await skopeoInspect(`docker://${upstream.host}/acme/img-0:1.0`, { raw: true }));

    // Again: 409 for the same charts, checked by digest, is success.
    const before = museum.requests.length;
    const again = await runCli(['bundle', 'load', b, '--to', `${airgapped.host}/mirror2`, '--chart-repo', museum.url]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`chart web 1.2.0 → ${museum.url}/api/charts (already there)`);
    expect(again.stderr).toContain(`chart api 0.3.0+build.2 → ${museum.url}/api/charts (already there)`);
    const second = museum.requests.slice(before).map((r) => `${r.method} ${r.url}`);
    expect(second).toEqual(expect.arrayContaining(['POST /api/charts', 'GET /api/charts/web/1.2.0', 'GET /api/charts/api/0.3.0%2Bbuild.2']));
    expect(museum.charts.get('web/1.2.0')!.tgz.equals(webTgz)).toBe(true);
  });

  it('a chart whose bytes do not match index.yaml refuses the bundle; nothing is written', async () => {
    const yaml = path.join(dir, 'bad.yaml');
    writeFileSync(yaml, ['charts:', `  - repo: ${badRepo.url}`, '    name: web', '    version: 1.2.0', '    images-from-chart: true', ''].join('\n'));
    const out = path.join(dir, 'bad-out');
    const b = path.join(out, 'bad.tar');
    const r = await runCli(['bundle', 'create', '-f', yaml, '-o', b], { env });
    expect([1, 2]).toContain(r.code);
    expectNoStack(r);
    expect(r.stderr).toMatch(/charts\.0: .*web-1\.2\.0\.tgz: content digest [a-f0-9]{64} does not match the index's [a-f0-9]{64}/);
    expect(existsSync(b)).toBe(false);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('a local .tgz with images-from-chart and values: files: the values file picks the image', async () => {
    const tgz = await buildChart({ name: 'job', version: '0.1.0', valuesYaml: ['image:', `  repository: ${upstream.host}/acme/img-0`, '  tag: "0.9"', ''].join('\n') });
    writeFileSync(path.join(dir, 'job-0.1.0.tgz'), tgz);
    writeFileSync(path.join(dir, 'prod-values.yaml'), 'image:\n  tag: "1.0"\n');
    const yaml = path.join(dir, 'local.yaml');
    writeFileSync(yaml, ['charts:', '  - file: job-0.1.0.tgz', '    images-from-chart: true', '    values: [prod-values.yaml]', ''].join('\n'));
    const b = path.join(dir, 'local.tar');
    const c = await runCli(['bundle', 'create', '-f', yaml, '-o', b], { env });
    expect(c.code, c.stderr).toBe(0);
    const inv = inventorySchema.parse((JSON.parse((await runCli(['bundle', 'list', b, '--json'])).stdout) as { inventory: unknown }).inventory);
    expect(inv.entries.filter((e) => e.kind === 'image').map((e) => e.name)).toEqual([`${upstream.host}/acme/img-0:1.0`]);
    const chart = inv.entries.find((e) => e.kind === 'chart');
    expect(chart?.kind === 'chart' && chart.images).toEqual([`${upstream.host}/acme/img-0:1.0`]);
  });

  it('--chart-repo that is not a URL is a usage error (exit 2)', async () => {
    const r = await runCli(['bundle', 'load', path.join(dir, 'no-such.tar'), '--to', `${airgapped.host}/x`, '--chart-repo', 'charts.internal']);
    expect(r.code).toBe(2);
    expectNoStack(r);
    expect(r.stderr).toMatch(/--chart-repo "charts\.internal" is not an http\(s\) URL/);
  });
});

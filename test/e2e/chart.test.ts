import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { buildChart, type ChartInput, helmIndexYaml, type MuseumServer, sha256hex, startMuseum, startStaticServer, type TestServer } from '../helpers/charts.js';
import { skopeoInspect } from '../helpers/images.js';
import { rawRequest } from '../helpers/net.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'airlock-chart-'));
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface OciManifest {
  schemaVersion: number;
  mediaType?: string;
  config: { mediaType: string; digest: string; size: number };
  layers: { mediaType: string; digest: string; size: number }[];
  annotations?: Record<string, string>;
}

async function pull(reg: TestRegistry, repo: string, ref: string): Promise<{ bytes: Buffer; manifest: OciManifest; digest: string }> {
  const r = await rawRequest(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
  if (r.status !== 200) throw new Error(`GET ${repo}:${ref} → ${r.status}`);
  return { bytes: r.body, manifest: JSON.parse(r.body.toString()) as OciManifest, digest: String(r.headers['docker-content-digest']) };
}
async function blob(reg: TestRegistry, repo: string, digest: string): Promise<Buffer> {
  const r = await rawRequest(`${reg.url}/v2/${repo}/blobs/${digest}`);
  if (r.status !== 200) throw new Error(`GET blob ${digest} → ${r.status}`);
  return r.body;
}

const demo: ChartInput = {
  name: 'demo',
  version: '0.1.0',
  appVersion: '1.16.0',
  description: 'A demo chart <for> Airlock & friends',
  chartYamlExtra: [
    'home: https://example.com/demo',
    'sources:',
    '  - https://github.com/acme/demo',
    '  - https://github.com/acme/other',
    'keywords: [web, demo]',
    'maintainers:',
    '  - name: Ops Team',
    '    email: ops@example.com',
    'annotations:',
    '  category: Infrastructure',
    '  helm.sh/images: |',
    '    - name: sidecar',
    '      image: quay.io/acme/sidecar:2.0',
  ].join('\n'),
  valuesYaml: ['replicaCount: 1', 'image:', '  repository: nginx', '  tag: ""', 'metrics:', '  exporter:', '    image: docker.io/prom/exporter:v0.15.0', 'initImage: busybox:1.36', 'worker:', '  image:', '    registry: ghcr.io', '    repository: acme/worker', '    tag: 1.10', '    digest: ""', 'templated:', '  image: "{{ .Values.global.repo }}/x:1"', ''].join('\n'),
  templates: {
    'deployment.yaml': 'kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"\n',
    'job.yaml': 'kind: Job\nspec:\n  template:\n    spec:\n      containers:\n        - name: migrate\n          image: registry.example.com/acme/migrate:3.1 # pinned\n',
    '_helpers.tpl': '{{- define "demo.name" -}}image: not/this:1{{- end }}\n',
  },
};

describe('airlock chart (HTTP repository, OCI registry, ChartMuseum, directory)', () => {
  let reg: TestRegistry;
  let repo: TestServer;
  let authRepo: TestServer;
  let museum: MuseumServer;
  let repoDir: string;
  let demoTgz: Buffer;
  let demo2Tgz: Buffer;
  let plusTgz: Buffer;

  beforeAll(async () => {
    reg = await startRegistry();
    repoDir = tmp();
    demoTgz = await buildChart(demo);
    demo2Tgz = await buildChart({ ...demo, version: '0.2.0' });
    plusTgz = await buildChart({ name: 'plus', version: '1.0.0+build.7', description: 'versions with build metadata' });
    const wrong = await buildChart({ name: 'wrong', version: '1.0.0' });
    writeFileSync(path.join(repoDir, 'demo-0.1.0.tgz'), demoTgz);
    // The second version lives elsewhere under an absolute URL.
    writeFileSync(path.join(repoDir, 'demo-0.2.0.tgz'), demo2Tgz);
    writeFileSync(path.join(repoDir, 'plus-1.0.0+build.7.tgz'), plusTgz);
    writeFileSync(path.join(repoDir, 'wrong-1.0.0.tgz'), wrong);
    repo = await startStaticServer(repoDir);
    writeFileSync(
      path.join(repoDir, 'index.yaml'),
      helmIndexYaml([
        { c: { ...demo, version: '0.2.0' }, tgz: demo2Tgz, url: `${repo.url}/demo-0.2.0.tgz` },
        { c: demo, tgz: demoTgz },
        { c: { name: 'plus', version: '1.0.0+build.7' }, tgz: plusTgz, url: 'plus-1.0.0+build.7.tgz' },
        { c: { name: 'wrong', version: '1.0.0' }, tgz: wrong, digest: sha256hex(Buffer.from('something else')) },
      ]),
    );
    authRepo = await startStaticServer(repoDir, { auth: { user: 'reader', password: 's3cret' } });
    museum = await startMuseum({ auth: { user: 'uploader', password: 'pw' } });
  });
  afterAll(async () => {
    await Promise.all([reg?.stop(), repo?.close(), authRepo?.close(), museum?.close()]);
  });

  it('HTTP repository → OCI: stored exactly as helm push stores it', async () => {
    const r = await runCli(['chart', 'copy', repo.url, '--name', 'demo', '--version', '~0.1', `oci://${reg.host}/charts`, '--created', '2024-01-02T03:04:05Z', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { chart: { name: string; version: string; digest: string; destination: string; manifestDigest: string; status: string } };
    expect(out.chart).toMatchObject({ name: 'demo', version: '0.1.0', digest: `sha256:${sha256hex(demoTgz)}`, destination: `oci://${reg.host}/charts/demo:0.1.0`, status: 'copied' });
    const { manifest, digest, bytes } = await pull(reg, 'charts/demo', '0.1.0');
    expect(digest).toBe(out.chart.manifestDigest);
    expect(manifest.schemaVersion).toBe(2);
    // helm's manifest has no mediaType field; its Content-Type says OCI manifest.
    expect(manifest.mediaType).toBeUndefined();
    expect(bytes.toString().startsWith('{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:')).toBe(true);
    expect(manifest.config.mediaType).toBe('application/vnd.cncf.helm.config.v1+json');
    expect(manifest.layers).toEqual([{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: `sha256:${sha256hex(demoTgz)}`, size: demoTgz.length }]);
    expect(manifest.annotations).toEqual({
      category: 'Infrastructure',
      'helm.sh/images': '- name: sidecar\n  image: quay.io/acme/sidecar:2.0\n',
      'org.opencontainers.image.authors': 'Ops Team (ops@example.com)',
      'org.opencontainers.image.created': '2024-01-02T03:04:05Z',
      'org.opencontainers.image.description': 'A demo chart <for> Airlock & friends',
      'org.opencontainers.image.source': 'https://github.com/acme/demo',
      'org.opencontainers.image.title': 'demo',
      'org.opencontainers.image.url': 'https://example.com/demo',
      'org.opencontainers.image.version': '0.1.0',
    });
    // The config is chart.Metadata as Go marshals it: struct field order, HTML characters escaped.
    const config = await blob(reg, 'charts/demo', manifest.config.digest);
    expect(config.toString()).toBe(
      '{"name":"demo","home":"https://example.com/demo","sources":["https://github.com/acme/demo","https://github.com/acme/other"],"version":"0.1.0",' +
        '"description":"A demo chart \\u003cfor\\u003e Airlock \\u0026 friends","keywords":["web","demo"],"maintainers":[{"name":"Ops Team","email":"ops@example.com"}],' +
        '"apiVersion":"v2","appVersion":"1.16.0","annotations":{"category":"Infrastructure","helm.sh/images":"- name: sidecar\\n  image: quay.io/acme/sidecar:2.0\\n"},"type":"application"}',
    );
    expect((await blob(reg, 'charts/demo', manifest.layers[0]!.digest)).equals(demoTgz)).toBe(true);
    // skopeo reads it as an OCI artifact
    const raw = await skopeoInspect(`docker://${reg.host}/charts/demo:0.1.0`, { raw: true });
    expect(raw).toBe(bytes.toString());

    // Same chart and created time: the same digest (a re-run is a no-op).
    const again = await runCli(['chart', 'copy', repo.url, '--name', 'demo', '--version', '0.1.0', `oci://${reg.host}/charts`, '--created', '2024-01-02T03:04:05Z', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as typeof out).chart).toMatchObject({ manifestDigest: digest, status: 'skipped' });
    // Without --version: the latest stable version, fetched from its absolute URL.
    const latest = await runCli(['chart', 'copy', repo.url, '--name', 'demo', `oci://${reg.host}/charts`]);
    expect(latest.code, latest.stderr).toBe(0);
    expect((await pull(reg, 'charts/demo', '0.2.0')).manifest.layers[0]!.digest).toBe(`sha256:${sha256hex(demo2Tgz)}`);
  });

  it('a version with + is tagged with _; OCI → directory → served as a repository again', async () => {
    const r = await runCli(['chart', 'copy', `${repo.url}/`, '--name', 'plus', `oci://${reg.host}/charts`]);
    expect(r.code, r.stderr).toBe(0);
    const { manifest, digest } = await pull(reg, 'charts/plus', '1.0.0_build.7');
    expect(manifest.annotations?.['org.opencontainers.image.version']).toBe('1.0.0+build.7');
    // Pulled back from the registry into a directory any web server can serve.
    const dir = tmp();
    const c = await runCli(['chart', 'copy', `oci://${reg.host}/charts/plus:1.0.0_build.7`, dir]);
    expect(c.code, c.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'plus-1.0.0+build.7.tgz')).equals(plusTgz)).toBe(true);
    const c2 = await runCli(['chart', 'copy', `oci://${reg.host}/charts/demo`, '--version', '^0.1', dir]);
    expect(c2.code, c2.stderr).toBe(0);
    const index = parseYaml(readFileSync(path.join(dir, 'index.yaml'), 'utf8')) as { apiVersion: string; entries: Record<string, { version: string; digest: string; urls: string[]; name: string; appVersion?: string }[]> };
    expect(index.apiVersion).toBe('v1');
    expect(index.entries.plus!.map((e) => [e.version, e.digest, e.urls])).toEqual([['1.0.0+build.7', sha256hex(plusTgz), ['plus-1.0.0+build.7.tgz']]]);
    expect(index.entries.demo![0]).toMatchObject({ name: 'demo', version: '0.1.0', appVersion: '1.16.0', digest: sha256hex(demoTgz) });
    const served = await startStaticServer(dir);
    try {
      const back = await runCli(['chart', 'copy', served.url, '--name', 'plus', '--version', '1.0.0+build.7', `oci://${reg.host}/again`, '--json']);
      expect(back.code, back.stderr).toBe(0);
      expect((await pull(reg, 'again/plus', '1.0.0_build.7')).manifest.layers[0]!.digest).toBe(manifest.layers[0]!.digest);
    } finally {
      await served.close();
    }
    // Registry → registry keeps the manifest (and its digest).
    const o2o = await runCli(['chart', 'copy', `oci://${reg.host}/charts/plus:1.0.0_build.7`, `oci://${reg.host}/mirror/charts`]);
    expect(o2o.code, o2o.stderr).toBe(0);
    expect((await pull(reg, 'mirror/charts/plus', '1.0.0_build.7')).digest).toBe(digest);
  });

  it('a .tgz with its .prov: the provenance layer goes along; index.yaml keeps every version, newest first', async () => {
    const dir = tmp();
    const file = path.join(dir, 'demo-0.2.0.tgz');
    writeFileSync(file, demo2Tgz);
    const prov = Buffer.from('-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: demo\n...\nfiles:\n  demo-0.2.0.tgz: sha256:' + sha256hex(demo2Tgz) + '\n-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJ\n-----END PGP SIGNATURE-----\n');
    writeFileSync(`${file}.prov`, prov);
    const r = await runCli(['chart', 'copy', file, `oci://${reg.host}/signed`]);
    expect(r.code, r.stderr).toBe(0);
    const { manifest } = await pull(reg, 'signed/demo', '0.2.0');
    const provDigest = `sha256:${sha256hex(prov)}`;
    const tgzDigest = `sha256:${sha256hex(demo2Tgz)}`;
    // Sorted by digest, as helm push sorts them.
    expect(manifest.layers.map((l) => l.digest)).toEqual([provDigest, tgzDigest].sort());
    expect(manifest.layers.find((l) => l.digest === provDigest)!.mediaType).toBe('application/vnd.cncf.helm.chart.provenance.v1.prov');
    expect((await blob(reg, 'signed/demo', provDigest)).equals(prov)).toBe(true);

    const out = tmp();
    for (const src of [path.join(repoDir, 'demo-0.1.0.tgz'), file]) {
      const c = await runCli(['chart', 'copy', src, out]);
      expect(c.code, c.stderr).toBe(0);
    }
    expect(readdirSync(out).sort()).toEqual(['demo-0.1.0.tgz', 'demo-0.2.0.tgz', 'demo-0.2.0.tgz.prov', 'index.yaml']);
    const index = parseYaml(readFileSync(path.join(out, 'index.yaml'), 'utf8')) as { entries: { demo: { version: string }[] } };
    expect(index.entries.demo.map((e) => e.version)).toEqual(['0.2.0', '0.1.0']);
    // The same chart again changes nothing; other content under the same version is refused.
    const same = await runCli(['chart', 'copy', file, out]);
    expect(same.code, same.stderr).toBe(0);
    const other = path.join(tmp(), 'demo-0.2.0.tgz');
    writeFileSync(other, await buildChart({ ...demo, version: '0.2.0', description: 'changed' }));
    const clash = await runCli(['chart', 'copy', other, out]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/already lists demo 0.2.0 with digest/);
  });

  it('ChartMuseum: 201 saved, 409 for the same chart is success, different content is refused; Basic auth', async () => {
    const env = { AIRLOCK_REGISTRY: museum.host, AIRLOCK_REGISTRY_USER: 'uploader', AIRLOCK_REGISTRY_PASSWORD: 'pw' };
    const noAuth = await runCli(['chart', 'copy', path.join(repoDir, 'demo-0.1.0.tgz'), museum.url]);
    expect(noAuth.code).toBe(1);
    expect(noAuth.stderr).toMatch(/answered 401/);
    expectNoStack(noAuth);
    const up = await runCli(['chart', 'copy', path.join(repoDir, 'demo-0.1.0.tgz'), museum.url, '--json'], { env });
    expect(up.code, up.stderr).toBe(0);
    expect((JSON.parse(up.stdout) as { chart: { status: string } }).chart.status).toBe('copied');
    expect(museum.charts.get('demo/0.1.0')!.tgz.equals(demoTgz)).toBe(true);
    const again = await runCli(['chart', 'copy', repo.url, '--name', 'demo', '--version', '0.1.0', museum.url, '--json'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { chart: { status: string } }).chart.status).toBe('exists');
    const changed = path.join(tmp(), 'demo-0.1.0.tgz');
    writeFileSync(changed, await buildChart({ ...demo, description: 'changed' }));
    const clash = await runCli(['chart', 'copy', changed, museum.url], { env });
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/already holds demo 0.1.0 with different content/);
    // With a provenance file: multipart fields chart and prov.
    const dir = tmp();
    const file = path.join(dir, 'demo-0.2.0.tgz');
    writeFileSync(file, demo2Tgz);
    writeFileSync(`${file}.prov`, 'provenance');
    const mp = await runCli(['chart', 'copy', file, `${museum.url}/`], { env });
    expect(mp.code, mp.stderr).toBe(0);
    expect(museum.charts.get('demo/0.2.0')!.prov!.toString()).toBe('provenance');
    expect(museum.charts.get('demo/0.2.0')!.tgz.equals(demo2Tgz)).toBe(true);
  });

  it('a digest that does not match index.yaml is refused and nothing is written', async () => {
    const dir = tmp();
    const r = await runCli(['chart', 'copy', repo.url, '--name', 'wrong', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/content digest [0-9a-f]{64} does not match the index's [0-9a-f]{64}/);
    expectNoStack(r);
    expect(readdirSync(dir)).toEqual([]);
    const o = await runCli(['chart', 'copy', repo.url, '--name', 'wrong', `oci://${reg.host}/charts`]);
    expect(o.code).toBe(1);
    expect((await rawRequest(`${reg.url}/v2/charts/wrong/manifests/1.0.0`, { method: 'HEAD' })).status).toBe(404);
  });

  it('a repository behind Basic auth is read with credentials from the environment', async () => {
    const dir = tmp();
    const denied = await runCli(['chart', 'copy', authRepo.url, '--name', 'demo', '--version', '0.1.0', dir]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/index\.yaml answered 401/);
    const ok = await runCli(['chart', 'copy', authRepo.url, '--name', 'demo', '--version', '0.1.0', dir], {
      env: { AIRLOCK_REGISTRY: authRepo.host, AIRLOCK_REGISTRY_USER: 'reader', AIRLOCK_REGISTRY_PASSWORD: 's3cret' },
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'demo-0.1.0.tgz'))).toBe(true);
  });

  it('chart images: values (string, map, nested, subcharts), the annotation and literal template images, with where', async () => {
    const sub = await buildChart({ name: 'cache', version: '2.0.0', appVersion: '7.2.4', valuesYaml: 'image:\n  registry: docker.io\n  repository: bitnami/redis\n' });
    const file = path.join(tmp(), 'app-1.0.0.tgz');
    writeFileSync(file, await buildChart({ ...demo, name: 'app', version: '1.0.0', subcharts: { 'cache-2.0.0.tgz': sub } }));
    const r = await runCli(['chart', 'images', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { chart: { name: string }; images: { reference: string; foundIn: { file: string; at: string; kind: string; note?: string }[] }[]; unresolved: { value: string; reason: string }[] };
    const byRef = Object.fromEntries(res.images.map((i) => [i.reference, i.foundIn]));
    expect(Object.keys(byRef).sort()).toEqual([
      'docker.io/bitnami/redis:7.2.4',
      'docker.io/library/busybox:1.36',
      'docker.io/library/nginx:1.16.0',
      'docker.io/prom/exporter:v0.15.0',
      'ghcr.io/acme/worker:1.10',
      'quay.io/acme/sidecar:2.0',
      'registry.example.com/acme/migrate:3.1',
    ]);
    expect(byRef['docker.io/library/nginx:1.16.0']).toEqual([{ file: 'values.yaml', at: 'image', kind: 'values', note: 'tag from appVersion' }]);
    expect(byRef['docker.io/prom/exporter:v0.15.0']).toEqual([{ file: 'values.yaml', at: 'metrics.exporter.image', kind: 'values' }]);
    expect(byRef['ghcr.io/acme/worker:1.10']![0]!.at).toBe('worker.image');
    expect(byRef['docker.io/library/busybox:1.36']![0]!.at).toBe('initImage');
    expect(byRef['quay.io/acme/sidecar:2.0']).toEqual([{ file: 'Chart.yaml', at: 'annotations.helm.sh/images', kind: 'annotation' }]);
    expect(byRef['registry.example.com/acme/migrate:3.1']).toEqual([{ file: 'templates/job.yaml', at: 'line 7', kind: 'template' }]);
    expect(byRef['docker.io/bitnami/redis:7.2.4']).toEqual([{ file: 'charts/cache/values.yaml', at: 'image', kind: 'values', note: 'tag from appVersion' }]);
    expect(res.unresolved.map((u) => [u.value, u.reason])).toEqual([['{{ .Values.global.repo }}/x:1', 'needs rendering']]);

    // --values overrides are attributed to the values file; a subchart's section reaches it.
    const values = path.join(tmp(), 'prod.yaml');
    writeFileSync(values, 'image:\n  tag: 1.27.0\ncache:\n  image:\n    tag: 7.4.0\nglobal:\n  imageRegistry: registry.local\n');
    const o = await runCli(['chart', 'images', file, '--values', values, '--json']);
    expect(o.code, o.stderr).toBe(0);
    const res2 = JSON.parse(o.stdout) as typeof res;
    const refs2 = Object.fromEntries(res2.images.map((i) => [i.reference, i.foundIn]));
    expect(refs2['registry.local/nginx:1.27.0']).toEqual([{ file: values, at: 'image', kind: 'values' }]);
    expect(refs2['registry.local/bitnami/redis:7.4.0']).toEqual([{ file: 'charts/cache/values.yaml', at: 'image', kind: 'values' }].map((x) => ({ ...x, file: 'values from the parent chart' })));
    // Human output names the places too.
    const h = await runCli(['chart', 'images', file]);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toContain('app 1.0.0: 7 images');
    expect(h.stdout).toContain('registry.example.com/acme/migrate:3.1\n    templates/job.yaml: line 7\n');
  });

  it('bad input: one line, exit 2 for usage, 1 for what was not found; no stack trace', async () => {
    const noName = await runCli(['chart', 'copy', repo.url, tmp()]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toMatch(/name the chart with --name/);
    expectNoStack(noName);
    const scheme = await runCli(['chart', 'copy', 'ftp://x/y', tmp()]);
    expect(scheme.code).toBe(2);
    const missing = await runCli(['chart', 'copy', repo.url, '--name', 'nope', tmp()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/has no chart "nope"/);
    expect(missing.stderr).toMatch(/charts there: demo, plus, wrong/);
    const range = await runCli(['chart', 'copy', repo.url, '--name', 'demo', '--version', '^3', tmp()]);
    expect(range.code).toBe(1);
    expect(range.stderr).toMatch(/no version matching \^3/);
    expect(range.stderr).toMatch(/available: 0.2.0, 0.1.0/);
    const badRange = await runCli(['chart', 'copy', repo.url, '--name', 'demo', '--version', 'banana', tmp()]);
    expect(badRange.code).toBe(2);
    const notChart = path.join(tmp(), 'x.tgz');
    writeFileSync(notChart, 'not gzip');
    const nc = await runCli(['chart', 'images', notChart]);
    expect(nc.code).toBe(2);
    expect(nc.stderr).toMatch(/not a gzip file/);
    expectNoStack(nc);
  });
});

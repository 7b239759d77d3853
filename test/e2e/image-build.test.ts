import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, repoRoot, skopeo, type ImageLayout } from '../helpers/images.js';
import { rawRequest } from '../helpers/net.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

type Config = { config: { Env?: string[]; Entrypoint?: unknown; Labels?: Record<string, string> }; rootfs: { diff_ids: string[] }; history: Array<{ created_by?: string }> };
type ImageManifest = { mediaType: string; config: { digest: string }; layers: Array<{ mediaType: string; digest: string }>; annotations?: Record<string, string> };

async function manifest(reg: TestRegistry, repo: string, ref: string): Promise<{ json: Record<string, unknown>; digest: string }> {
  const r = await rawRequest(`${reg.url}/v2/${repo}/manifests/${ref}`, {
    headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json' },
  });
  expect(r.status, `${repo}:${ref}`).toBe(200);
  return { json: JSON.parse(r.body.toString()) as Record<string, unknown>, digest: String(r.headers['docker-content-digest']) };
}

async function blob(reg: TestRegistry, repo: string, digest: string): Promise<Buffer> {
  const r = await rawRequest(`${reg.url}/v2/${repo}/blobs/${digest}`);
  expect(r.status).toBe(200);
  return r.body;
}

describe('airlock image build: the runner image, built by Airlock itself', () => {
  let reg: TestRegistry;
  let base: ImageLayout;
  let dir: string;
  const env = { COSIGN_PASSWORD: 'runner image key', SOURCE_DATE_EPOCH: '1767225600', CI_COMMIT_SHA: '0123456789abcdef0123456789abcdef01234567' };
  const dist = path.join(repoRoot, 'dist');

  beforeAll(async () => {
    reg = await startRegistry();
    base = await makeImages({ images: 1, layers: 2, layerMb: 0.05, multiarch: true, seed: 33 });
    await pushLayoutToRegistry(base.layoutDir, 'img-0', reg, 'library/node', '20');
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-image-'));
    const gen = await runCli(['key', 'generate', '--output-key-prefix', path.join(dir, 'cosign')], { env });
    expect(gen.code, gen.stderr).toBe(0);
  });
  afterAll(async () => {
    await Promise.all([reg?.stop(), base?.remove()]);
  });

  it('extends every platform of the base with one layer, signed, with the SBOM attached; a rebuild gives the same digest', async () => {
    const report = path.join(dir, 'build.json');
    const r = await runCli(
      ['image', 'build', '--base', `${reg.host}/library/node:20`, '--to', `${reg.host}/tools/airlock:0.1.0`, '--bundle-dir', dist, '--sign-key', path.join(dir, 'cosign.key'), '--report', report],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(readFileSync(report, 'utf8')) as { digest: string; platforms: string[]; layer: { digest: string; diffId: string; files: string[] }; signed: number; sbom: { tag: string } };
    expect(out.platforms.sort()).toEqual(['linux/amd64', 'linux/arm64']);
    expect(out.signed).toBe(3);
    expect(out.layer.files).toEqual(expect.arrayContaining(['/opt/airlock/airlock.cjs', '/opt/airlock/airlock.spdx.json', '/usr/local/bin/airlock']));

    const baseIndex = await manifest(reg, 'library/node', '20');
    const built = await manifest(reg, 'tools/airlock', '0.1.0');
    expect(built.digest).toBe(out.digest);
    const baseEntries = (baseIndex.json.manifests as Array<{ digest: string; platform: { architecture: string } }>);
    const builtEntries = (built.json.manifests as Array<{ digest: string; platform: { architecture: string } }>);
    expect(builtEntries.map((d) => d.platform)).toEqual(baseEntries.map((d) => d.platform));
    for (const [i, entry] of builtEntries.entries()) {
      const b = (await manifest(reg, 'library/node', baseEntries[i]!.digest)).json as unknown as ImageManifest;
      const m = (await manifest(reg, 'tools/airlock', entry.digest)).json as unknown as ImageManifest;
      // Base layers untouched, one layer appended; the manifest names its base (OCI annotations).
      expect(m.layers.slice(0, -1)).toEqual(b.layers);
      expect(m.layers.at(-1)!.digest).toBe(out.layer.digest);
      expect(m.annotations?.['org.opencontainers.image.base.digest']).toBe(baseEntries[i]!.digest);
      const cfg = JSON.parse((await blob(reg, 'tools/airlock', m.config.digest)).toString()) as Config;
      const baseCfg = JSON.parse((await blob(reg, 'library/node', b.config.digest)).toString()) as Config;
      expect(cfg.rootfs.diff_ids).toEqual([...baseCfg.rootfs.diff_ids, out.layer.diffId]);
      expect(cfg.config.Env).toEqual(expect.arrayContaining(['AIRLOCK_HOME=/opt/airlock', 'AIRLOCK_VERSION=0.1.0']));
      expect(cfg.config.Env!.find((e) => e.startsWith('PATH='))).toMatch(/(^PATH=|:)\/usr\/local\/bin(:|$)/);
      expect(cfg.config.Entrypoint).toBeUndefined();
      expect(cfg.config.Labels).toMatchObject({ 'org.opencontainers.image.version': '0.1.0', 'org.opencontainers.image.revision': env.CI_COMMIT_SHA });
      expect(cfg.history.at(-1)!.created_by).toMatch(/airlock image build/);
    }

    // skopeo reads it; the layer holds the bundles, and the bundle in it runs with plain node.
    const layout = path.join(dir, 'layout');
    await skopeo(['copy', '--src-tls-verify=false', '--override-arch', 'arm64', `docker://${reg.host}/tools/airlock:0.1.0`, `oci:${layout}:runner`]);
    const root = path.join(dir, 'rootfs');
    mkdirSync(root);
    execFileSync('tar', ['-xzf', path.join(layout, 'blobs', 'sha256', out.layer.digest.slice(7)), '-C', root]);
    expect(readFileSync(path.join(root, 'usr/local/bin/airlock'), 'utf8')).toBe('#!/bin/sh\nexec node /opt/airlock/airlock.cjs "$@"\n');
    expect(execFileSync('node', [path.join(root, 'opt/airlock/airlock.cjs'), '--version'], { encoding: 'utf8' }).trim()).toBe('0.1.0');
    const listing = execFileSync('tar', ['-tvzf', path.join(layout, 'blobs', 'sha256', out.layer.digest.slice(7))], { encoding: 'utf8' });
    expect(listing).not.toMatch(/[1-9]\d*\/\d+ |\d+\/[1-9]\d* /); // uid/gid 0 throughout

    // The SBOM names the npm packages the bundles carry.
    const sbomTag = await manifest(reg, 'tools/airlock', out.sbom.tag);
    const sbomLayer = (sbomTag.json as unknown as ImageManifest).layers[0]!;
    expect(sbomLayer.mediaType).toBe('text/spdx+json');
    const sbom = JSON.parse((await blob(reg, 'tools/airlock', sbomLayer.digest)).toString()) as { spdxVersion: string; packages: Array<{ name: string; versionInfo: string }> };
    expect(sbom.spdxVersion).toBe('SPDX-2.3');
    const undici = JSON.parse(readFileSync(path.join(repoRoot, 'node_modules/undici/package.json'), 'utf8')) as { version: string };
    expect(sbom.packages).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'undici', versionInfo: undici.version })]));

    // Signed: airlock verify accepts the index and each platform manifest.
    const v = await runCli(['verify', '--key', path.join(dir, 'cosign.pub'), `${reg.host}/tools/airlock:0.1.0`], { env });
    expect(v.code, v.stderr).toBe(0);

    // Deterministic: the same base and bundles give the same digest.
    const again = await runCli(['image', 'build', '--base', `${reg.host}/library/node:20`, '--to', `${reg.host}/tools/airlock:again`, '--bundle-dir', dist, '--sbom', 'none', '--json'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { digest: string }).digest).toBe(out.digest);
  });

  it('writes to an OCI layout too, with a CycloneDX SBOM', async () => {
    const layout = path.join(dir, 'media');
    const r = await runCli(['image', 'build', '--base', `${reg.host}/library/node:20`, '--to', `oci:${layout}:airlock-0.1.0`, '--bundle-dir', dist, '--sbom', 'cyclonedx', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { digest: string; sbom: { tag: string; mediaType: string } };
    expect(out.sbom.mediaType).toBe('application/vnd.cyclonedx+json');
    const raw = await skopeo(['inspect', '--raw', `oci:${layout}:airlock-0.1.0`]);
    expect(JSON.parse(raw)).toMatchObject({ manifests: expect.any(Array) });
    const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ annotations?: Record<string, string> }> };
    expect(index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'])).toEqual(expect.arrayContaining(['airlock-0.1.0', out.sbom.tag]));
  });

  it('refuses bad input with one line and exit 2, pushing nothing', async () => {
    const cases: Array<{ args: string[]; err: RegExp }> = [
      { args: ['--base', `${reg.host}/library/node:20`, '--to', `${reg.host}/tools/notag@sha256:${'a'.repeat(64)}`, '--bundle-dir', dist], err: /--to .*give a tag/ },
      { args: ['--base', `${reg.host}/library/node:20`, '--to', `${reg.host}/tools/x:1`, '--bundle-dir', dir], err: /has no airlock\.cjs/ },
      { args: ['--base', `${reg.host}/library/node:20`, '--to', `${reg.host}/tools/x:1`, '--bundle-dir', path.join(dir, 'missing')], err: /cannot read the directory/ },
      { args: ['--base', `${reg.host}/library/node:20`, '--to', `${reg.host}/tools/x:1`, '--bundle-dir', dist, '--sbom', 'xml'], err: /--sbom must be/ },
      { args: ['--base', `${reg.host}/library/node:20`, '--to', `${reg.host}/tools/x:1`, '--bundle-dir', dist, '--created', 'yesterday'], err: /--created "yesterday" is not an RFC 3339 time/ },
    ];
    for (const c of cases) {
      const r = await runCli(['image', 'build', ...c.args], { env });
      expect(r.code, `${c.args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(c.err);
      expectNoStack(r);
    }
    expect((await rawRequest(`${reg.url}/v2/tools/x/tags/list`)).status).toBe(404);
    // A bundle directory without the SBOM: say so (or --sbom none).
    const partial = path.join(dir, 'partial');
    mkdirSync(partial);
    copyFileSync(path.join(dist, 'airlock.cjs'), path.join(partial, 'airlock.cjs'));
    const r = await runCli(['image', 'build', '--base', `${reg.host}/library/node:20`, '--to', `${reg.host}/tools/x:1`, '--bundle-dir', partial], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SBOM is missing/);
    expect(existsSync(partial)).toBe(true);
  });
});

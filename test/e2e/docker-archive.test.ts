import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyReportSchema } from '@airlock/oci';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, skopeo, skopeoCopy, skopeoInspect, type ImageLayout } from '../helpers/images.js';
import { rawRequest } from '../helpers/net.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { type TarSpec, writeTar } from '../helpers/tar.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'airlock-darchive-'));

interface RawManifest {
  config: { digest: string; size: number; mediaType: string };
  layers: { digest: string; size: number; mediaType: string }[];
  manifests?: { digest: string; platform: { architecture: string } }[];
}
interface Inspect {
  Layers: string[];
  Architecture: string;
  Digest: string;
}

const rawOf = async (ref: string) => JSON.parse(await skopeoInspect(ref, { raw: true })) as RawManifest;
const configOf = async (ref: string) => JSON.parse(await skopeo(['inspect', '--config', '--raw', ...(ref.startsWith('docker://') ? ['--tls-verify=false'] : []), ref])) as { rootfs: { diff_ids: string[] }; architecture: string };
const headTag = async (reg: TestRegistry, repo: string, tag: string) =>
  (await rawRequest(`${reg.url}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } })).status;

/** An OCI layout blob by digest. */
const blobOf = (layout: string, digest: string) => readFileSync(path.join(layout, 'blobs', 'sha256', digest.slice(7)));

describe('docker-archive: docker save / docker load interoperability (real registry, skopeo)', () => {
  let reg: TestRegistry;
  let images: ImageLayout;
  /** The amd64 manifest of img-0 in the fixture layout (gzip layers). */
  let amd64: RawManifest;

  beforeAll(async () => {
    reg = await startRegistry();
    images = await makeImages({ images: 2, layers: 2, layerMb: 0.05, sharedBaseMb: 0.1, multiarch: true, seed: 11 });
    await pushLayoutToRegistry(images.layoutDir, 'img-0', reg, 'src/app', 'v1');
    await pushLayoutToRegistry(images.layoutDir, 'img-1', reg, 'src/tool', 'v2');
    const index = JSON.parse(blobOf(images.layoutDir, (JSON.parse(readFileSync(path.join(images.layoutDir, 'index.json'), 'utf8')) as RawManifest).manifests![0]!.digest).toString()) as RawManifest;
    amd64 = JSON.parse(blobOf(images.layoutDir, index.manifests!.find((m) => m.platform.architecture === 'amd64')!.digest).toString()) as RawManifest;
  });
  afterAll(async () => {
    await Promise.all([reg?.stop(), images?.remove()]);
  });

  it('reads an archive skopeo wrote (docker save form): config and layer digests as skopeo sees them', async () => {
    const dir = tmp();
    const file = path.join(dir, 'skopeo.tar');
    await skopeoCopy(`docker://${reg.host}/src/app:v1`, `docker-archive:${file}:example.com/team/app:v1`, ['--override-arch', 'arm64']);
    const r = await runCli(['copy', '--json', `docker-archive:${file}`, `${reg.host}/from-archive/app:v1`]);
    expect(r.code, r.stderr).toBe(0);
    const rep = copyReportSchema.parse(JSON.parse(r.stdout));
    // docker save archives carry no manifest: the digest was computed, and the report says so.
    expect(rep.images[0]!.sourceDigestComputed).toBe(true);
    const theirs = (await skopeoInspect(`docker-archive:${file}`)) as Inspect;
    const ours = (await skopeoInspect(`docker://${reg.host}/from-archive/app:v1`)) as Inspect;
    expect(ours.Layers).toEqual(theirs.Layers);
    expect(ours.Architecture).toBe('arm64');
    const archiveManifest = JSON.parse(await skopeoInspect(`docker-archive:${file}`, { raw: true })) as RawManifest;
    const pushed = await rawOf(`docker://${reg.host}/from-archive/app:v1`);
    expect(pushed.config.digest).toBe(archiveManifest.config.digest);
    expect(pushed.layers.map((l) => l.digest)).toEqual(archiveManifest.layers.map((l) => l.digest));
    // Layers stay uncompressed, with the type that says so.
    expect(new Set(pushed.layers.map((l) => l.mediaType))).toEqual(new Set(['application/vnd.docker.image.rootfs.diff.tar']));
    expect(rep.images[0]!.destinationDigest).toBe(rep.images[0]!.sourceDigest);
    // The same by name, and by index.
    const byName = await runCli(['copy', `docker-archive:${file}:example.com/team/app:v1`, `${reg.host}/from-archive/byname:v1`]);
    expect(byName.code, byName.stderr).toBe(0);
    const byIndex = await runCli(['copy', `docker-archive:${file}:@0`, `${reg.host}/from-archive/byindex:v1`]);
    expect(byIndex.code, byIndex.stderr).toBe(0);
  });

  it('writes archives skopeo reads back with the same config and layer digests; one platform per image', async () => {
    const dir = tmp();
    const file = path.join(dir, 'out.tar');
    const multi = await runCli(['copy', `${reg.host}/src/app:v1`, `docker-archive:${file}:example.com/app:v1`]);
    expect(multi.code).toBe(1);
    expect(multi.stderr).toMatch(/holds one platform per image/);
    expect(multi.stderr).toMatch(/--platform \(available: linux\/amd64, linux\/arm64\)/);
    expect(existsSync(file)).toBe(false);
    expectNoStack(multi);

    const r = await runCli(['copy', '--platform', 'linux/amd64', `${reg.host}/src/app:v1`, `docker-archive:${file}:example.com/app:v1`]);
    expect(r.code, r.stderr).toBe(0);
    // Nothing temporary left beside it.
    expect(readdirSync(dir)).toEqual(['out.tar']);
    const src = await configOf(`docker://${reg.host}/src/app:v1`);
    const srcRaw = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', '--override-arch', 'amd64', `docker://${reg.host}/src/app:v1`])) as RawManifest;
    const index = srcRaw.manifests ? srcRaw : undefined;
    const amdDigest = index?.manifests?.find((m) => m.platform.architecture === 'amd64')?.digest;
    const amd = await rawOf(`docker://${reg.host}/src/app@${amdDigest}`);
    const inspected = (await skopeoInspect(`docker-archive:${file}:example.com/app:v1`)) as Inspect;
    const back = JSON.parse(await skopeoInspect(`docker-archive:${file}:example.com/app:v1`, { raw: true })) as RawManifest;
    expect(back.config.digest).toBe(amd.config.digest);
    expect(inspected.Architecture).toBe('amd64');
    // skopeo serves docker-archive layers uncompressed: their digests are the source's diff_ids.
    const amdConfig = JSON.parse(await skopeo(['inspect', '--config', '--raw', '--tls-verify=false', '--override-arch', 'amd64', `docker://${reg.host}/src/app:v1`])) as { rootfs: { diff_ids: string[] } };
    expect(inspected.Layers).toEqual(amdConfig.rootfs.diff_ids);
    expect(src.rootfs.diff_ids.length).toBe(inspected.Layers.length);
    // and skopeo copies it into an OCI layout
    const oci = path.join(dir, 'oci');
    await skopeoCopy(`docker-archive:${file}:example.com/app:v1`, `oci:${oci}:back`);
    const ociCfg = await configOf(`oci:${oci}:back`);
    expect(ociCfg.rootfs.diff_ids).toEqual(amdConfig.rootfs.diff_ids);
    // The archive keeps the exact manifest too: read back by Airlock, the digest is the source's.
    const again = await runCli(['copy', '--json', `docker-archive:${file}`, `${reg.host}/roundtrip/app:v1`]);
    expect(again.code, again.stderr).toBe(0);
    const rep = copyReportSchema.parse(JSON.parse(again.stdout));
    expect(rep.images[0]!.sourceDigest).toBe(amdDigest);
    expect(rep.images[0]!.sourceDigestComputed).toBeUndefined();
    expect(rep.images[0]!.destinationDigest).toBe(amdDigest);
  });

  it('a mirror into one archive: several images, each layer once, deterministic; read by name and @N', async () => {
    const dir = tmp();
    const list = path.join(dir, 'list.txt');
    writeFileSync(list, `${reg.host}/src/app:v1\n${reg.host}/src/tool:v2\n`);
    const file = path.join(dir, 'all.tar');
    const r = await runCli(['mirror', '-f', list, '--to', `docker-archive:${file}`, '--platform', 'linux/arm64']);
    expect(r.code, r.stderr).toBe(0);
    const mj = JSON.parse(readTarEntry(file, 'manifest.json')) as { RepoTags: string[]; Layers: string[] }[];
    expect(mj.map((m) => m.RepoTags)).toEqual([[`${reg.host}/src/app:v1`], [`${reg.host}/src/tool:v2`]]);
    // The shared base layer is stored once.
    const names = tarNames(file);
    expect(names.length).toBe(new Set(names).size);
    expect(names[names.length - 1]).toBe('manifest.json');
    for (const [name, repo] of [[`${reg.host}/src/app:v1`, 'src/app:v1'], [`${reg.host}/src/tool:v2`, 'src/tool:v2']] as const) {
      const inspected = (await skopeoInspect(`docker-archive:${file}:${name}`)) as Inspect;
      const cfg = JSON.parse(await skopeo(['inspect', '--config', '--raw', '--tls-verify=false', '--override-arch', 'arm64', `docker://${reg.host}/${repo}`])) as { rootfs: { diff_ids: string[] } };
      expect(inspected.Layers).toEqual(cfg.rootfs.diff_ids);
      expect(inspected.Architecture).toBe('arm64');
    }
    // Same inputs, same bytes.
    const file2 = path.join(dir, 'all2.tar');
    const r2 = await runCli(['mirror', '-f', list, '--to', `docker-archive:${file2}`, '--platform', 'linux/arm64', '--concurrency', '1']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(readFileSync(file2).equals(readFileSync(file))).toBe(true);
    // Airlock reads each image back by name or index; a missing one lists what is there.
    const byIndex = await runCli(['copy', `docker-archive:${file}:@1`, `${reg.host}/again/tool:v2`]);
    expect(byIndex.code, byIndex.stderr).toBe(0);
    expect((await rawOf(`docker://${reg.host}/again/tool:v2`)).config.digest).toBe(JSON.parse(await skopeoInspect(`docker-archive:${file}:${reg.host}/src/tool:v2`, { raw: true })).config.digest);
    const none = await runCli(['copy', `docker-archive:${file}`, `${reg.host}/again/x:1`]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`holds 2 images; name one`);
    expect(none.stderr).toContain(`@0 ${reg.host}/src/app:v1, @1 ${reg.host}/src/tool:v2`);
    const missing = await runCli(['copy', `docker-archive:${file}:example.com/nope:1`, `${reg.host}/again/x:1`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/has no image example.com\/nope:1 \(images: @0 /);
    expect(await headTag(reg, 'again/x', '1')).toBe(404);
    // A mirror list reads from the archive too; --to maps the names recorded in it.
    const back = path.join(dir, 'back.txt');
    writeFileSync(back, `docker-archive:${file}:${reg.host}/src/app:v1\ndocker-archive:${file}:${reg.host}/src/tool:v2\n`);
    const m = await runCli(['mirror', '-f', back, '--to', `${reg.host}/restored`]);
    expect(m.code, m.stderr).toBe(0);
    expect((await rawOf(`docker://${reg.host}/restored/src/tool:v2`)).config.digest).toBe(JSON.parse(await skopeoInspect(`docker-archive:${file}:${reg.host}/src/tool:v2`, { raw: true })).config.digest);
  });

  it('an index with one real platform (plus an attestation manifest) needs no --platform', async () => {
    const dir = tmp();
    const layout = path.join(dir, 'layout');
    cpSync(images.layoutDir, layout, { recursive: true });
    const top = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    const idx = JSON.parse(blobOf(layout, top.manifests[0]!.digest).toString()) as { manifests: { digest: string; platform: { os: string; architecture: string } }[] };
    const amd = idx.manifests.find((m) => m.platform.architecture === 'amd64')!;
    const arm = idx.manifests.find((m) => m.platform.architecture === 'arm64')!;
    const single = { ...idx, manifests: [amd, { ...arm, platform: { os: 'unknown', architecture: 'unknown' } }] };
    const bytes = Buffer.from(JSON.stringify(single));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    writeFileSync(path.join(layout, 'blobs', 'sha256', digest.slice(7)), bytes);
    top.manifests.push({ ...top.manifests[0]!, digest, size: bytes.length, annotations: { 'org.opencontainers.image.ref.name': 'single' } } as (typeof top.manifests)[number]);
    writeFileSync(path.join(layout, 'index.json'), JSON.stringify(top));
    const file = path.join(dir, 'single.tar');
    const r = await runCli(['copy', '--json', `oci:${layout}:single`, `docker-archive:${file}:x/single:1`]);
    expect(r.code, r.stderr).toBe(0);
    const rep = copyReportSchema.parse(JSON.parse(r.stdout));
    expect(rep.images[0]!.platforms).toEqual(['linux/amd64']);
    expect(rep.images[0]!.destinationDigest).toBe(amd.digest);
    expect(((await skopeoInspect(`docker-archive:${file}`)) as Inspect).Architecture).toBe('amd64');
  });

  it('reads gzip layers and legacy layer.tar links; a layer that does not match its diff_id is refused', async () => {
    const dir = tmp();
    const layout = images.layoutDir;
    const config = blobOf(layout, amd64.config.digest);
    const legacy: TarSpec[] = [{ name: 'cfg.json', data: config }];
    amd64.layers.forEach((l, i) => {
      legacy.push({ name: `blob${i}.tar.gz`, data: blobOf(layout, l.digest) });
      legacy.push({ name: `id${i}/layer.tar`, type: 'symlink', linkname: `../blob${i}.tar.gz` });
    });
    const manifestJson = (layers: string[]) => JSON.stringify([{ Config: 'cfg.json', RepoTags: ['gz/app:1'], Layers: layers }]);
    const file = path.join(dir, 'gz.tar');
    await writeTar(file, [...legacy, { name: 'manifest.json', data: manifestJson(amd64.layers.map((_, i) => `id${i}/layer.tar`)) }]);
    const r = await runCli(['copy', `docker-archive:${file}:gz/app:1`, `${reg.host}/gz/app:1`]);
    expect(r.code, r.stderr).toBe(0);
    const pushed = await rawOf(`docker://${reg.host}/gz/app:1`);
    // gzip layers keep their compressed digests: exactly the original image's blobs.
    expect(pushed.layers.map((l) => l.digest)).toEqual(amd64.layers.map((l) => l.digest));
    expect(pushed.config.digest).toBe(amd64.config.digest);
    expect(new Set(pushed.layers.map((l) => l.mediaType))).toEqual(new Set(['application/vnd.docker.image.rootfs.diff.tar.gzip']));

    // Swap two layers: each still gunzips, but not to the diff_id its config names.
    const swapped = path.join(dir, 'swapped.tar');
    await writeTar(swapped, [...legacy, { name: 'manifest.json', data: manifestJson(amd64.layers.map((_, i) => `id${amd64.layers.length - 1 - i}/layer.tar`)) }]);
    const bad = await runCli(['copy', `docker-archive:${swapped}`, `${reg.host}/gz/bad:1`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/uncompresses to sha256:\w+, not the sha256:\w+ its config names/);
    expect(await headTag(reg, 'gz/bad', '1')).toBe(404);
    expectNoStack(bad);
  });

  it('an uncompressed layer that differs from its diff_id is caught while it streams; nothing is tagged', async () => {
    const dir = tmp();
    const good = path.join(dir, 'good.tar');
    await skopeoCopy(`docker://${reg.host}/src/tool:v2`, `docker-archive:${good}:t/tool:2`, ['--override-arch', 'amd64']);
    const bytes = readFileSync(good);
    const mj = JSON.parse(readTarEntry(good, 'manifest.json')) as { Layers: string[] }[];
    const layerName = mj[0]!.Layers[mj[0]!.Layers.length - 1]!;
    const at = tarEntryOffset(good, layerName);
    bytes[at + 1024 + 10] = bytes[at + 1024 + 10]! ^ 0xff; // inside the payload of the layer's tar
    const bad = path.join(dir, 'bad.tar');
    writeFileSync(bad, bytes);
    const r = await runCli(['copy', `docker-archive:${bad}`, `${reg.host}/flip/tool:2`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not match/);
    expect(await headTag(reg, 'flip/tool', '2')).toBe(404);
  });

  it('hostile archives are refused before anything is read from them', async () => {
    const dir = tmp();
    const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:' + '0'.repeat(64)] } });
    const mj = (layer: string) => JSON.stringify([{ Config: 'c.json', RepoTags: ['h/x:1'], Layers: [layer] }]);
    const cases: [string, TarSpec[], RegExp][] = [
      ['dotdot', [{ name: '../evil', data: 'x' }, { name: 'c.json', data: cfg }, { name: 'manifest.json', data: mj('l.tar') }], /unsafe entry name "..\/evil"/],
      ['absolute', [{ name: '/etc/evil', data: 'x' }, { name: 'manifest.json', data: mj('l.tar') }], /unsafe entry name "\/etc\/evil"/],
      ['symlink-out', [{ name: 'c.json', data: cfg }, { name: 'l.tar', type: 'symlink', linkname: '../../../etc/passwd' }, { name: 'manifest.json', data: mj('l.tar') }], /links to "..\/..\/..\/etc\/passwd", outside the archive/],
      ['manifest-path', [{ name: 'c.json', data: cfg }, { name: 'manifest.json', data: mj('../../etc/passwd') }], /manifest.json names an unsafe path/],
      ['duplicate', [{ name: 'c.json', data: cfg }, { name: 'c.json', data: cfg }, { name: 'manifest.json', data: mj('l.tar') }], /duplicate entry "c.json"/],
      ['no-manifest', [{ name: 'c.json', data: cfg }], /no manifest.json/],
    ];
    for (const [name, entries, why] of cases) {
      const file = path.join(dir, `${name}.tar`);
      await writeTar(file, entries);
      const r = await runCli(['copy', `docker-archive:${file}`, `${reg.host}/hostile/${name}:1`]);
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(why);
      expectNoStack(r);
      expect(await headTag(reg, `hostile/${name}`, '1'), name).toBe(404);
    }
    // A truncated archive.
    const whole = path.join(dir, 'whole.tar');
    await writeTar(whole, [{ name: 'c.json', data: cfg }, { name: 'l.tar', data: Buffer.alloc(4096, 1) }, { name: 'manifest.json', data: mj('l.tar') }]);
    const cut = path.join(dir, 'cut.tar');
    writeFileSync(cut, readFileSync(whole).subarray(0, 2048));
    const t = await runCli(['copy', `docker-archive:${cut}`, `${reg.host}/hostile/cut:1`]);
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/truncated/);
    // Not a tar at all.
    const junk = path.join(dir, 'junk.tar');
    writeFileSync(junk, Buffer.alloc(4096, 7));
    const j = await runCli(['copy', `docker-archive:${junk}`, `${reg.host}/hostile/junk:1`]);
    expect(j.code).toBe(1);
    expect(j.stderr).toMatch(/not a tar archive/);
  });

  it('bad docker-archive references are usage errors (exit 2)', async () => {
    for (const bad of ['docker-archive:', 'docker-archive:x.tar:@x', 'docker-archive:x.tar:Bad Name', `docker-archive:x.tar:a/b@sha256:${'a'.repeat(64)}`]) {
      const r = await runCli(['copy', bad, `${reg.host}/x/y:1`]);
      expect(r.code, bad).toBe(2);
      expectNoStack(r);
    }
  });
});

/** Entry names of a tar, in order (enough of a reader for these checks: ustar names only). */
function tarNames(file: string): string[] {
  const b = readFileSync(file);
  const out: string[] = [];
  for (let pos = 0; pos + 512 <= b.length; ) {
    const h = b.subarray(pos, pos + 512);
    if (h.every((x) => x === 0)) break;
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    out.push(name);
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

function tarEntryOffset(file: string, wanted: string): number {
  const b = readFileSync(file);
  for (let pos = 0; pos + 512 <= b.length; ) {
    const h = b.subarray(pos, pos + 512);
    if (h.every((x) => x === 0)) break;
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    if (name === wanted) return pos;
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${wanted} not in ${file}`);
}

function readTarEntry(file: string, wanted: string): string {
  const b = readFileSync(file);
  const pos = tarEntryOffset(file, wanted);
  const size = parseInt(b.subarray(pos + 124, pos + 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
  return b.subarray(pos + 512, pos + 512 + size).toString('utf8');
}

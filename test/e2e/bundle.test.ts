/**
 * Offline bundles with real parts: images signed with `airlock sign` in a loopback docker-registry,
 * bundled (signed inventory), verified, read by skopeo as oci-archive:, loaded into a second
 * registry with every digest identical and the signatures verifying there; split bundles, flipped
 * bytes, determinism, incremental bundles, --require-signature, dry runs and diffs.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyReportSchema } from '@airlock/oci';
import { inventorySchema } from '@airlock/oci/archive';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, skopeoInspect, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('airlock bundle: registry → bundle → verify → load → verify signatures', () => {
  let upstream: TestRegistry;
  let airgapped: TestRegistry;
  let images: ImageLayout;
  let dir: string;
  let key: string;
  const env = { COSIGN_PASSWORD: 'bundle-test', SOURCE_DATE_EPOCH: '1767225600' };
  const up = (t: string) => `${upstream.host}/acme/${t}:1.0`;

  beforeAll(async () => {
    [upstream, airgapped] = await Promise.all([startRegistry(), startRegistry()]);
    images = await makeImages({ images: 3, layers: 2, layerMb: 0.05, sharedBaseMb: 0.2, multiarch: true, seed: 77 });
    await Promise.all(images.tags.map((t) => pushLayoutToRegistry(images.layoutDir, t, upstream, `acme/${t}`, '1.0')));
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-bundle-'));
    key = path.join(dir, 'release');
    expect((await runCli(['key', 'generate', '--output-key-prefix', key], { env })).code).toBe(0);
    for (const t of ['img-0', 'img-1']) {
      const s = await runCli(['sign', '--key', `${key}.key`, up(t)], { env });
      expect(s.code, s.stderr).toBe(0);
    }
    const pred = path.join(dir, 'prov.json');
    writeFileSync(pred, JSON.stringify({ buildDefinition: { buildType: 'https://acme.example/ci' } }));
    expect((await runCli(['attest', '--format', 'bundle', '--key', `${key}.key`, '--type', 'slsaprovenance1', '--predicate', pred, up('img-0')], { env })).code).toBe(0);
    const sbom = path.join(dir, 'sbom.json');
    writeFileSync(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'img-1' }));
    expect((await runCli(['attach', 'sbom', '--sbom', sbom, '--type', 'spdxjson', up('img-1')], { env })).code).toBe(0);
    writeFileSync(path.join(dir, 'install.txt'), 'install me\n');
    writeFileSync(path.join(dir, 'airlock.yaml'), ['images:', `  - ${up('img-0')}`, `  - ${up('img-1')}`, 'files:', '  - install.txt', ''].join('\n'));
  }, 180_000);
  afterAll(async () => {
    await Promise.all([upstream?.stop(), airgapped?.stop(), images?.remove()]);
  });

  it('round trip: every digest identical, signatures, attestation and SBOM verify on the other side', async () => {
    const b = path.join(dir, 'rt.tar');
    const c = await runCli(['bundle', 'create', '-f', path.join(dir, 'airlock.yaml'), '-o', b, '--sign-key', `${key}.key`, '--json', '--dotenv', path.join(dir, 'create.env')], { env });
    expect(c.code, c.stderr).toBe(0);
    const created = JSON.parse(c.stdout) as { size: number; signed: boolean; sha256: string; inventoryDigest: string };
    expect(readFileSync(path.join(dir, 'create.env'), 'utf8')).toContain(`AIRLOCK_INVENTORY_DIGEST=${created.inventoryDigest}`);
    expect(created.signed).toBe(true);
    expect(statSync(b).size).toBe(created.size);
    expect(existsSync(`${b}.sigstore.json`)).toBe(true);
    // no temp files left behind
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);

    // skopeo reads the bundle as an OCI archive, byte-identical manifests
    for (const t of ['img-0', 'img-1']) {
      expect(await skopeoInspect(`oci-archive:${b}:${up(t)}`, { raw: true })).toBe(await skopeoInspect(`docker://${up(t)}`, { raw: true }));
    }
    // the inventory signature verifies with the standalone verify-blob too
    const v = await runCli(['bundle', 'verify', b, '--key', `${key}.pub`]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toMatch(/signature verified/);

    const list = await runCli(['bundle', 'list', b, '--json']);
    expect(list.code, list.stderr).toBe(0);
    const inv = inventorySchema.parse((JSON.parse(list.stdout) as { inventory: unknown }).inventory);
    const img0 = inv.entries.find((e) => e.kind === 'image' && e.name === up('img-0'));
    const img1 = inv.entries.find((e) => e.kind === 'image' && e.name === up('img-1'));
    expect(img0?.kind === 'image' && img0.attachments.map((a) => a.kind).sort()).toEqual(['referrer', 'signature']);
    expect(img1?.kind === 'image' && img1.attachments.map((a) => a.kind).sort()).toEqual(['sbom', 'signature']);
    expect(inv.entries.some((e) => e.kind === 'file' && e.name === 'install.txt')).toBe(true);

    const report = path.join(dir, 'load.json');
    const junit = path.join(dir, 'load.xml');
    const dotenv = path.join(dir, 'load.env');
    const l = await runCli(['bundle', 'load', b, '--to', `${airgapped.host}/mirror`, '--key', `${key}.pub`, '--report', report, '--junit', junit, '--dotenv', dotenv]);
    expect(l.code, l.stderr).toBe(0);
    expect(readFileSync(dotenv, 'utf8')).toMatch(/^AIRLOCK_IMAGES=2$/m);
    expect(readFileSync(dotenv, 'utf8')).toMatch(/^AIRLOCK_DIGEST_MIRROR_ACME_IMG_0_1_0=sha256:[a-f0-9]{64}$/m);
    const loaded = copyReportSchema.parse(JSON.parse(readFileSync(report, 'utf8')));
    expect(loaded.images.map((i) => i.status)).toEqual(['copied', 'copied']);
    expect(readFileSync(junit, 'utf8')).toMatch(/tests="2" failures="0"/);
    for (const t of ['img-0', 'img-1']) {
      expect(await skopeoInspect(`docker://${airgapped.host}/mirror/acme/${t}:1.0`, { raw: true })).toBe(await skopeoInspect(`docker://${up(t)}`, { raw: true }));
    }
    const rewrite = `${upstream.host}/acme=${airgapped.host}/mirror/acme`;
    for (const t of ['img-0', 'img-1']) {
      const ok = await runCli(['verify', '--key', `${key}.pub`, '--identity-rewrite', rewrite, `${airgapped.host}/mirror/acme/${t}:1.0`]);
      expect(ok.code, ok.stderr).toBe(0);
    }
    const att = await runCli(['verify-attestation', '--key', `${key}.pub`, '--type', 'slsaprovenance1', `${airgapped.host}/mirror/acme/img-0:1.0`]);
    expect(att.code, att.stderr).toBe(0);
    const digest1 = JSON.parse(await skopeoInspect(`docker://${up('img-1')}`, { raw: true })) as unknown;
    expect(digest1).toBeTruthy();
    const img1Digest = img1?.digest ?? '';
    const sbomTag = `sha256-${img1Digest.slice(7)}.sbom`;
    expect(await skopeoInspect(`docker://${airgapped.host}/mirror/acme/img-1:${sbomTag}`, { raw: true })).toBe(await skopeoInspect(`docker://${upstream.host}/acme/img-1:${sbomTag}`, { raw: true }));

    // a second load finds everything there
    const again = await runCli(['bundle', 'load', b, '--to', `${airgapped.host}/mirror`, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(copyReportSchema.parse(JSON.parse(again.stdout)).totals.blobs.copied).toBe(0);

    // extract the file, verified
    const out = path.join(dir, 'extracted');
    expect((await runCli(['bundle', 'extract', b, '--file', 'install.txt', '-o', out])).code).toBe(0);
    expect(readFileSync(path.join(out, 'install.txt'), 'utf8')).toBe('install me\n');

    // the wrong key: refused before anything is pushed
    const otherKey = path.join(dir, 'other');
    expect((await runCli(['key', 'generate', '--output-key-prefix', otherKey], { env })).code).toBe(0);
    const wrong = await runCli(['bundle', 'load', b, '--to', `${airgapped.host}/wrongkey`, '--key', `${otherKey}.pub`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/signature does not verify/);
    expectNoStack(wrong);
    expect((await runCli(['verify', '--key', `${key}.pub`, `${airgapped.host}/wrongkey/acme/img-0:1.0`])).code).toBe(1);
  });

  it('is deterministic: the same inputs give a byte-identical bundle', async () => {
    const a = path.join(dir, 'det-a.tar');
    const b = path.join(dir, 'det-b.tar');
    expect((await runCli(['bundle', 'create', '-f', path.join(dir, 'airlock.yaml'), '-o', a, '--concurrency', '2'], { env })).code).toBe(0);
    expect((await runCli(['bundle', 'create', '-f', path.join(dir, 'airlock.yaml'), '-o', b, '--concurrency', '8'], { env })).code).toBe(0);
    expect(sha256(a)).toBe(sha256(b));
  });

  it('split: loads the same from the first part, the parts file or the set; a flipped byte in any part is named', async () => {
    const whole = path.join(dir, 'whole.tar');
    const split = path.join(dir, 'split', 'b.tar');
    mkdirSync(path.dirname(split));
    expect((await runCli(['bundle', 'create', '-f', path.join(dir, 'airlock.yaml'), '-o', whole], { env })).code).toBe(0);
    const c = await runCli(['bundle', 'create', '-f', path.join(dir, 'airlock.yaml'), '-o', split, '--split-size', '300K'], { env });
    expect(c.code, c.stderr).toBe(0);
    const parts = readdirSync(path.dirname(split)).filter((n) => /\.\d{3}$/.test(n)).sort();
    expect(parts.length).toBeGreaterThan(2);
    // the parts concatenated are the unsplit bundle
    expect(createHash('sha256').update(Buffer.concat(parts.map((p) => readFileSync(path.join(path.dirname(split), p))))).digest('hex')).toBe(sha256(whole));
    for (const given of [[`${split}.001`], [`${split}.parts.json`], parts.map((p) => path.join(path.dirname(split), p))]) {
      const v = await runCli(['bundle', 'verify', ...given]);
      expect(v.code, `${given.join(' ')}: ${v.stderr}`).toBe(0);
    }
    const l = await runCli(['bundle', 'load', `${split}.001`, '--to', `${airgapped.host}/split`, '--json']);
    expect(l.code, l.stderr).toBe(0);
    for (const t of ['img-0', 'img-1']) {
      expect(await skopeoInspect(`docker://${airgapped.host}/split/acme/${t}:1.0`, { raw: true })).toBe(await skopeoInspect(`docker://${up(t)}`, { raw: true }));
    }
    // a flipped byte in each part, in turn: verify fails and names that part
    for (const [i, p] of parts.entries()) {
      const copy = path.join(dir, `flip-${i}`);
      mkdirSync(copy);
      for (const f of readdirSync(path.dirname(split))) copyFileSync(path.join(path.dirname(split), f), path.join(copy, f));
      const target = path.join(copy, p);
      const bytes = readFileSync(target);
      const at = Math.floor(bytes.length / 2) + 7;
      bytes[at] = bytes[at]! ^ 0x01;
      writeFileSync(target, bytes);
      const v = await runCli(['bundle', 'verify', path.join(copy, 'b.tar.001')]);
      expect(v.code, v.stderr).toBe(1);
      expect(v.stderr).toContain(p);
      expectNoStack(v);
    }
  });

  it('incremental: the new bundle leaves out what the earlier one carried; together they restore everything', async () => {
    const base = path.join(dir, 'week1.tar');
    const next = path.join(dir, 'week2.tar');
    const yaml2 = path.join(dir, 'airlock-2.yaml');
    writeFileSync(yaml2, ['images:', ...images.tags.map((t) => `  - ${up(t)}`), ''].join('\n'));
    expect((await runCli(['bundle', 'create', '-f', path.join(dir, 'airlock.yaml'), '-o', base], { env })).code).toBe(0);
    const c = await runCli(['bundle', 'create', '-f', yaml2, '-o', next, '--since', base, '--json'], { env });
    expect(c.code, c.stderr).toBe(0);
    const r = JSON.parse(c.stdout) as { external: number; size: number };
    expect(r.external).toBeGreaterThan(0);
    const full = await runCli(['bundle', 'create', '-f', yaml2, '-o', path.join(dir, 'full.tar'), '--dry-run', '--json'], { env });
    expect(r.size).toBeLessThan((JSON.parse(full.stdout) as { size: number }).size);
    expect((await runCli(['bundle', 'verify', next])).code).toBe(0);

    const d = await runCli(['bundle', 'diff', base, next, '--json']);
    expect(d.code, d.stderr).toBe(0);
    const diff = JSON.parse(d.stdout) as { added: { name: string }[]; removed: { name: string }[] };
    expect(diff.added.map((a) => a.name)).toEqual([up('img-2')]);
    expect(diff.removed.map((a) => a.name)).toEqual(['install.txt']);

    // alone, on an empty destination, the new bundle cannot complete: it says what is missing
    const alone = await runCli(['bundle', 'load', next, '--to', `${airgapped.host}/alone`]);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/earlier bundle/);
    // base first, then the increment: everything is there
    expect((await runCli(['bundle', 'load', base, '--to', `${airgapped.host}/inc`])).code).toBe(0);
    const l = await runCli(['bundle', 'load', next, '--to', `${airgapped.host}/inc`]);
    expect(l.code, l.stderr).toBe(0);
    for (const t of images.tags) {
      expect(await skopeoInspect(`docker://${airgapped.host}/inc/acme/${t}:1.0`, { raw: true })).toBe(await skopeoInspect(`docker://${up(t)}`, { raw: true }));
    }
    // a copy of every image (all blobs) works from the private registry
    const layout = path.join(dir, 'check-layout');
    const cp = await runCli(['copy', `${airgapped.host}/inc/acme/img-2:1.0`, `oci:${layout}:img-2`]);
    expect(cp.code, cp.stderr).toBe(0);
  });

  it('--require-signature refuses an unsigned image and writes nothing; --dry-run gives the exact size', async () => {
    const yaml = path.join(dir, 'airlock-unsigned.yaml');
    writeFileSync(yaml, ['images:', ...images.tags.map((t) => `  - ${up(t)}`), ''].join('\n'));
    const out = path.join(dir, 'refused.tar');
    const r = await runCli(['bundle', 'create', '-f', yaml, '-o', out, '--require-signature', '--key', `${key}.pub`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(up('img-2'));
    expect(r.stderr).not.toMatch(/✘ .*img-0/);
    expectNoStack(r);
    expect(existsSync(out)).toBe(false);

    const signedOnly = path.join(dir, 'airlock.yaml');
    const ok = await runCli(['bundle', 'create', '-f', signedOnly, '-o', out, '--require-signature', '--key', `${key}.pub`], { env });
    expect(ok.code, ok.stderr).toBe(0);

    const dry = await runCli(['bundle', 'create', '-f', signedOnly, '-o', path.join(dir, 'dry.tar'), '--dry-run', '--json'], { env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'dry.tar'))).toBe(false);
    expect((JSON.parse(dry.stdout) as { size: number }).size).toBe(statSync(out).size);
  });

  it('charts: a local .tgz is stored as helm push does, extracted byte-identical, loaded under PREFIX/charts', async () => {
    const files: [string, string][] = [
      ['mychart/Chart.yaml', 'apiVersion: v2\nname: mychart\nversion: 1.2.3+build.1\nappVersion: "4.5"\ndescription: A test chart\n'],
      ['mychart/values.yaml', `image:\n  repository: ${upstream.host}/acme/img-0\n  tag: "1.0"\n`],
      ['mychart/templates/deployment.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n'],
    ];
    const p = pack();
    const chunks: Buffer[] = [];
    const done = (async () => {
      for await (const c of p) chunks.push(c as Buffer);
    })();
    for (const [name, text] of files) p.entry({ name, mode: 0o644 }, text);
    p.finalize();
    await done;
    const tgz = path.join(dir, 'mychart-1.2.3+build.1.tgz');
    writeFileSync(tgz, gzipSync(Buffer.concat(chunks)));
    const yaml = path.join(dir, 'airlock-chart.yaml');
    writeFileSync(yaml, `charts:\n  - file: ${path.basename(tgz)}\n`);
    const b = path.join(dir, 'chart.tar');
    const c = await runCli(['bundle', 'create', '-f', yaml, '-o', b], { env });
    expect(c.code, c.stderr).toBe(0);
    const list = await runCli(['bundle', 'list', b]);
    expect(list.stdout).toMatch(/chart mychart 1\.2\.3\+build\.1/);
    const out = path.join(dir, 'charts-out');
    expect((await runCli(['bundle', 'extract', b, '--chart', 'mychart', '-o', out])).code).toBe(0);
    expect(readFileSync(path.join(out, 'mychart-1.2.3+build.1.tgz')).equals(readFileSync(tgz))).toBe(true);
    const l = await runCli(['bundle', 'load', b, '--to', `${airgapped.host}/helm`]);
    expect(l.code, l.stderr).toBe(0);
    const m = JSON.parse(await skopeoInspect(`docker://${airgapped.host}/helm/charts/mychart:1.2.3_build.1`, { raw: true })) as { config: { mediaType: string }; layers: { mediaType: string; digest: string }[]; annotations: Record<string, string> };
    expect(m.config.mediaType).toBe('application/vnd.cncf.helm.config.v1+json');
    expect(m.layers[0]!.mediaType).toBe('application/vnd.cncf.helm.chart.content.v1.tar+gzip');
    expect(m.layers[0]!.digest).toBe(`sha256:${sha256(tgz)}`);
    expect(m.annotations['org.opencontainers.image.version']).toBe('1.2.3+build.1');
  });

  it('a platform filter records both digests; loads into a registry and an OCI layout', async () => {
    const b = path.join(dir, 'arm64.tar');
    const c = await runCli(['bundle', 'create', '-f', path.join(dir, 'airlock.yaml'), '-o', b, '--platform', 'linux/arm64'], { env });
    expect(c.code, c.stderr).toBe(0);
    const inv = inventorySchema.parse((JSON.parse((await runCli(['bundle', 'list', b, '--json'])).stdout) as { inventory: unknown }).inventory);
    const e = inv.entries.find((x) => x.kind === 'image' && x.name === up('img-0'));
    if (e?.kind !== 'image') throw new Error('img-0 missing');
    const index = JSON.parse(await skopeoInspect(`docker://${up('img-0')}`, { raw: true })) as { manifests: { digest: string; platform: { architecture: string } }[] };
    expect(e.sourceDigest).toBe(`sha256:${createHash('sha256').update(await skopeoInspect(`docker://${up('img-0')}`, { raw: true })).digest('hex')}`);
    expect(e.digest).toBe(index.manifests.find((m) => m.platform.architecture === 'arm64')!.digest);
    expect(e.platforms).toEqual(['linux/arm64']);
    expect((await runCli(['bundle', 'load', b, '--to', `${airgapped.host}/arm`])).code).toBe(0);
    const layout = path.join(dir, 'arm-layout');
    const l = await runCli(['bundle', 'load', b, '--to', `oci:${layout}`]);
    expect(l.code, l.stderr).toBe(0);
    const want = await skopeoInspect(`docker://${upstream.host}/acme/img-0@${e.digest}`, { raw: true });
    expect(await skopeoInspect(`docker://${airgapped.host}/arm/acme/img-0:1.0`, { raw: true })).toBe(want);
    expect(await skopeoInspect(`oci:${layout}:${up('img-0')}`, { raw: true })).toBe(want);
  });

  it('input errors exit 2 with one line', async () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'images:\n  - source: oci:./nowhere:x\n');
    const r = await runCli(['bundle', 'create', '-f', bad, '-o', path.join(dir, 'x.tar')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs destination/);
    const s = await runCli(['bundle', 'create', '-f', path.join(dir, 'airlock.yaml'), '-o', path.join(dir, 'x.tar'), '--split-size', 'big']);
    expect(s.code).toBe(2);
    const m = await runCli(['bundle', 'verify', path.join(dir, 'missing.tar')]);
    expect(m.code).toBe(2);
    expectNoStack(m);
  });
});

/**
 * Hostile bundles: tars built here with tar-stream from a valid bundle, each with one thing a
 * bundle never holds. Every one is refused by `bundle verify` and `bundle load`, with a one-line
 * reason, and `load` writes nothing at all.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { extract, pack, type Header } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { makeImages, skopeoInspect, type ImageLayout } from '../helpers/images.js';

interface Entry {
  header: Partial<Header> & { name: string };
  data?: Buffer;
}

async function readTar(file: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const ex = extract();
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      out.push({ header: { ...e.header }, data: Buffer.concat(chunks) });
    }
  })();
  ex.end(readFileSync(file));
  await done;
  return out;
}

async function writeTar(file: string, entries: Entry[]): Promise<void> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.header.type === 'file' || e.header.type === undefined) p.entry(e.header, e.data ?? Buffer.alloc(0), cb);
      else p.entry(e.header, cb);
    });
  }
  p.finalize();
  await done;
  writeFileSync(file, Buffer.concat(chunks));
}

describe('airlock bundle: hostile input is refused and nothing is written', () => {
  let images: ImageLayout;
  let dir: string;
  let good: string;
  let entries: Entry[];
  const blobName = () => entries.find((e) => e.header.name.startsWith('blobs/sha256/') && (e.data?.length ?? 0) > 1000)!.header.name;

  beforeAll(async () => {
    images = await makeImages({ images: 2, layers: 1, layerMb: 0.05, sharedBaseMb: 0.05, seed: 5 });
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-bundle-hostile-'));
    writeFileSync(
      path.join(dir, 'airlock.yaml'),
      ['images:', ...images.tags.map((t) => `  - source: oci:${images.layoutDir}:${t}\n    destination: registry.example.com/acme/${t}:1.0`), ''].join('\n'),
    );
    good = path.join(dir, 'good.tar');
    const c = await runCli(['bundle', 'create', '-f', path.join(dir, 'airlock.yaml'), '-o', good]);
    expect(c.code, c.stderr).toBe(0);
    entries = await readTar(good);
    // the rebuilt tar of the unchanged entries is itself a good bundle
    await writeTar(path.join(dir, 'rebuilt.tar'), entries);
    expect((await runCli(['bundle', 'verify', path.join(dir, 'rebuilt.tar')])).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await images?.remove();
  });

  const cases: [string, RegExp, () => Entry[] | Buffer][] = [
    ['an absolute path', /absolute path/, () => [...entries, { header: { name: '/tmp/airlock-evil', type: 'file' }, data: Buffer.from('x') }]],
    ['a path with ..', /climbs out/, () => [...entries, { header: { name: 'blobs/../../airlock-evil', type: 'file' }, data: Buffer.from('x') }]],
    ['a symlink', /symbolic link/, () => entries.map((e) => (e.header.name === blobName() ? { header: { name: e.header.name, type: 'symlink', linkname: '/etc/passwd' } } : e))],
    ['a hard link', /hard link/, () => [...entries, { header: { name: 'blobs/sha256/' + 'a'.repeat(64), type: 'link', linkname: 'index.json' } }]],
    ['a device', /character device/, () => [...entries, { header: { name: 'blobs/null', type: 'character-device', devmajor: 1, devminor: 3 } }]],
    ['a duplicate entry', /appears twice/, () => [...entries, { header: { name: 'index.json', type: 'file' }, data: Buffer.from('{"schemaVersion":2,"manifests":[]}') }]],
    ['an entry outside the layout', /outside the bundle layout/, () => [...entries, { header: { name: 'extra/run.sh', type: 'file' }, data: Buffer.from('#!/bin/sh\n') }]],
    ['oversized JSON', /larger than the 4096 bytes allowed/, () => entries.map((e) => (e.header.name === 'oci-layout' ? { header: { name: 'oci-layout', type: 'file' }, data: Buffer.from(`{"imageLayoutVersion":"1.0.0"${' '.repeat(5000)}}`) } : e))],
    ['a truncated tar', /truncated/, () => readFileSync(good).subarray(0, Math.floor(readFileSync(good).length / 2))],
    ['a tar without its end blocks', /truncated/, () => readFileSync(good).subarray(0, readFileSync(good).length - 1024)],
    ['an index.json that points a name elsewhere', /does not point at/, () => entries.map((e) => {
      if (e.header.name !== 'index.json') return e;
      const idx = JSON.parse(e.data!.toString()) as { manifests: { digest: string }[] };
      [idx.manifests[0]!.digest, idx.manifests[1]!.digest] = [idx.manifests[1]!.digest, idx.manifests[0]!.digest];
      return { ...e, data: Buffer.from(JSON.stringify(idx)) };
    })],
    ['an inventory that does not match its checksum', /does not match airlock-inventory\.json\.sha256/, () => entries.map((e) => (e.header.name === 'airlock-inventory.json' ? { ...e, data: Buffer.from(e.data!.toString().replace('"schemaVersion": 1', '"schemaVersion":  1')) } : e))],
  ];

  for (const [what, message, build] of cases) {
    it(`refuses ${what}`, async () => {
      const file = path.join(dir, `${what.replace(/\W+/g, '-')}.tar`);
      const built = build();
      if (Buffer.isBuffer(built)) writeFileSync(file, built);
      else await writeTar(file, built);
      const v = await runCli(['bundle', 'verify', file]);
      expect(v.code, v.stderr).toBe(1);
      expect(v.stderr).toMatch(message);
      expectNoStack(v);
      const dest = path.join(dir, `dest-${what.replace(/\W+/g, '-')}`);
      const l = await runCli(['bundle', 'load', file, '--to', `oci:${dest}`]);
      expect(l.code, l.stderr).toBe(1);
      expect(l.stderr).toMatch(message);
      expect(l.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
      expectNoStack(l);
      expect(existsSync(dest)).toBe(false);
      expect(existsSync('/tmp/airlock-evil')).toBe(false);
    });
  }

  it('checks every blob before using it: a damaged layer fails its image and no tag points at it', async () => {
    const name = blobName();
    const file = path.join(dir, 'damaged-blob.tar');
    await writeTar(
      file,
      entries.map((e) => {
        if (e.header.name !== name) return e;
        const data = Buffer.from(e.data!);
        data[100] = data[100]! ^ 0xff;
        return { ...e, data };
      }),
    );
    const v = await runCli(['bundle', 'verify', file]);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain(`blob sha256:${name.slice('blobs/sha256/'.length)}`);
    expect(v.stderr).toMatch(/damaged-blob\.tar at offset \d+/);
    const dest = path.join(dir, 'dest-damaged');
    const l = await runCli(['bundle', 'load', file, '--to', `oci:${dest}`]);
    expect(l.code).toBe(1);
    expect(l.stderr).toMatch(/does not match/);
    const index = existsSync(path.join(dest, 'index.json')) ? (JSON.parse(readFileSync(path.join(dest, 'index.json'), 'utf8')) as { manifests: unknown[] }) : { manifests: [] };
    // the image using the damaged layer was not tagged; its blob never landed
    expect(existsSync(path.join(dest, name))).toBe(false);
    expect(index.manifests.length).toBeLessThan(images.tags.length);
  });

  it('refuses parts listed in the wrong order, and names swapped parts', async () => {
    const splitDir = path.join(dir, 'split');
    mkdirSync(splitDir);
    const b = path.join(splitDir, 'b.tar');
    expect((await runCli(['bundle', 'create', '-f', path.join(dir, 'airlock.yaml'), '-o', b, '--split-size', '30K'])).code).toBe(0);
    const partsFile = `${b}.parts.json`;
    const original = readFileSync(partsFile, 'utf8');
    const doc = JSON.parse(original) as { parts: unknown[] };
    expect(doc.parts.length).toBeGreaterThan(2);
    [doc.parts[0], doc.parts[1]] = [doc.parts[1], doc.parts[0]];
    writeFileSync(partsFile, JSON.stringify(doc));
    const v = await runCli(['bundle', 'verify', `${b}.001`]);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/wrong order/);
    const l = await runCli(['bundle', 'load', `${b}.001`, '--to', `oci:${path.join(dir, 'dest-order')}`]);
    expect(l.code).toBe(1);
    expect(existsSync(path.join(dir, 'dest-order'))).toBe(false);

    // the files themselves swapped (002 ↔ 003): verify names the part
    writeFileSync(partsFile, original);
    renameSync(`${b}.002`, `${b}.tmp`);
    renameSync(`${b}.003`, `${b}.002`);
    renameSync(`${b}.tmp`, `${b}.003`);
    const sw = await runCli(['bundle', 'verify', `${b}.parts.json`]);
    expect(sw.code).toBe(1);
    expect(sw.stderr).toMatch(/b\.tar\.002: .*it holds what b\.tar\.003 should, so the parts were swapped/);
    expectNoStack(sw);
  });

  it('skopeo reads a good bundle', async () => {
    const raw = await skopeoInspect(`oci-archive:${good}:registry.example.com/acme/img-0:1.0`, { raw: true });
    expect(JSON.parse(raw)).toHaveProperty('schemaVersion', 2);
  });
});

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '@airlock/oci';
import { ArchiveOutput, indexTar, PartsReader, tarSize, writeTar, type Inventory, type TarEntry } from '@airlock/oci/archive';
import { parseBundleConfig } from '../src/config.js';
import { diffInventories } from '../src/inspect.js';
import { parseSize } from '../src/size.js';

describe('--split-size', () => {
  it('reads media sizes in SI units and binary units spelled out', () => {
    expect(parseSize('4G')).toBe(4_000_000_000);
    expect(parseSize('4G')).toBeLessThan(2 ** 32 - 1); // fits FAT32
    expect(parseSize('4.7G')).toBe(4_700_000_000);
    expect(parseSize('25G')).toBe(25_000_000_000);
    expect(parseSize('10M')).toBe(10_000_000);
    expect(parseSize('2GiB')).toBe(2 * 1024 ** 3);
  });
  it('refuses what is not a size, and tiny parts', () => {
    expect(() => parseSize('big')).toThrow(AirlockError);
    expect(() => parseSize('4X')).toThrow(/not a size/);
    expect(() => parseSize('100')).toThrow(/minimum/);
  });
});

describe('airlock.yaml', () => {
  it('takes mirror-list image entries, files and charts, paths relative to the file', () => {
    const c = parseBundleConfig(
      ['images:', '  - reg.example.com/a/b:1', '  - source: oci:lay:t', '    destination: reg.example.com/a/t:1', '    platforms: [linux/amd64]', 'files:', '  - docs/x.pdf', '  - path: conf/', '    name: conf', 'charts:', '  - file: charts/app-1.0.0.tgz', '  - repo: https://charts.example.com', '    name: app', '    version: ^1.0.0', '    images-from-chart: true', ''].join('\n'),
      '/srv/airlock.yaml',
    );
    expect(c.images.map((i) => i.source)).toEqual(['reg.example.com/a/b:1', 'oci:/srv/lay:t']);
    expect(c.files).toEqual([
      { path: '/srv/docs/x.pdf', name: 'x.pdf', where: '/srv/airlock.yaml files.0' },
      { path: '/srv/conf', name: 'conf', where: '/srv/airlock.yaml files.1' },
    ]);
    expect(c.charts[0]!.file).toBe('/srv/charts/app-1.0.0.tgz');
    expect(c.charts[1]!['images-from-chart']).toBe(true);
  });
  it('the worked example in examples/bundle is valid', () => {
    const file = path.resolve(__dirname, '..', '..', '..', 'examples', 'bundle', 'airlock.yaml');
    const c = parseBundleConfig(readFileSync(file, 'utf8'), file);
    expect(c.images.length).toBe(3);
    expect(c.files.map((f) => f.name)).toEqual(['install.pdf', 'config']);
    expect(c.charts.map((ch) => ch.file ?? ch.repo ?? ch.oci)).toEqual([path.resolve(path.dirname(file), 'charts/app-1.4.0.tgz'), 'https://charts.example.com', 'oci://registry.example.com/charts/api:1.4.0']);
  });

  it('refuses unknown keys and a chart with two sources, naming where', () => {
    expect(() => parseBundleConfig('images: [a]\nextra: 1\n', 'a.yaml')).toThrow(/a\.yaml: invalid airlock\.yaml.*extra/);
    expect(() => parseBundleConfig('charts:\n  - file: x.tgz\n    oci: oci://r/x:1\n', 'a.yaml')).toThrow(/exactly one of repo/);
    expect(() => parseBundleConfig('images: []\n', 'a.yaml')).toThrow(/at least one/);
    expect(() => parseBundleConfig('files:\n  - a/x.txt\n  - b/x.txt\n', 'a.yaml')).toThrow(/a\.yaml files\.1: the name x\.txt is already taken by a\.yaml files\.0/);
  });
});

async function tarBytes(entries: TarEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await writeTar(entries, async (c) => {
    chunks.push(Buffer.from(c));
  });
  return Buffer.concat(chunks);
}

describe('deterministic tar', () => {
  const entries = (): TarEntry[] => [
    { name: 'oci-layout', type: 'file', bytes: Buffer.from('{}') },
    { name: 'blobs', type: 'directory' },
    { name: 'blobs/sha256', type: 'directory' },
    { name: `blobs/sha256/${'a'.repeat(64)}`, type: 'file', size: 1000, open: async () => Readable.from([Buffer.alloc(600, 1), Buffer.alloc(400, 2)]) },
  ];
  it('writes exactly tarSize bytes, the same bytes every time, zeroed metadata', async () => {
    const a = await tarBytes(entries());
    const b = await tarBytes(entries());
    expect(a.equals(b)).toBe(true);
    expect(a.length).toBe(tarSize(entries()));
    const dir = mkdtempSync(path.join(tmpdir(), 'airlock-tar-'));
    writeFileSync(path.join(dir, 't.tar'), a);
    const ra = new PartsReader([{ path: path.join(dir, 't.tar'), size: a.length }]);
    const idx = await indexTar(ra);
    await ra.close();
    expect(idx.map((e) => [e.name, e.type, e.size])).toEqual([
      ['oci-layout', 'file', 2],
      ['blobs', 'directory', 0],
      ['blobs/sha256', 'directory', 0],
      [`blobs/sha256/${'a'.repeat(64)}`, 'file', 1000],
    ]);
    // mtime, uid and gid fields are zero in every header
    for (const e of idx) {
      const h = a.subarray(e.headerOffset, e.headerOffset + 512);
      expect(h.subarray(136, 147).toString()).toBe('00000000000');
      expect(h.subarray(108, 114).toString()).toBe('000000');
    }
    expect(a.subarray(idx[3]!.offset, idx[3]!.offset + 1000).equals(Buffer.concat([Buffer.alloc(600, 1), Buffer.alloc(400, 2)]))).toBe(true);
  });
  it('a source that fails stops the tar with its own error', async () => {
    const bad: TarEntry[] = [{ name: 'x', type: 'file', size: 10, open: async () => Readable.from((async function* () { yield Buffer.alloc(5); throw new AirlockError('DIGEST_MISMATCH', 'blob x: content digest mismatch'); })()) }];
    await expect(tarBytes(bad)).rejects.toThrow(/content digest mismatch/);
  });
  it('split output: parts read back as one archive; part boundaries anywhere', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'airlock-parts-'));
    const out = new ArchiveOutput(path.join(dir, 'b.tar'), 1000);
    const bytes = await tarBytes(entries());
    for (let i = 0; i < bytes.length; i += 333) await out.write(bytes.subarray(i, i + 333));
    const w = await out.commit();
    const full = Math.floor(bytes.length / 1000);
    expect(w.parts.map((p) => p.size)).toEqual([...Array(full).fill(1000), bytes.length - full * 1000].filter((n) => n > 0));
    const ra = new PartsReader(w.parts.map((p) => ({ path: p.path, size: p.size })));
    expect((await ra.read(990, 20)).equals(bytes.subarray(990, 1010))).toBe(true);
    const streamed: Buffer[] = [];
    for await (const c of ra.stream(500, 2600)) streamed.push(c as Buffer);
    expect(Buffer.concat(streamed).equals(bytes.subarray(500, 3100))).toBe(true);
    expect(ra.where(2500)).toBe('b.tar.003 at offset 500');
    await ra.close();
    expect(readFileSync(path.join(dir, 'b.tar.002')).equals(bytes.subarray(1000, 2000))).toBe(true);
  });
});

describe('bundle diff', () => {
  const inv = (entries: Inventory['entries'], blobs: [string, number][]): Inventory => ({
    mediaType: 'application/vnd.airlock.bundle.inventory.v1+json',
    schemaVersion: 1,
    created: '2026-01-01T00:00:00Z',
    airlock: '0.1.0',
    entries,
    blobs: blobs.map(([d, size]) => ({ digest: `sha256:${d.repeat(64)}` as `sha256:${string}`, size })),
    external: [],
  });
  const img = (name: string, d: string) => ({ kind: 'image' as const, name, source: name, digest: `sha256:${d.repeat(64)}` as `sha256:${string}`, mediaType: 'x', size: 1, attachments: [] });
  it('images added, changed, removed, and the bytes an incremental bundle would carry', () => {
    const d = diffInventories(inv([img('r/a:1', 'a'), img('r/b:1', 'b')], [['1', 10], ['2', 20]]), inv([img('r/a:1', 'c'), img('r/c:1', 'd')], [['1', 10], ['3', 30]]));
    expect(d.added.map((e) => e.name)).toEqual(['r/c:1']);
    expect(d.changed.map((e) => e.name)).toEqual(['r/a:1']);
    expect(d.removed.map((e) => e.name)).toEqual(['r/b:1']);
    expect([d.newBlobs, d.newBytes, d.totalBytes]).toEqual([1, 30, 40]);
  });
});

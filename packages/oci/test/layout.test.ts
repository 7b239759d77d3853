import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { digestOf, OciLayout, REF_NAME, parseManifest, type Descriptor } from '../src/index.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'airlock-layout-'));

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('OCI layout', () => {
  it('writes blobs atomically and verified; a wrong digest leaves nothing', async () => {
    const dir = tmp();
    const l = await OciLayout.openForWrite(dir);
    const data = Buffer.from('hello layer');
    const desc: Descriptor = { mediaType: 'application/octet-stream', digest: digestOf(data), size: data.length };
    await l.writeBlob(desc, Readable.from([data]));
    expect(await readAll(await l.openBlob(desc))).toEqual(data);

    const liar: Descriptor = { ...desc, digest: digestOf(Buffer.from('something else')) };
    await expect(l.writeBlob(liar, Readable.from([data]))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    const short: Descriptor = { ...desc, size: data.length + 5, digest: digestOf(Buffer.concat([data, Buffer.from('12345')])) };
    await expect(l.writeBlob(short, Readable.from([data]))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(readdirSync(path.join(dir, 'blobs', 'sha256'))).toEqual([desc.digest.slice(7)]);
  });

  it('keeps several tags in index.json and replaces a re-used tag', async () => {
    const dir = tmp();
    const l = await OciLayout.openForWrite(dir);
    const mk = (n: number) => {
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'x', digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, size: 1 }, layers: [] }));
      return parseManifest(bytes, undefined, 'test');
    };
    const [a, b, c] = [mk(1), mk(2), mk(3)];
    await Promise.all([a, b].map(async (m, i) => {
      await l.writeBytes(m.digest, m.bytes);
      await l.setRef({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }, `t${i}`);
    }));
    await l.writeBytes(c.digest, c.bytes);
    await l.setRef({ mediaType: c.mediaType, digest: c.digest, size: c.bytes.length }, 't0');
    const idx = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
    expect(idx.manifests.map((m) => [m.annotations?.[REF_NAME], m.digest]).sort()).toEqual([
      ['t0', c.digest],
      ['t1', b.digest],
    ]);
    const r = await OciLayout.openForRead(dir);
    expect((await r.resolve('t0'))?.digest).toBe(c.digest);
    expect((await r.readManifest((await r.resolve('t1'))!)).digest).toBe(b.digest);
    await expect(r.resolve(undefined)).rejects.toThrowError(/holds 2 images/);
  });

  it('parallel writers into one layout keep every tag (one index.json read shared)', async () => {
    const dir = tmp();
    const l = await OciLayout.openForWrite(dir);
    const tags = Array.from({ length: 12 }, (_, i) => `tag-${i}`);
    await Promise.all(
      tags.map(async (t, i) => {
        const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [], annotations: { n: String(i) } }));
        const m = parseManifest(bytes, 'application/vnd.oci.image.index.v1+json', 'test');
        await l.writeBytes(m.digest, m.bytes);
        await l.setRef({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }, t);
      }),
    );
    expect((await (await OciLayout.openForRead(dir)).tags()).sort()).toEqual([...tags].sort());
  });

  it('refuses to read a blob that links outside the layout, and a tampered manifest', async () => {
    const dir = tmp();
    const l = await OciLayout.openForWrite(dir);
    const outside = path.join(tmp(), 'secret');
    writeFileSync(outside, 'secret');
    const d = digestOf(Buffer.from('secret'));
    symlinkSync(outside, path.join(dir, 'blobs', 'sha256', d.slice(7)));
    await expect(l.openBlob({ mediaType: 'x', digest: d, size: 6 })).rejects.toThrowError(/resolves outside the layout/);

    const bytes = Buffer.from('{"schemaVersion":2,"manifests":[]}');
    const md = digestOf(bytes);
    mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(path.join(dir, 'blobs', 'sha256', md.slice(7)), '{"schemaVersion":2,"manifests":[ ]}');
    await expect(l.readManifest({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: md, size: bytes.length })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    rmSync(path.join(dir, 'oci-layout'));
    await expect(OciLayout.openForRead(dir)).rejects.toThrowError(/not an OCI image layout/);
  });

  it('a new layout appears under its name only when close() finds an image in it; otherwise nothing is left', async () => {
    const parent = tmp();
    const mk = () => parseManifest(Buffer.from('{"schemaVersion":2,"manifests":[]}'), 'application/vnd.oci.image.index.v1+json', 'test');
    // Nothing tagged (a failed or interrupted copy): no directory, no staging directory.
    const failed = await OciLayout.openForWrite(path.join(parent, 'failed'));
    const data = Buffer.from('a blob');
    await failed.writeBlob({ mediaType: 'x', digest: digestOf(data), size: data.length }, Readable.from([data]));
    expect(readdirSync(parent)).toHaveLength(1); // the hidden staging directory
    await failed.close();
    expect(readdirSync(parent)).toEqual([]);
    // An image tagged: renamed into place whole, with its index.json; parents created.
    const target = path.join(parent, 'media', 'ok');
    const ok = await OciLayout.openForWrite(target);
    const m = mk();
    await ok.writeBytes(m.digest, m.bytes);
    await ok.setRef({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }, 'v1');
    await ok.close();
    expect(readdirSync(parent)).toEqual(['media']);
    expect(readdirSync(target).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    expect((await (await OciLayout.openForRead(target)).tags())).toEqual(['v1']);
    // Another writer created it meanwhile: merged, both tags kept.
    const late = await OciLayout.openForWrite(path.join(parent, 'race'));
    const early = await OciLayout.openForWrite(path.join(parent, 'race'));
    for (const [l, t] of [[late, 'late'], [early, 'early']] as const) {
      await l.writeBytes(m.digest, m.bytes);
      await l.setRef({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }, t);
    }
    await early.close();
    await late.close();
    expect((await (await OciLayout.openForRead(path.join(parent, 'race'))).tags()).sort()).toEqual(['early', 'late']);
    expect(readdirSync(parent).sort()).toEqual(['media', 'race']);
  });

  it('a damaged layout says what is wrong: not JSON (truncated) apart from not an index; input errors', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(path.join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[{"media');
    await expect(OciLayout.openForRead(dir)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/index\.json is not valid JSON \(truncated\?\)$/) });
    writeFileSync(path.join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[{"digest":5}]}');
    await expect(OciLayout.openForRead(dir)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/index\.json is not an OCI image index \(at manifests\.0/) });
    await expect(OciLayout.openForRead(path.join(dir, 'nope'))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/does not exist$/) });
    await expect(OciLayout.openForRead(path.join(dir, 'oci-layout'))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/is not a directory$/) });
    expect(() => OciLayout.checkWritable(path.join(dir, 'oci-layout'))).toThrowError(/is a file, not a directory/);
    expect(() => OciLayout.checkWritable(path.join(dir, 'oci-layout', 'x'))).toThrowError(/oci-layout is not a directory/);
    expect(() => OciLayout.checkWritable(dir)).toThrowError(/index\.json is not an OCI image index/);
  });
});

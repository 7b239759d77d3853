import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLocation, runTransfers, type ImageResult, type Registries, type UploadOptions } from '@airlock/oci';
import { registriesFor } from '../helpers/lib.js';
import {
  buildImage,
  buildIndex,
  headRaw,
  hex,
  listTagsRaw,
  OCI_MANIFEST,
  pseudoRandom,
  sha256,
  startOciServer,
  type BuiltManifest,
  type OciServer,
} from '../helpers/oci-server.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeTempDir } from '../helpers/tmp.js';

/**
 * A source registry that serves bad content, copied to a REAL docker-registry and to an OCI layout:
 * the image fails with the right code, the others in the run still copy, and the destination is
 * left without the bad blob, without the manifest and without the tag.
 */

type BlobFault = (req: http.IncomingMessage, res: http.ServerResponse, bytes: Buffer) => void;

/** Bytes of a blob served slowly, so that a sibling failure happens while it is still in flight. */
const slow: BlobFault = (_req, res, bytes) => {
  res.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/octet-stream' });
  res.write(bytes.subarray(0, bytes.length >> 1));
  setTimeout(() => res.end(bytes.subarray(bytes.length >> 1)), 400);
};

/** Content-Length promises the whole blob, a third arrives, then the connection is closed. */
const cutOff: BlobFault = (_req, res, bytes) => {
  res.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/octet-stream' });
  res.write(bytes.subarray(0, Math.floor(bytes.length / 3)), () => res.socket?.destroy());
};

interface Planted {
  /** Tag or digest to copy. */
  reference: string;
  /** What must not exist at the destination afterwards. */
  badBlobs: string[];
  badManifests: string[];
  message?: RegExp;
}

interface Case {
  name: string;
  code: string;
  plant(src: OciServer, repo: string, faults: Map<string, BlobFault>): Planted;
}

/** An image with a bad layer (faulted by the case) and a slow good one. */
function imageWithBadLayer(src: OciServer, repo: string, seed: string, faults: Map<string, BlobFault>): { img: BuiltManifest; bad: Buffer; badDigest: string } {
  const img = buildImage(seed, { layers: 2, layerSize: 300 * 1024 });
  for (const b of img.blobs) src.seedBlob(repo, b.bytes);
  src.seedManifest(repo, img.bytes, img.mediaType, 'v1');
  const [, bad, good] = img.blobs;
  faults.set(`${repo}|${good!.desc.digest}`, slow);
  return { img, bad: bad!.bytes, badDigest: bad!.desc.digest };
}

const cases: Case[] = [
  {
    name: 'a corrupted blob (same length, one byte flipped)',
    code: 'DIGEST_MISMATCH',
    plant(src, repo, faults) {
      const { img, bad, badDigest } = imageWithBadLayer(src, repo, `${repo}/flip`, faults);
      const flipped = Buffer.from(bad);
      flipped[1234] = flipped[1234]! ^ 0x01;
      src.seedBlob(repo, flipped, badDigest as `sha256:${string}`);
      return { reference: 'v1', badBlobs: [badDigest], badManifests: [img.digest], message: new RegExp(`${badDigest}.*does not match|does not match ${badDigest}`) };
    },
  },
  {
    name: 'a truncated blob (short body, cleanly ended)',
    code: 'DIGEST_MISMATCH',
    plant(src, repo, faults) {
      const { img, bad, badDigest } = imageWithBadLayer(src, repo, `${repo}/short`, faults);
      src.seedBlob(repo, bad.subarray(0, bad.length - 1000), badDigest as `sha256:${string}`);
      return { reference: 'v1', badBlobs: [badDigest], badManifests: [img.digest], message: new RegExp(`received ${bad.length - 1000} bytes, expected ${bad.length}`) };
    },
  },
  {
    name: 'a blob longer than its descriptor says',
    code: 'DIGEST_MISMATCH',
    plant(src, repo, faults) {
      const { img, bad, badDigest } = imageWithBadLayer(src, repo, `${repo}/long`, faults);
      src.seedBlob(repo, Buffer.concat([bad, Buffer.from('trailing garbage')]), badDigest as `sha256:${string}`);
      return { reference: 'v1', badBlobs: [badDigest], badManifests: [img.digest] };
    },
  },
  {
    name: 'a truncated blob (connection closed early)',
    code: 'NETWORK',
    plant(src, repo, faults) {
      const { img, badDigest } = imageWithBadLayer(src, repo, `${repo}/cut`, faults);
      faults.set(`${repo}|${badDigest}`, cutOff);
      // The error names the source blob, not the destination the bytes were going to.
      return { reference: 'v1', badBlobs: [badDigest], badManifests: [img.digest], message: new RegExp(`${src.host}/${repo}@${badDigest}`) };
    },
  },
  {
    name: 'a manifest whose bytes do not match the requested digest',
    code: 'DIGEST_MISMATCH',
    plant(src, repo) {
      const real = buildImage(`${repo}/real`);
      const other = buildImage(`${repo}/other`);
      for (const b of [...real.blobs, ...other.blobs]) src.seedBlob(repo, b.bytes);
      // Stored (and announced in Docker-Content-Digest) under real's digest, but other's bytes.
      src.seedManifest(repo, other.bytes, OCI_MANIFEST, undefined, real.digest);
      return { reference: real.digest, badBlobs: [], badManifests: [real.digest, other.digest], message: new RegExp(`manifest digest ${other.digest} does not match ${real.digest}`) };
    },
  },
  {
    name: 'a tag whose Docker-Content-Digest does not match the bytes',
    code: 'DIGEST_MISMATCH',
    plant(src, repo) {
      const real = buildImage(`${repo}/real`);
      const other = buildImage(`${repo}/other`);
      for (const b of [...real.blobs, ...other.blobs]) src.seedBlob(repo, b.bytes);
      src.seedManifest(repo, other.bytes, OCI_MANIFEST, 'v1', real.digest);
      return { reference: 'v1', badBlobs: [], badManifests: [real.digest, other.digest] };
    },
  },
  {
    name: 'an index whose platform manifest does not match its descriptor',
    code: 'DIGEST_MISMATCH',
    plant(src, repo) {
      const amd = buildImage(`${repo}/amd64`, { platform: { os: 'linux', architecture: 'amd64' } });
      const arm = buildImage(`${repo}/arm64`, { platform: { os: 'linux', architecture: 'arm64' } });
      const evil = buildImage(`${repo}/evil`);
      const idx = buildIndex([amd, arm]);
      for (const b of [...amd.blobs, ...arm.blobs, ...evil.blobs]) src.seedBlob(repo, b.bytes);
      src.seedManifest(repo, amd.bytes, amd.mediaType);
      src.seedManifest(repo, evil.bytes, OCI_MANIFEST, undefined, arm.digest);
      src.seedManifest(repo, idx.bytes, idx.mediaType, 'v1');
      return { reference: 'v1', badBlobs: [], badManifests: [idx.digest, arm.digest, evil.digest] };
    },
  },
  {
    name: 'a manifest over 4 MiB (announced by Content-Length)',
    code: 'MANIFEST_TOO_LARGE',
    plant(src, repo) {
      const big = hugeManifest(src, repo);
      src.seedManifest(repo, big.bytes, OCI_MANIFEST, 'v1');
      return { reference: 'v1', badBlobs: [], badManifests: [big.digest] };
    },
  },
  {
    name: 'a manifest over 4 MiB (streamed without Content-Length)',
    code: 'MANIFEST_TOO_LARGE',
    plant(src, repo) {
      const big = hugeManifest(src, repo);
      const prev = src.hook;
      src.hook = (req, res, url) => {
        if (url.pathname === `/v2/${repo}/manifests/v1`) {
          res.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': big.digest });
          for (let o = 0; o < big.bytes.length; o += 256 * 1024) res.write(big.bytes.subarray(o, o + 256 * 1024));
          res.end();
          return true;
        }
        return prev ? prev(req, res, url) : false;
      };
      return { reference: 'v1', badBlobs: [], badManifests: [big.digest] };
    },
  },
  {
    name: 'an unknown manifest media type',
    code: 'UNSUPPORTED_MEDIA_TYPE',
    plant(src, repo) {
      const img = buildImage(`${repo}/odd`);
      for (const b of img.blobs) src.seedBlob(repo, b.bytes);
      const json = JSON.parse(img.bytes.toString()) as Record<string, unknown>;
      json.mediaType = 'application/vnd.example.thing.v1+json';
      const bytes = Buffer.from(JSON.stringify(json));
      const digest = src.seedManifest(repo, bytes, 'application/vnd.example.thing.v1+json', 'v1');
      return { reference: 'v1', badBlobs: [], badManifests: [digest], message: /application\/vnd\.example\.thing\.v1\+json/ };
    },
  },
  {
    name: 'a Docker schema 1 manifest',
    code: 'UNSUPPORTED_MEDIA_TYPE',
    plant(src, repo) {
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 1, name: repo, tag: 'v1', architecture: 'amd64', fsLayers: [], history: [] }));
      const digest = src.seedManifest(repo, bytes, 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'v1');
      return { reference: 'v1', badBlobs: [], badManifests: [digest] };
    },
  },
];

/** A syntactically valid image manifest of about 4.5 MiB (a huge annotation). */
function hugeManifest(src: OciServer, repo: string): { bytes: Buffer; digest: string } {
  const img = buildImage(`${repo}/huge`);
  for (const b of img.blobs) src.seedBlob(repo, b.bytes);
  const json = JSON.parse(img.bytes.toString()) as Record<string, unknown>;
  json.annotations = { padding: pseudoRandom('pad', 3_500_000).toString('base64') };
  const bytes = Buffer.from(JSON.stringify(json));
  expect(bytes.length).toBeGreaterThan(4 * 1024 * 1024);
  return { bytes, digest: sha256(bytes) };
}

/** Every file under `dir`, relative. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

describe('content integrity: bad source content never reaches the destination', () => {
  let src: OciServer;
  let dst: TestRegistry;
  let regs: Registries;
  const faults = new Map<string, BlobFault>();
  const good = buildImage('good image', { layers: 2 });
  const planted = new Map<string, Planted>();
  const layouts: string[] = [];

  beforeAll(async () => {
    [src, dst] = await Promise.all([startOciServer(), startRegistry()]);
    regs = registriesFor([dst]);
    src.hook = (req, res, url) => {
      const m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
      const fault = m && req.method === 'GET' ? faults.get(`${m[1]}|${m[2]}`) : undefined;
      if (!fault) return false;
      fault(req, res, src.blobBytes(m![1]!, m![2]!) ?? Buffer.alloc(0));
      return true;
    };
    for (const b of good.blobs) src.seedBlob('good/app', b.bytes);
    src.seedManifest('good/app', good.bytes, good.mediaType, 'v1');
    cases.forEach((c, i) => planted.set(c.name, c.plant(src, `bad/case${i}`, faults)));
  });
  afterAll(async () => {
    await regs?.close();
    await Promise.all([src?.close(), dst?.stop(), ...layouts.map((d) => rm(d, { recursive: true, force: true }))]);
  });

  const uploads: Array<[string, Omit<UploadOptions, 'mountFrom'>]> = [
    ['monolithic PUT', {}],
    ['streamed PATCH', { monolithicMax: 1 }],
    ['chunked PATCH', { chunkSize: 64 * 1024 }],
  ];

  const expectFailed = (r: ImageResult | undefined, c: Case, p: Planted) => {
    expect(r?.status, JSON.stringify(r)).toBe('failed');
    expect(r!.error?.code, r!.error?.message).toBe(c.code);
    if (p.message) expect(r!.error!.message).toMatch(p.message);
  };

  describe.each(uploads)('to a real docker-registry (%s)', (mode, upload) => {
    it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
      const p = planted.get(c.name)!;
      const repo = `bad/case${i}`;
      const destRepo = `${mode.toLowerCase().replace(/\W+/g, '-')}/case${i}`;
      const ref = p.reference.startsWith('sha256:') ? `@${p.reference}` : `:${p.reference}`;
      const [bad, ok] = await runTransfers(
        [
          { source: parseLocation(`${src.host}/${repo}${ref}`), destination: parseLocation(`${dst.host}/${destRepo}:v1`) },
          { source: parseLocation(`${src.host}/good/app:v1`), destination: parseLocation(`${dst.host}/${destRepo}-good:v1`) },
        ],
        { registries: regs, upload },
      );
      expectFailed(bad, c, p);
      expect(ok!.status).toBe('copied');
      for (const d of p.badBlobs) expect((await headRaw(dst.url, destRepo, 'blobs', d)).status, `blob ${d}`).toBe(404);
      for (const d of p.badManifests) expect((await headRaw(dst.url, destRepo, 'manifests', d)).status, `manifest ${d}`).toBe(404);
      expect((await headRaw(dst.url, destRepo, 'manifests', 'v1')).status).toBe(404);
      expect(await listTagsRaw(dst.url, destRepo)).toEqual([]);
      expect((await headRaw(dst.url, `${destRepo}-good`, 'manifests', 'v1')).digest).toBe(good.digest);
    });
  });

  describe('to an OCI layout', () => {
    it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
      const p = planted.get(c.name)!;
      const dir = makeTempDir('layout');
      layouts.push(dir);
      const ref = p.reference.startsWith('sha256:') ? `@${p.reference}` : `:${p.reference}`;
      const [bad, ok] = await runTransfers(
        [
          { source: parseLocation(`${src.host}/bad/case${i}${ref}`), destination: parseLocation(`oci:${dir}:bad`) },
          { source: parseLocation(`${src.host}/good/app:v1`), destination: parseLocation(`oci:${dir}:good`) },
        ],
        { registries: regs },
      );
      expectFailed(bad, c, p);
      expect(ok!.status).toBe('copied');
      const files = filesUnder(dir);
      expect(files.filter((f) => /\.tmp/.test(f)), 'temp files left behind').toEqual([]);
      for (const d of [...p.badBlobs, ...p.badManifests]) expect(files).not.toContain(path.join('blobs', 'sha256', hex(d)));
      const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
      expect(index.manifests.map((m) => [m.annotations?.['org.opencontainers.image.ref.name'], m.digest])).toEqual([['good', good.digest]]);
    });
  });
});

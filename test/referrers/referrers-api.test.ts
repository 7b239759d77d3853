import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fallbackTag, parseLocation, runTransfers, type Digest, type Registries } from '@airlock/oci';
import { registriesFor } from '../helpers/lib.js';
import { rawRequest } from '../helpers/net.js';
import {
  buildArtifact,
  buildCosignAttachment,
  buildImage,
  getManifestRaw,
  headRaw,
  hex,
  listTagsRaw,
  OCI_INDEX,
  pushRaw,
  startOciServer,
  type BuiltManifest,
  type Descriptor,
  type OciServer,
} from '../helpers/oci-server.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * OCI 1.1 referrers across registries with and without the referrers API: the in-memory server
 * (test/helpers/oci-server.ts) has it, docker-registry 2.8 does not (fallback tag `sha256-<hex>`).
 * The tests of a describe block build on each other and run in order.
 */

const SBOM = 'application/spdx+json';
const SIG = 'application/vnd.cncf.notary.signature';
const TIMESTAMP = 'application/vnd.example.timestamp.v1';
const VEX = 'application/vnd.openvex+json';

/** The entries of an index manifest (the fallback tag's content). */
async function fallbackEntries(baseUrl: string, repo: string, subject: string): Promise<{ digest: string; entries: Descriptor[] } | undefined> {
  const m = await getManifestRaw(baseUrl, repo, fallbackTag(subject as Digest));
  if (!m) return undefined;
  const json = JSON.parse(m.bytes.toString('utf8')) as { mediaType?: string; manifests: Descriptor[] };
  expect(json.mediaType).toBe(OCI_INDEX);
  return { digest: m.digest, entries: json.manifests };
}

const byDigest = (a: Descriptor, b: Descriptor) => a.digest.localeCompare(b.digest);
const sorted = (ds: Descriptor[]) => [...ds].sort(byDigest);

describe('OCI 1.1 referrers', () => {
  let src: OciServer;
  let withApi: OciServer;
  let back: OciServer;
  let reg: TestRegistry;
  let regs: Registries;

  const image = buildImage('referred-to image', { layers: 2 });
  const sbom = buildArtifact(image.desc, SBOM, '{"spdxVersion":"SPDX-2.3"}', { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' });
  const sig = buildArtifact(image.desc, SIG, 'signature bytes', { 'io.cncf.notary.x509chain.thumbprint#S256': '["abc"]' });
  // A referrer of a referrer: a timestamp countersignature on the signature.
  const stamp = buildArtifact(sig.desc, TIMESTAMP, 'rfc3161 token');
  const later = buildArtifact(image.desc, VEX, '{"statements":[]}');

  /** What a referrers API lists for `m` (artifactType and annotations from the manifest). */
  const listed = (m: BuiltManifest): Descriptor => {
    const j = JSON.parse(m.bytes.toString()) as { artifactType: string; annotations?: Record<string, string> };
    return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, artifactType: j.artifactType, ...(j.annotations ? { annotations: j.annotations } : {}) };
  };

  beforeAll(async () => {
    [src, withApi, back, reg] = await Promise.all([startOciServer(), startOciServer(), startOciServer(), startRegistry()]);
    regs = registriesFor([reg]);
    await pushRaw(src.url, 'app', image, 'v1');
    for (const m of [sbom, sig, stamp]) await pushRaw(src.url, 'app', m);
  });
  afterAll(async () => {
    await regs?.close();
    await Promise.all([src?.close(), withApi?.close(), back?.close(), reg?.stop()]);
  });

  describe('the in-memory server follows the distribution spec', () => {
    it('answers OCI-Subject to a manifest PUT with a subject, and lists it with artifactType', async () => {
      const res = await rawRequest(`${src.url}/v2/app/manifests/${sbom.digest}`, { method: 'PUT', headers: { 'content-type': sbom.mediaType }, body: sbom.bytes });
      expect(res.status).toBe(201);
      expect(res.headers['oci-subject']).toBe(image.digest);
      expect(res.headers['docker-content-digest']).toBe(sbom.digest);
      const client = regs.client(src.host);
      const list = await client.referrers('app', image.digest as Digest);
      expect(sorted(list!)).toEqual(sorted([listed(sbom), listed(sig)]));
      expect(await client.referrers('app', sig.digest as Digest)).toEqual([listed(stamp)]);
    });

    it('filters by artifactType and says so; an unknown subject has an empty list, not a 404', async () => {
      const res = await rawRequest(`${src.url}/v2/app/referrers/${image.digest}?artifactType=${encodeURIComponent(SBOM)}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(OCI_INDEX);
      expect(res.headers['oci-filters-applied']).toBe('artifactType');
      expect(JSON.parse(res.body.toString()).manifests).toEqual([listed(sbom)]);
      const none = await rawRequest(`${src.url}/v2/app/referrers/sha256:${'0'.repeat(64)}`);
      expect(none.status).toBe(200);
      expect(JSON.parse(none.body.toString())).toEqual({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
    });

    it('refuses a manifest whose blobs are missing, and a digest reference that does not match', async () => {
      const orphan = buildImage('orphan');
      const missing = await rawRequest(`${src.url}/v2/app/manifests/orphan`, { method: 'PUT', headers: { 'content-type': orphan.mediaType }, body: orphan.bytes });
      expect(missing.status).toBe(400);
      expect(missing.body.toString()).toContain('MANIFEST_BLOB_UNKNOWN');
      const wrong = await rawRequest(`${src.url}/v2/app/manifests/${image.digest}`, { method: 'PUT', headers: { 'content-type': sbom.mediaType }, body: sbom.bytes });
      expect(wrong.status).toBe(400);
      expect((await headRaw(src.url, 'app', 'manifests', image.digest)).digest).toBe(image.digest);
    });

    it('pages tags/list with n and last', async () => {
      const client = regs.client(src.host);
      for (const t of ['a', 'b', 'c']) await pushRaw(src.url, 'paged', image, t);
      const page = await rawRequest(`${src.url}/v2/paged/tags/list?n=2`);
      expect(JSON.parse(page.body.toString()).tags).toEqual(['a', 'b']);
      expect(page.headers.link).toBe('</v2/paged/tags/list?n=2&last=b>; rel="next"');
      expect(await client.listTags('paged')).toEqual(['a', 'b', 'c']);
    });

    it('without the API (like docker-registry 2.8) the endpoint is a 404 and PUT has no OCI-Subject', async () => {
      const plain = await startOciServer({ referrersApi: false });
      try {
        await pushRaw(plain.url, 'app', image, 'v1');
        for (const blob of sbom.blobs) plain.seedBlob('app', blob.bytes);
        const ok = await rawRequest(`${plain.url}/v2/app/manifests/${sbom.digest}`, { method: 'PUT', headers: { 'content-type': sbom.mediaType }, body: sbom.bytes });
        expect(ok.status).toBe(201);
        expect(ok.headers['oci-subject']).toBeUndefined();
        expect((await rawRequest(`${plain.url}/v2/app/referrers/${image.digest}`)).status).toBe(404);
        expect(await regs.client(plain.host).referrers('app', image.digest as Digest)).toBeUndefined();
      } finally {
        await plain.close();
      }
    });
  });

  describe('to a real docker-registry 2.8 (no referrers API): the fallback tag', () => {
    const job = () => [{ source: parseLocation(`${src.host}/app:v1`), destination: parseLocation(`${reg.host}/mirror/app:v1`) }];
    let firstIndexDigest: string;

    it('copies the referrers by digest and lists them, with artifactType, under sha256-<hex>', async () => {
      const [r] = await runTransfers(job(), { registries: regs });
      expect(r!.error).toBeUndefined();
      expect(r!.status).toBe('copied');
      expect(r!.referrers).toBe(3);
      for (const m of [sbom, sig, stamp]) expect((await headRaw(reg.url, 'mirror/app', 'manifests', m.digest)).digest).toBe(m.digest);
      const fb = await fallbackEntries(reg.url, 'mirror/app', image.digest);
      expect(fb).toBeDefined();
      expect(sorted(fb!.entries)).toEqual(sorted([listed(sbom), listed(sig)]));
      firstIndexDigest = fb!.digest;
      // The referrer of the referrer has its own fallback tag.
      expect((await fallbackEntries(reg.url, 'mirror/app', sig.digest))!.entries).toEqual([listed(stamp)]);
      expect(await listTagsRaw(reg.url, 'mirror/app')).toEqual([fallbackTag(image.digest as Digest), fallbackTag(sig.digest as Digest), 'v1'].sort());
    });

    it('copying again changes nothing and duplicates nothing', async () => {
      const [r] = await runTransfers(job(), { registries: regs });
      expect(r!.status).toBe('skipped');
      expect(r!.manifests).toBe(0);
      expect(r!.blobs.copied).toBe(0);
      const fb = await fallbackEntries(reg.url, 'mirror/app', image.digest);
      expect(fb!.digest).toBe(firstIndexDigest);
      expect(fb!.entries).toHaveLength(2);
      expect((await fallbackEntries(reg.url, 'mirror/app', sig.digest))!.entries).toHaveLength(1);
    });

    it('merges a referrer added later into the existing index, keeping what was there', async () => {
      // Meanwhile at the destination, someone attached a note of their own (as oras would).
      const local = buildArtifact(image.desc, 'application/vnd.example.local-note', 'added at the destination');
      await pushRaw(reg.url, 'mirror/app', local);
      const before = await fallbackEntries(reg.url, 'mirror/app', image.digest);
      const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...before!.entries, listed(local)] }));
      const put = await rawRequest(`${reg.url}/v2/mirror/app/manifests/${fallbackTag(image.digest as Digest)}`, { method: 'PUT', headers: { 'content-type': OCI_INDEX }, body: idx });
      expect(put.status).toBe(201);
      // And at the source, a new referrer appeared.
      await pushRaw(src.url, 'app', later);

      const [r] = await runTransfers(job(), { registries: regs });
      expect(r!.error).toBeUndefined();
      expect((await headRaw(reg.url, 'mirror/app', 'manifests', later.digest)).digest).toBe(later.digest);
      const fb = await fallbackEntries(reg.url, 'mirror/app', image.digest);
      expect(sorted(fb!.entries)).toEqual(sorted([listed(sbom), listed(sig), listed(local), listed(later)]));
      // Old entries first, unchanged, in their order; the new one appended.
      expect(fb!.entries.slice(0, 3)).toEqual(before!.entries.concat(listed(local)));
    });
  });

  describe('to a registry with the referrers API', () => {
    const job = () => [{ source: parseLocation(`${src.host}/app:v1`), destination: parseLocation(`${withApi.host}/mirror/app:v1`) }];

    it('lets the destination index them itself: no fallback tag', async () => {
      const [r] = await runTransfers(job(), { registries: regs });
      expect(r!.error).toBeUndefined();
      expect(r!.status).toBe('copied');
      expect(sorted(withApi.referrers('mirror/app', image.digest))).toEqual(sorted([listed(sbom), listed(sig), listed(later)]));
      expect(withApi.referrers('mirror/app', sig.digest)).toEqual([listed(stamp)]);
      const list = await regs.client(withApi.host).referrers('mirror/app', image.digest as Digest);
      expect(list).toHaveLength(3);
      expect(withApi.tags('mirror/app')).toEqual(['v1']);
    });

    it('copying again still creates no fallback tag', async () => {
      const [r] = await runTransfers(job(), { registries: regs });
      expect(r!.status).toBe('skipped');
      expect(withApi.tags('mirror/app')).toEqual(['v1']);
      const puts = withApi.requests.filter((q) => q.method === 'PUT' && q.url.includes('/manifests/sha256-'));
      expect(puts).toEqual([]);
    });
  });

  describe('from the real registry (fallback tag) to a registry with the API', () => {
    it('finds the referrers through the fallback tags and lets the destination index them', async () => {
      const [r] = await runTransfers([{ source: parseLocation(`${reg.host}/mirror/app:v1`), destination: parseLocation(`${back.host}/back/app:v1`) }], { registries: regs });
      expect(r!.error).toBeUndefined();
      expect(r!.status).toBe('copied');
      const local = (await fallbackEntries(reg.url, 'mirror/app', image.digest))!.entries.find((d) => d.artifactType === 'application/vnd.example.local-note')!;
      expect(sorted(back.referrers('back/app', image.digest))).toEqual(sorted([listed(sbom), listed(sig), listed(later), local]));
      expect(back.referrers('back/app', sig.digest)).toEqual([listed(stamp)]);
      for (const m of [sbom, sig, stamp, later]) expect(back.manifest('back/app', m.digest)?.bytes.equals(m.bytes)).toBe(true);
      expect(back.tags('back/app')).toEqual(['v1']);
    });
  });
});

describe('cosign tag attachments between real registries', () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let regs: Registries;
  const image = buildImage('signed image', { layers: 1 });
  const sig = buildCosignAttachment(image.digest, 'sig', 'one');
  const att = buildCosignAttachment(image.digest, 'att', 'two');
  // cosign signs its signatures too: a .sig on the .sig.
  const sigOfSig = buildCosignAttachment(sig.digest, 'sig', 'three');
  const tagOf = (subject: string, kind: string) => `sha256-${hex(subject)}.${kind}`;

  beforeAll(async () => {
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    regs = registriesFor([a, b]);
    await pushRaw(a.url, 'team/app', image, 'v1');
    await pushRaw(a.url, 'team/app', sig, tagOf(image.digest, 'sig'));
    await pushRaw(a.url, 'team/app', att, tagOf(image.digest, 'att'));
    await pushRaw(a.url, 'team/app', sigOfSig, tagOf(sig.digest, 'sig'));
  });
  afterAll(async () => {
    await regs?.close();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('copies .sig and .att tags byte-identical, recursively', async () => {
    const [r] = await runTransfers([{ source: parseLocation(`${a.host}/team/app:v1`), destination: parseLocation(`${b.host}/mirror/app:v1`) }], { registries: regs });
    expect(r!.error).toBeUndefined();
    expect(r!.status).toBe('copied');
    expect(r!.referrers).toBe(3);
    for (const [tag, m] of [
      [tagOf(image.digest, 'sig'), sig],
      [tagOf(image.digest, 'att'), att],
      [tagOf(sig.digest, 'sig'), sigOfSig],
    ] as const) {
      const src = await getManifestRaw(a.url, 'team/app', tag);
      const dst = await getManifestRaw(b.url, 'mirror/app', tag);
      expect(dst?.digest, tag).toBe(m.digest);
      expect(dst!.bytes.equals(src!.bytes)).toBe(true);
      // And its blobs (config, signature payload) came along.
      for (const blob of m.blobs) expect((await headRaw(b.url, 'mirror/app', 'blobs', blob.desc.digest)).status).toBe(200);
    }
    expect(await listTagsRaw(b.url, 'mirror/app')).toEqual(['v1', tagOf(image.digest, 'sig'), tagOf(image.digest, 'att'), tagOf(sig.digest, 'sig')].sort());
  });

  it('referrers: false (--no-referrers) copies the image and none of them', async () => {
    const [r] = await runTransfers([{ source: parseLocation(`${a.host}/team/app:v1`), destination: parseLocation(`${b.host}/bare/app:v1`) }], { registries: regs, referrers: false });
    expect(r!.status).toBe('copied');
    expect(r!.referrers).toBe(0);
    expect(await listTagsRaw(b.url, 'bare/app')).toEqual(['v1']);
    for (const m of [sig, att, sigOfSig]) expect((await headRaw(b.url, 'bare/app', 'manifests', m.digest)).status).toBe(404);
  });
});

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { z } from 'zod';
import { type Digest, digestOf, isDigest, verifiedStream, verifyBytes } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import { cleanArchivePath, type TarEntry, TarIndex } from '../archive/tar-index.js';
import { MAX_MANIFEST_BYTES, MediaType } from '../manifest/mediatypes.js';
import { type Manifest, parseManifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import { formatReference, parseReference } from '../ref/reference.js';
import type { ContentSource } from './types.js';

/**
 * A `docker save` archive as a source (what go-containerregistry's `tarball.Image` reads):
 * `manifest.json` lists each image's config, RepoTags and layer files. The tar is indexed once and
 * every file is streamed from it by offset.
 *
 * - Archives with only `manifest.json` (docker < 25, skopeo, crane): the image manifest is
 *   synthesized (Docker v2 schema 2), so its digest is computed, not the original's. Uncompressed
 *   layers stay uncompressed (`…rootfs.diff.tar`, digest = the config's diff_id, checked as they
 *   stream); gzip layers are hashed once up front, compressed and uncompressed together, and must
 *   match the diff_id before the manifest is handed out.
 * - Archives that are also an OCI layout (docker >= 25 writes `index.json` + `blobs/`): the image
 *   manifest stored there is used as is, so its digest is preserved.
 */

export const DockerArchiveMediaType = {
  Config: 'application/vnd.docker.container.image.v1+json',
  Layer: 'application/vnd.docker.image.rootfs.diff.tar',
  LayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** An image config is small; refuse anything absurd before reading it into memory. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
const MAX_INDEX_JSON_BYTES = 16 * 1024 * 1024;

const manifestJsonSchema = z
  .array(
    z.object({
      Config: z.string().min(1),
      RepoTags: z.array(z.string()).nullable().optional(),
      Layers: z.array(z.string().min(1)),
    }),
  )
  .min(1);
type ArchiveImage = z.infer<typeof manifestJsonSchema>[number];

const configSchema = z.object({
  rootfs: z.object({ type: z.string(), diff_ids: z.array(z.string()) }),
  architecture: z.string().optional(),
  os: z.string().optional(),
});

const ociIndexSchema = z.object({
  manifests: z.array(z.object({ mediaType: z.string(), digest: z.string(), size: z.number().int().nonnegative() })),
});

function archiveError(file: string, msg: string, hint?: string): AirlockError {
  return new AirlockError('BAD_INPUT', `docker-archive:${file}: ${msg}`, {
    hint: hint ?? 'the archive is not one docker save, skopeo or Airlock wrote, or it is damaged; nothing was copied from it',
  });
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A RepoTags entry in canonical form (`nginx:1` → `docker.io/library/nginx:1`), or undefined. */
function canonicalTag(tag: string): string | undefined {
  try {
    const r = parseReference(tag);
    return r.digest ? undefined : formatReference(r);
  } catch {
    return undefined;
  }
}

interface BlobSource {
  entry: TarEntry;
}

export class DockerArchiveSource implements ContentSource {
  readonly name: string;
  readonly #images: ArchiveImage[];
  /** What each digest this source hands out is read from. */
  readonly #blobs = new Map<Digest, BlobSource>();
  readonly #manifests = new Map<Digest, Manifest>();
  readonly #synthesized = new Set<Digest>();
  readonly #selected = new Map<number, Promise<Manifest>>();
  readonly #gzipLayers = new Map<string, Promise<{ digest: Digest; diffId: Digest }>>();

  private constructor(
    readonly file: string,
    readonly tar: TarIndex,
    images: ArchiveImage[],
    /** Whether the archive is also an OCI layout (docker >= 25). */
    readonly ociForm: boolean,
  ) {
    this.name = `docker-archive:${file}`;
    this.#images = images;
  }

  static async open(file: string): Promise<DockerArchiveSource> {
    const tar = await TarIndex.open(file);
    const mj = tar.find('manifest.json');
    if (!mj) {
      throw archiveError(file, 'no manifest.json', 'this is not a docker save archive (an OCI archive? use oci:DIR after extracting it)');
    }
    const doc = manifestJsonSchema.safeParse(parseJson(await tar.read(mj, MAX_MANIFEST_BYTES, 'manifest.json')));
    if (!doc.success) {
      const i = doc.error.issues[0];
      throw archiveError(file, `manifest.json is malformed${i?.path.length ? ` at ${i.path.join('.')}` : ''}: ${i?.message ?? 'invalid'}`);
    }
    for (const img of doc.data) {
      for (const p of [img.Config, ...img.Layers]) {
        if (cleanArchivePath(p) === undefined) throw archiveError(file, `manifest.json names an unsafe path "${p}"`, 'refusing an archive that points outside itself');
      }
    }
    return new DockerArchiveSource(file, tar, doc.data, tar.has('index.json') && tar.has('oci-layout'));
  }

  /** The images the archive holds, for messages: `@0 nginx:1.27, @1 (untagged)`. */
  describeImages(): string {
    return this.#images.map((img, i) => `@${i} ${img.RepoTags?.length ? img.RepoTags.join(' ') : '(untagged)'}`).join(', ');
  }

  /** Which image a reference selects: '' (the only one), `@N`, or a name from RepoTags. */
  #select(reference: string): number {
    const n = this.#images.length;
    if (reference === '') {
      if (n === 1) return 0;
      throw new AirlockError('USAGE', `${this.name} holds ${n} images; name one`, {
        hint: `write ${this.name}:NAME:TAG or ${this.name}:@N (${this.describeImages()})`,
      });
    }
    if (reference.startsWith('@')) {
      const i = Number(reference.slice(1));
      if (Number.isInteger(i) && i >= 0 && i < n) return i;
      throw new AirlockError('NOT_FOUND', `${this.name} has no image ${reference} (it holds ${n})`, { hint: `images: ${this.describeImages()}` });
    }
    const want = canonicalTag(reference);
    const i = this.#images.findIndex((img) => (img.RepoTags ?? []).some((t) => canonicalTag(t) === want));
    if (i >= 0) return i;
    throw new AirlockError('NOT_FOUND', `${this.name} has no image ${reference}`, { hint: `images: ${this.describeImages()}` });
  }

  /** Whether this digest names a manifest made here rather than read from the archive. */
  isSynthesized(digest: Digest): boolean {
    return this.#synthesized.has(digest);
  }

  async getManifest(reference: string): Promise<Manifest> {
    if (isDigest(reference)) {
      const known = this.#manifests.get(reference);
      if (known) return known;
      if (this.ociForm) {
        const m = await this.#readOciManifest({ mediaType: '', digest: reference, size: -1 });
        if (m) return m;
      }
      throw new AirlockError('NOT_FOUND', `${this.name}@${reference}: no such manifest in the archive`, { hint: `images: ${this.describeImages()}` });
    }
    const i = this.#select(reference);
    let p = this.#selected.get(i);
    if (!p) {
      p = this.#manifestFor(this.#images[i]!, i);
      this.#selected.set(i, p);
      // A failure is not cached: a later call reports it again rather than a stale promise.
      p.catch(() => this.#selected.delete(i));
    }
    return p;
  }

  async #manifestFor(img: ArchiveImage, i: number): Promise<Manifest> {
    const what = `${this.name} image @${i}`;
    const configEntry = this.tar.get(img.Config, `the config ${img.Config} of ${what}`);
    const configBytes = await this.tar.read(configEntry, MAX_CONFIG_BYTES, `the config of ${what}`);
    const configDigest = digestOf(configBytes);
    const config = configSchema.safeParse(parseJson(configBytes));
    if (!config.success) throw archiveError(this.file, `the config ${img.Config} of ${what} is not an image config`);
    const diffIds = config.data.rootfs.diff_ids;
    if (diffIds.length !== img.Layers.length || !diffIds.every(isDigest)) {
      throw archiveError(this.file, `${what} lists ${img.Layers.length} layers but its config has ${diffIds.length} diff_ids`);
    }
    // docker >= 25: the manifest docker stored is in the archive; keep it (and its digest).
    if (this.ociForm) {
      const stored = await this.#findStoredManifest(configDigest);
      if (stored) return stored;
    }
    this.#blobs.set(configDigest, { entry: configEntry });
    const layers: Descriptor[] = [];
    for (let l = 0; l < img.Layers.length; l++) {
      const path = img.Layers[l]!;
      const entry = this.tar.get(path, `layer ${path} of ${what}`);
      const diffId = diffIds[l] as Digest;
      const head = await this.tar.head(entry, 4);
      if (head[0] === 0x1f && head[1] === 0x8b) {
        let p = this.#gzipLayers.get(entry.name);
        if (!p) {
          p = this.#hashGzipLayer(entry, path);
          this.#gzipLayers.set(entry.name, p);
        }
        const h = await p;
        if (h.diffId !== diffId) {
          throw new AirlockError('DIGEST_MISMATCH', `${this.name}: layer ${path} of ${what} uncompresses to ${h.diffId}, not the ${diffId} its config names`, {
            hint: 'the archive is damaged or was tampered with; nothing was copied from it',
          });
        }
        layers.push({ mediaType: DockerArchiveMediaType.LayerGzip, size: entry.size, digest: h.digest });
        this.#blobs.set(h.digest, { entry });
      } else if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
        throw new AirlockError('UNSUPPORTED_MEDIA_TYPE', `${this.name}: layer ${path} of ${what} is zstd-compressed`, {
          hint: 'Airlock checks every layer against the config’s diff_ids and cannot uncompress zstd; save the image with uncompressed or gzip layers',
        });
      } else {
        // Uncompressed: its digest is the diff_id, checked as it streams.
        layers.push({ mediaType: DockerArchiveMediaType.Layer, size: entry.size, digest: diffId });
        this.#blobs.set(diffId, { entry });
      }
    }
    // The field order go-containerregistry and docker write.
    const doc = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: { mediaType: DockerArchiveMediaType.Config, size: configBytes.length, digest: configDigest },
      layers: layers.map((d) => ({ mediaType: d.mediaType, size: d.size, digest: d.digest })),
    };
    const m = parseManifest(Buffer.from(JSON.stringify(doc)), MediaType.DockerManifest, `${what} (synthesized manifest)`);
    this.#manifests.set(m.digest, m);
    this.#synthesized.add(m.digest);
    return m;
  }

  /** One pass over a gzip layer: its own digest and its uncompressed digest (the diff_id). */
  async #hashGzipLayer(entry: TarEntry, path: string): Promise<{ digest: Digest; diffId: Digest }> {
    const outer = createHash('sha256');
    const inner = createHash('sha256');
    const src = this.tar.stream(entry);
    const gunzip = createGunzip();
    src.on('data', (c: Buffer) => outer.update(c));
    gunzip.on('data', (c: Buffer) => inner.update(c));
    try {
      await new Promise<void>((resolve, reject) => {
        src.on('error', reject);
        gunzip.on('error', reject);
        gunzip.on('end', resolve);
        src.pipe(gunzip);
      });
    } catch (e) {
      throw archiveError(this.file, `layer ${path} is not valid gzip: ${(e as Error).message}`);
    }
    return { digest: `sha256:${outer.digest('hex')}`, diffId: `sha256:${inner.digest('hex')}` };
  }

  /** In an archive that is also an OCI layout: the image manifest whose config is `config`. */
  async #findStoredManifest(config: Digest): Promise<Manifest | undefined> {
    const entry = this.tar.find('index.json');
    if (!entry) return undefined;
    const idx = ociIndexSchema.safeParse(parseJson(await this.tar.read(entry, MAX_INDEX_JSON_BYTES, 'index.json')));
    if (!idx.success) throw archiveError(this.file, 'index.json is malformed');
    const queue: Descriptor[] = idx.data.manifests.filter((d) => isDigest(d.digest)) as Descriptor[];
    // Breadth-first through nested indexes, bounded.
    for (let seen = 0; queue.length && seen < 1000; seen++) {
      const d = queue.shift()!;
      const m = await this.#readOciManifest(d);
      if (!m) continue; // a platform whose blobs were not saved
      if (m.kind === 'index') queue.push(...m.index.manifests);
      else if (m.image.config.digest === config) return m;
    }
    return undefined;
  }

  /** A manifest stored under blobs/ of an OCI-form archive, verified; undefined when absent. */
  async #readOciManifest(d: Descriptor): Promise<Manifest | undefined> {
    const known = this.#manifests.get(d.digest);
    if (known) return known;
    const entry = this.tar.find(`blobs/sha256/${d.digest.slice('sha256:'.length)}`);
    if (!entry || !d.digest.startsWith('sha256:')) return undefined;
    const bytes = await this.tar.read(entry, MAX_MANIFEST_BYTES, `manifest ${d.digest}`);
    verifyBytes(bytes, d.digest, `${this.name}@${d.digest}`);
    const m = parseManifest(bytes, d.mediaType || undefined, `${this.name}@${d.digest}`, d.digest);
    this.#manifests.set(m.digest, m);
    if (m.kind === 'image') for (const b of [m.image.config, ...m.image.layers]) this.#noteOciBlob(b.digest);
    return m;
  }

  #noteOciBlob(digest: Digest): void {
    if (this.#blobs.has(digest) || !digest.startsWith('sha256:')) return;
    const entry = this.tar.find(`blobs/sha256/${digest.slice('sha256:'.length)}`);
    if (entry) this.#blobs.set(digest, { entry });
  }

  async openBlob(desc: Descriptor, opts: { onProgress?: (bytes: number) => void } = {}): Promise<Readable> {
    const b = this.#blobs.get(desc.digest);
    if (!b) throw new AirlockError('NOT_FOUND', `${this.name}: blob ${desc.digest} is not in the archive`, { hint: 'read the image’s manifest first; the archive may be incomplete' });
    const what = `${this.name} blob ${desc.digest}`;
    const readError = (e: unknown) => new AirlockError('BAD_INPUT', `${what}: reading failed: ${(e as Error).message}`, { hint: 'the archive could not be read', cause: e });
    return verifiedStream(this.tar.stream(b.entry), desc, what, readError, opts.onProgress);
  }

  /** Names in a docker archive are not tags of one repository, and it holds no signatures. */
  async listTags(): Promise<string[]> {
    return [];
  }

  async referrers(_digest: Digest): Promise<Descriptor[] | undefined> {
    return undefined;
  }
}

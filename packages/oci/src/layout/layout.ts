import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { AirlockError } from '../errors.js';
import { type Digest, hexOf, algorithmOf, isDigest, VerifyingStream, verifiedStream, verifyBytes } from '../digest/digest.js';
import { MAX_MANIFEST_BYTES, MediaType } from '../manifest/mediatypes.js';
import { type Manifest, parseManifest } from '../manifest/parse.js';
import { type Descriptor, descriptorSchema } from '../manifest/schema.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

const layoutFileSchema = z.object({ imageLayoutVersion: z.string() });
const layoutIndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type LayoutIndex = z.infer<typeof layoutIndexSchema>;

function layoutError(dir: string, msg: string, hint?: string): AirlockError {
  return new AirlockError('LAYOUT', `OCI layout ${dir}: ${msg}`, { hint });
}

/**
 * An OCI image layout directory (image-spec `image-layout.md`): `oci-layout`, `index.json` whose
 * entries carry `org.opencontainers.image.ref.name`, and content-addressed `blobs/<alg>/<hex>`.
 * Writes are atomic (temp file + rename, verified before rename); reads refuse to leave the layout.
 */
export class OciLayout {
  #index: LayoutIndex | undefined;
  #indexLoad: Promise<LayoutIndex> | undefined;
  #indexWrite: Promise<void> = Promise.resolve();
  #root: string | undefined;

  constructor(readonly dir: string) {}

  static async openForRead(dir: string): Promise<OciLayout> {
    const l = new OciLayout(dir);
    let text: string;
    try {
      text = await readFile(join(dir, 'oci-layout'), 'utf8');
    } catch {
      throw layoutError(dir, 'not an OCI image layout (no oci-layout file)', 'point oci: at a directory written by skopeo, crane, oras or Airlock');
    }
    const r = layoutFileSchema.safeParse(safeJson(text));
    if (!r.success) throw layoutError(dir, 'oci-layout is malformed');
    await l.index();
    return l;
  }

  static async openForWrite(dir: string): Promise<OciLayout> {
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    const l = new OciLayout(dir);
    try {
      await stat(join(dir, 'oci-layout'));
    } catch {
      await atomicWrite(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    }
    return l;
  }

  /** index.json, read once: concurrent callers share one read (and so one object to update). */
  index(): Promise<LayoutIndex> {
    this.#indexLoad ??= this.#loadIndex();
    return this.#indexLoad;
  }

  async #loadIndex(): Promise<LayoutIndex> {
    if (this.#index) return this.#index;
    let text: string | undefined;
    try {
      text = await readFile(join(this.dir, 'index.json'), 'utf8');
    } catch {
      text = undefined;
    }
    if (text === undefined) {
      this.#index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    } else {
      const r = layoutIndexSchema.safeParse(safeJson(text));
      if (!r.success) throw layoutError(this.dir, `index.json is malformed: ${r.error.issues[0]?.message}`);
      this.#index = r.data;
    }
    return this.#index;
  }

  async tags(): Promise<string[]> {
    const idx = await this.index();
    return idx.manifests.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => !!t);
  }

  /** Find the descriptor for a tag, a digest, or (no reference) the only image in the layout. */
  async resolve(reference: string | undefined): Promise<Descriptor | undefined> {
    const idx = await this.index();
    if (reference === undefined) {
      if (idx.manifests.length === 1) return idx.manifests[0];
      if (idx.manifests.length === 0) return undefined;
      throw layoutError(this.dir, `holds ${idx.manifests.length} images`, `name one: oci:${this.dir}:TAG (tags: ${(await this.tags()).slice(0, 10).join(', ')})`);
    }
    if (isDigest(reference)) {
      const hit = idx.manifests.find((m) => m.digest === reference);
      if (hit) return hit;
      return (await this.hasBlob(reference)) ? { mediaType: '', digest: reference, size: -1 } : undefined;
    }
    // The last entry wins, like skopeo.
    return [...idx.manifests].reverse().find((m) => m.annotations?.[REF_NAME] === reference);
  }

  /** Path of a blob, refusing anything that would resolve outside the layout. */
  async blobPath(digest: Digest): Promise<string> {
    if (!isDigest(digest)) throw layoutError(this.dir, `invalid digest "${digest}"`);
    const p = join(this.dir, 'blobs', algorithmOf(digest), hexOf(digest));
    this.#root ??= await realpath(this.dir);
    let real: string;
    try {
      real = await realpath(p);
    } catch {
      return p; // absent: callers treat as not found
    }
    if (!real.startsWith(this.#root + sep)) {
      throw layoutError(this.dir, `blob ${digest} resolves outside the layout`, 'the layout contains a link pointing elsewhere; refusing to read it');
    }
    return real;
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    try {
      return (await stat(await this.blobPath(digest))).isFile();
    } catch {
      return false;
    }
  }

  async readManifest(desc: Pick<Descriptor, 'digest' | 'mediaType' | 'size'>): Promise<Manifest> {
    const what = `oci:${this.dir}@${desc.digest}`;
    const path = await this.blobPath(desc.digest);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw new AirlockError('NOT_FOUND', `${what}: manifest blob is missing`, { hint: 'the layout is incomplete' });
    }
    if (size > MAX_MANIFEST_BYTES) {
      throw new AirlockError('MANIFEST_TOO_LARGE', `${what}: manifest of ${size} bytes exceeds 4 MiB`);
    }
    const bytes = await readFile(path);
    verifyBytes(bytes, desc.digest, what);
    return parseManifest(bytes, desc.mediaType || undefined, what, desc.digest);
  }

  /** A verified stream of a blob's content. */
  async openBlob(desc: Descriptor, opts: { onProgress?: (bytes: number) => void } = {}): Promise<Readable> {
    const path = await this.blobPath(desc.digest);
    try {
      await stat(path);
    } catch {
      throw new AirlockError('NOT_FOUND', `oci:${this.dir}: blob ${desc.digest} is missing`, { hint: 'the layout is incomplete' });
    }
    const what = `oci:${this.dir} blob ${desc.digest}`;
    const readError = (e: unknown) => new AirlockError('LAYOUT', `${what}: reading failed: ${(e as Error).message}`, { hint: 'the layout could not be read', cause: e });
    return verifiedStream(createReadStream(path), desc, what, readError, opts.onProgress);
  }

  /** Write a blob from a stream: to a temp file, verified, then renamed into place. */
  async writeBlob(desc: Descriptor, content: Readable): Promise<void> {
    const final = join(this.dir, 'blobs', algorithmOf(desc.digest), hexOf(desc.digest));
    await mkdir(join(this.dir, 'blobs', algorithmOf(desc.digest)), { recursive: true });
    const tmp = `${final}.tmp-${randomBytes(6).toString('hex')}`;
    // Content from a source is already being verified against this digest: do not hash it twice.
    const alreadyVerified = content instanceof VerifyingStream && content.expected === desc.digest && content.expectedSize === desc.size;
    const fh = await open(tmp, 'w');
    try {
      if (alreadyVerified) await pipeline(content, fh.createWriteStream());
      else await pipeline(content, new VerifyingStream(desc.digest, desc.size, `blob ${desc.digest}`), fh.createWriteStream());
      await rename(tmp, final);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  async writeBytes(digest: Digest, bytes: Buffer): Promise<void> {
    verifyBytes(bytes, digest, 'manifest');
    const final = join(this.dir, 'blobs', algorithmOf(digest), hexOf(digest));
    await mkdir(join(this.dir, 'blobs', algorithmOf(digest)), { recursive: true });
    await atomicWrite(final, bytes);
  }

  /**
   * Point a tag at a descriptor (replacing the same tag), or record an untagged manifest. The
   * updated index.json is written atomically; concurrent updates are serialised.
   */
  async setRef(desc: Descriptor, tag: string | undefined): Promise<void> {
    const idx = await this.index();
    const entry: Descriptor = {
      mediaType: desc.mediaType,
      digest: desc.digest,
      size: desc.size,
      ...(desc.artifactType ? { artifactType: desc.artifactType } : {}),
      ...(desc.platform ? { platform: desc.platform } : {}),
      ...(tag ? { annotations: { [REF_NAME]: tag } } : {}),
    };
    const keep = idx.manifests.filter((m) => {
      const t = m.annotations?.[REF_NAME];
      if (tag) return t !== tag;
      return !(t === undefined && m.digest === desc.digest);
    });
    // An untagged entry for a digest that is also tagged adds nothing.
    if (!tag && keep.some((m) => m.digest === desc.digest)) return;
    idx.manifests = [...keep, entry];
    const body = JSON.stringify(idx);
    this.#indexWrite = this.#indexWrite.then(() => atomicWrite(join(this.dir, 'index.json'), body));
    await this.#indexWrite;
  }
}

async function atomicWrite(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

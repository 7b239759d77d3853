import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { AirlockError } from '../errors.js';
import { type Digest, hexOf, algorithmOf, isDigest, VerifyingStream, verifiedStream, verifyBytes } from '../digest/digest.js';
import { MAX_MANIFEST_BYTES, MediaType } from '../manifest/mediatypes.js';
import { type Manifest, parseManifest } from '../manifest/parse.js';
import { type Descriptor, descriptorSchema } from '../manifest/schema.js';
import { shorten } from '../util/quote.js';
import { reclaimStaleTemps, tempPathFor, trackTemp, untrackTemp } from '../util/temp.js';
import { statOf, writable } from '../util/fs.js';

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
  return new AirlockError('LAYOUT', `OCI layout ${shorten(dir)}: ${msg}`, { hint });
}

/** The layout named on the command line is not usable: an input error (exit 2), found before any work. */
function layoutInputError(dir: string, msg: string, hint: string): AirlockError {
  return new AirlockError('BAD_INPUT', `OCI layout ${shorten(dir)}: ${msg}`, { hint });
}

const DAMAGED_HINT = 'the layout is damaged (an interrupted write?): copy it again from its source';

/** Parse index.json text: not JSON (truncated) and not an image index are told apart. */
function parseIndex(dir: string, text: string): LayoutIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw layoutInputError(dir, `index.json is not valid JSON${text.trim() === '' ? ' (it is empty)' : ' (truncated?)'}`, DAMAGED_HINT);
  }
  const r = layoutIndexSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw layoutInputError(dir, `index.json is not an OCI image index${i?.path.length ? ` (at ${i.path.map(String).join('.')})` : ''}`, DAMAGED_HINT);
  }
  return r.data;
}

/** The nearest existing ancestor directory of `p` (p excluded). */
function nearestExisting(p: string): string {
  let cur = dirname(resolve(p));
  while (!existsSync(cur) && dirname(cur) !== cur) cur = dirname(cur);
  return cur;
}

/** A layout written under a temporary name, renamed to its final name when it holds an image. */
interface Staging {
  /** The final directory (absolute). */
  final: string;
  /** Where it is written until then: a hidden sibling `.NAME.tmp-PID-HOST-HEX`. */
  work: string;
}

/**
 * An OCI image layout directory (image-spec `image-layout.md`): `oci-layout`, `index.json` whose
 * entries carry `org.opencontainers.image.ref.name`, and content-addressed `blobs/<alg>/<hex>`.
 * Writes are atomic (temp file + rename, verified before rename); reads refuse to leave the layout.
 *
 * A layout is never left without its `index.json`: a new directory is written under a temporary
 * name and renamed into place by `close()` once it holds an image (or removed when none was
 * written: a failed or interrupted copy leaves nothing); an existing directory gets `index.json`
 * before anything else. Writers remove stale temporary files (of processes that are gone) when
 * they open a layout.
 */
export class OciLayout {
  #index: LayoutIndex | undefined;
  #indexLoad: Promise<LayoutIndex> | undefined;
  #indexWrite: Promise<void> = Promise.resolve();
  #root: string | undefined;
  /** Where files go: `dir` itself, or the staging directory of a new layout. */
  readonly #work: string;
  #staging: Staging | undefined;
  #signal: AbortSignal | undefined;
  #closed = false;

  constructor(readonly dir: string, work?: string) {
    this.#work = work ?? dir;
  }

  /**
   * Check that `dir` is a readable OCI layout (a directory with `oci-layout` and a valid
   * `index.json`): every problem is an input error (exit 2) naming what is wrong.
   */
  static async checkReadable(dir: string): Promise<void> {
    await OciLayout.openForRead(dir);
  }

  /**
   * Check, without writing anything, that a layout can be written at `dir`: not a file, an existing
   * layout not damaged, the place writable. Problems are input errors (exit 2).
   */
  static checkWritable(dir: string): void {
    const st = statOf(dir);
    if (st && !st.isDirectory()) throw layoutInputError(dir, 'is a file, not a directory', 'oci: names a directory to write the layout in; choose another path');
    if (st) {
      if (!writable(dir)) throw layoutInputError(dir, 'is not writable', 'check its permissions, or choose another directory');
      if (existsSync(join(dir, 'oci-layout'))) {
        let text: string | undefined;
        try {
          text = readFileSync(join(dir, 'index.json'), 'utf8');
        } catch {
          text = undefined;
        }
        if (text !== undefined) parseIndex(dir, text);
      }
      return;
    }
    const anc = nearestExisting(dir);
    const ast = statOf(anc);
    if (!ast?.isDirectory()) throw layoutInputError(dir, `${shorten(anc)} is not a directory`, 'choose a path under an existing directory');
    if (!writable(anc)) throw layoutInputError(dir, `cannot be created: ${shorten(anc)} is not writable`, 'choose a directory you can write to');
  }

  static async openForRead(dir: string): Promise<OciLayout> {
    const l = new OciLayout(dir);
    let st;
    try {
      st = await stat(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw layoutInputError(dir, 'does not exist', 'check the directory after oci: (an OCI image layout written by skopeo, crane, oras or Airlock)');
      throw layoutInputError(dir, `cannot be read (${code ?? (e as Error).message})`, 'check the path and its permissions');
    }
    if (!st.isDirectory()) throw layoutInputError(dir, 'is not a directory', 'oci: names a directory holding an OCI image layout (oci-layout, index.json, blobs/)');
    let text: string;
    try {
      text = await readFile(join(dir, 'oci-layout'), 'utf8');
    } catch {
      throw layoutInputError(dir, 'not an OCI image layout (no oci-layout file)', 'point oci: at a directory written by skopeo, crane, oras or Airlock');
    }
    const r = layoutFileSchema.safeParse(safeJson(text));
    if (!r.success) throw layoutInputError(dir, 'oci-layout is malformed', DAMAGED_HINT);
    if (!existsSync(join(dir, 'index.json'))) throw layoutInputError(dir, 'has no index.json (an incomplete layout)', DAMAGED_HINT);
    await l.index();
    return l;
  }

  /**
   * Open a layout for writing. An existing layout is written in place; a directory that is not a
   * layout yet gets `index.json` and `oci-layout` first; a new one is written under a temporary
   * name until `close()`. Stale temporary files of earlier, dead writers are removed.
   */
  static async openForWrite(dir: string, opts: { signal?: AbortSignal } = {}): Promise<OciLayout> {
    let st;
    try {
      st = await stat(dir);
    } catch {
      st = undefined;
    }
    if (st && !st.isDirectory()) throw layoutInputError(dir, 'is a file, not a directory', 'oci: names a directory to write the layout in; choose another path');
    if (!st) {
      const final = resolve(dir);
      const parent = nearestExisting(final);
      const prefix = `.${basename(final)}`;
      await reclaimStaleTemps(parent, `${prefix}.tmp-`);
      const work = tempPathFor(join(parent, prefix));
      trackTemp(work);
      await mkdir(join(work, 'blobs', 'sha256'), { recursive: true });
      await atomicWrite(join(work, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      const l = new OciLayout(dir, work);
      l.#staging = { final, work };
      l.#signal = opts.signal;
      return l;
    }
    const l = new OciLayout(dir);
    l.#signal = opts.signal;
    await l.#reclaim();
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    // index.json before oci-layout: the directory is never a layout without its index.
    if (!existsSync(join(dir, 'index.json'))) await atomicWrite(join(dir, 'index.json'), JSON.stringify(await l.index()));
    if (!existsSync(join(dir, 'oci-layout'))) await atomicWrite(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    return l;
  }

  /** Remove temporary files of writers that are gone (never another live writer's). */
  async #reclaim(): Promise<void> {
    await reclaimStaleTemps(this.dir);
    const blobs = join(this.dir, 'blobs');
    let algs: string[] = [];
    try {
      algs = await readdir(blobs);
    } catch {
      return;
    }
    await Promise.all(algs.map((a) => reclaimStaleTemps(join(blobs, a))));
  }

  /**
   * Finish writing. A new layout that holds at least one image is renamed to its final name (or,
   * when another writer created that directory meanwhile, merged into it); one that holds none —
   * the copy failed or was interrupted before an image was complete — is removed. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const staging = this.#staging;
    if (!staging) return;
    await this.#indexWrite.catch(() => undefined);
    const idx = this.#index;
    try {
      if (!idx || idx.manifests.length === 0) return;
      await mkdir(dirname(staging.final), { recursive: true });
      try {
        await rename(staging.work, staging.final);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') throw e;
        if (code === 'ENOTDIR') throw layoutInputError(staging.final, 'is a file, not a directory', 'choose another path');
      }
      await this.#mergeInto(staging);
    } finally {
      await rm(staging.work, { recursive: true, force: true }).catch(() => undefined);
      untrackTemp(staging.work);
    }
  }

  /** Another writer created the final directory meanwhile: move our blobs and tags into it. */
  async #mergeInto(staging: Staging): Promise<void> {
    const target = await OciLayout.openForWrite(staging.final);
    const blobs = join(staging.work, 'blobs');
    for (const alg of await readdir(blobs)) {
      await mkdir(join(staging.final, 'blobs', alg), { recursive: true });
      for (const f of await readdir(join(blobs, alg))) {
        if (f.includes('.tmp-')) continue;
        const dest = join(staging.final, 'blobs', alg, f);
        if (!existsSync(dest)) await rename(join(blobs, alg, f), dest);
      }
    }
    for (const m of this.#index?.manifests ?? []) await target.setRef(m, m.annotations?.[REF_NAME]);
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
      text = await readFile(join(this.#work, 'index.json'), 'utf8');
    } catch {
      text = undefined;
    }
    this.#index = text === undefined ? { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] } : parseIndex(this.dir, text);
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
    if (!isDigest(digest)) throw layoutError(this.dir, `invalid digest "${shorten(digest, 100)}"`);
    const p = join(this.#work, 'blobs', algorithmOf(digest), hexOf(digest));
    this.#root ??= await realpath(this.#work);
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
    const final = join(this.#work, 'blobs', algorithmOf(desc.digest), hexOf(desc.digest));
    await mkdir(join(this.#work, 'blobs', algorithmOf(desc.digest)), { recursive: true });
    const tmp = tempPathFor(final);
    // Content from a source is already being verified against this digest: do not hash it twice.
    const alreadyVerified = content instanceof VerifyingStream && content.expected === desc.digest && content.expectedSize === desc.size;
    trackTemp(tmp);
    const fh = await open(tmp, 'w');
    const opts = this.#signal ? { signal: this.#signal } : {};
    try {
      if (alreadyVerified) await pipeline(content, fh.createWriteStream(), opts);
      else await pipeline(content, new VerifyingStream(desc.digest, desc.size, `blob ${desc.digest}`), fh.createWriteStream(), opts);
      await rename(tmp, final);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      content.destroy();
      if (this.#signal?.aborted && this.#signal.reason instanceof AirlockError) throw this.#signal.reason;
      throw e;
    } finally {
      untrackTemp(tmp);
      await fh.close().catch(() => undefined);
    }
  }

  async writeBytes(digest: Digest, bytes: Buffer): Promise<void> {
    verifyBytes(bytes, digest, 'manifest');
    const final = join(this.#work, 'blobs', algorithmOf(digest), hexOf(digest));
    await mkdir(join(this.#work, 'blobs', algorithmOf(digest)), { recursive: true });
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
    this.#indexWrite = this.#indexWrite.then(() => atomicWrite(join(this.#work, 'index.json'), body));
    await this.#indexWrite;
  }
}

async function atomicWrite(path: string, data: string | Buffer): Promise<void> {
  const tmp = tempPathFor(path);
  trackTemp(tmp);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  } finally {
    untrackTemp(tmp);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

import { writeFile, rename, unlink } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { type Digest, hexOf, isDigest } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import { REF_NAME } from '../layout/layout.js';
import { MediaType } from '../manifest/mediatypes.js';
import { childrenOf, descriptorOf, type Manifest, parseManifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { ContentSink } from '../content/types.js';
import type { BlobOpener, UploadOutcome } from '../registry/upload.js';
import { BUNDLE_FILES, PARTS_MEDIA_TYPE, type Attachment, type BlobRef, type PartsFile } from './format.js';
import { ArchiveOutput, type WrittenBundle } from './output.js';
import { tarSize, writeTar, type TarEntry } from './tar.js';

/**
 * A bundle being planned, then written. Planning costs no disk: the transfer engine copies images
 * into per-repository views (ContentSinks) that record manifests (small, kept in memory) and, for
 * blobs, only the descriptor and how to open it again at the source. `write()` then streams the
 * tar in a fixed order, opening each blob from its source once and verifying it as it flows, so
 * the output is the only copy on disk and memory stays flat.
 */

interface PlannedBlob {
  desc: Descriptor;
  open: BlobOpener;
}

export interface BundleMeta {
  inventory: Buffer;
  signature?: Buffer;
}

export class BundleWriter {
  readonly manifests = new Map<Digest, Manifest>();
  readonly blobs = new Map<Digest, PlannedBlob>();
  /** ref.name → descriptor, as index.json will list them. */
  readonly refs = new Map<string, Descriptor>();
  /** Blobs an earlier bundle carried (--since): referenced, not stored. */
  readonly external = new Map<Digest, number>();
  /** For each blob, the smallest repository name that uses it (deterministic, whatever the timing). */
  readonly #usedBy = new Map<Digest, string>();

  /** `skip`: blobs an earlier bundle carried, with the repository it had them in. */
  constructor(readonly skip: ReadonlyMap<string, string | undefined> = new Map()) {}

  noteRepository(digest: Digest, repository: string): void {
    const r = this.#usedBy.get(digest);
    if (r === undefined || repository < r) this.#usedBy.set(digest, repository);
  }

  /** The sink the engine copies one repository's images into (tags become `REPO:TAG` ref names). */
  view(repository: string): ContentSink {
    return new BundleView(this, repository);
  }

  addManifest(m: Manifest): void {
    if (!this.manifests.has(m.digest)) this.manifests.set(m.digest, m);
  }

  addBlob(desc: Descriptor, open: BlobOpener): void {
    if (this.blobs.has(desc.digest) || this.manifests.has(desc.digest)) return;
    this.blobs.set(desc.digest, { desc: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }, open });
  }

  setRef(name: string, desc: Descriptor): void {
    this.refs.set(name, { mediaType: desc.mediaType, digest: desc.digest, size: desc.size });
  }

  /** Every blob stored (manifests included), sorted by digest. */
  storedBlobs(): BlobRef[] {
    const all: BlobRef[] = [
      ...[...this.manifests.values()].map((m) => ({ digest: m.digest, size: m.bytes.length })),
      ...[...this.blobs.values()].map((b) => {
        const repository = this.#usedBy.get(b.desc.digest);
        return { digest: b.desc.digest, size: b.desc.size, ...(repository ? { repository } : {}) };
      }),
    ];
    return all.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }

  externalBlobs(): BlobRef[] {
    return [...this.external]
      .map(([digest, size]) => {
        const repository = this.skip.get(digest);
        return { digest, size, ...(repository ? { repository } : {}) };
      })
      .sort((a, b) => (a.digest < b.digest ? -1 : 1));
  }

  /** Bytes of everything below these manifests (each blob once). */
  sizeOf(roots: Digest[]): number {
    const seen = new Set<string>();
    let total = 0;
    const walk = (d: Digest, size: number) => {
      if (seen.has(d)) return;
      seen.add(d);
      total += size;
      const m = this.manifests.get(d);
      if (m) for (const c of childrenOf(m)) walk(c.digest, c.size);
    };
    for (const r of roots) {
      const m = this.manifests.get(r);
      if (m) walk(r, m.bytes.length);
    }
    return total;
  }

  /** Signatures, attestations, SBOMs and referrers stored for these manifests of one repository. */
  attachmentsOf(repository: string, subjects: Digest[]): Attachment[] {
    const out: Attachment[] = [];
    const kinds = { sig: 'signature', att: 'attestation', sbom: 'sbom' } as const;
    for (const subject of subjects) {
      const base = `${repository}:sha256-${hexOf(subject)}`;
      for (const [suffix, kind] of Object.entries(kinds)) {
        const d = this.refs.get(`${base}.${suffix}`);
        if (d) out.push({ kind, subject, digest: d.digest, tag: `sha256-${hexOf(subject)}.${suffix}` });
      }
      const fallback = this.refs.get(base);
      const idx = fallback && this.manifests.get(fallback.digest);
      if (idx?.kind === 'index') {
        for (const r of idx.index.manifests) out.push({ kind: 'referrer', subject, digest: r.digest, ...(r.artifactType ? { artifactType: r.artifactType } : {}) });
      }
    }
    return out;
  }

  /** The layout's index.json: one entry per ref name, sorted, so the bytes never depend on timing. */
  indexJson(): Buffer {
    const manifests = [...this.refs.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, d]) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size, annotations: { [REF_NAME]: name } }));
    return Buffer.from(`${JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }, null, 1)}\n`);
  }

  /** The tar's entries in their fixed order: layout files, inventory, then every blob by digest. */
  entries(meta: BundleMeta): TarEntry[] {
    const checksum = Buffer.from(`${sha256Hex(meta.inventory)}  ${BUNDLE_FILES.inventory}\n`);
    const entries: TarEntry[] = [
      { name: BUNDLE_FILES.layout, type: 'file', bytes: Buffer.from(`${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`) },
      { name: BUNDLE_FILES.index, type: 'file', bytes: this.indexJson() },
      { name: BUNDLE_FILES.inventory, type: 'file', bytes: meta.inventory },
      { name: BUNDLE_FILES.checksum, type: 'file', bytes: checksum },
      ...(meta.signature ? [{ name: BUNDLE_FILES.signature, type: 'file' as const, bytes: meta.signature }] : []),
      { name: 'blobs', type: 'directory' },
      { name: 'blobs/sha256', type: 'directory' },
    ];
    for (const b of this.storedBlobs()) {
      const name = `blobs/sha256/${hexOf(b.digest)}`;
      const m = this.manifests.get(b.digest);
      if (m) entries.push({ name, type: 'file', bytes: m.bytes });
      else {
        const p = this.blobs.get(b.digest)!;
        entries.push({ name, type: 'file', size: p.desc.size, open: p.open });
      }
    }
    return entries;
  }

  size(meta: BundleMeta): number {
    return tarSize(this.entries(meta));
  }

  /**
   * Write the bundle to `file` (or its parts with `splitSize`, plus FILE.parts.json), streaming and
   * atomically: nothing appears under the final names unless the whole bundle was written.
   */
  async write(file: string, meta: BundleMeta, opts: { splitSize?: number; inventoryDigest: Digest; onEntry?: (e: TarEntry) => void }): Promise<WrittenBundle & { partsFile?: string }> {
    const out = new ArchiveOutput(file, opts.splitSize);
    let written: WrittenBundle;
    try {
      await writeTar(this.entries(meta), (c) => out.write(c), { ...(opts.onEntry ? { onEntry: opts.onEntry } : {}) });
      written = await out.commit();
    } catch (e) {
      await out.abort();
      throw e;
    }
    if (!opts.splitSize) return written;
    const parts: PartsFile = {
      mediaType: PARTS_MEDIA_TYPE,
      bundle: basename(file),
      size: written.size,
      sha256: written.sha256,
      splitSize: opts.splitSize,
      inventory: opts.inventoryDigest,
      parts: written.parts.map((p) => ({ name: p.name, size: p.size, sha256: p.sha256 })),
    };
    const partsFile = `${file}.parts.json`;
    const tmp = `${partsFile}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(tmp, `${JSON.stringify(parts, null, 2)}\n`);
      await rename(tmp, partsFile);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw new AirlockError('BAD_INPUT', `cannot write ${partsFile}: ${(e as Error).message}`, { cause: e });
    }
    return { ...written, partsFile };
  }
}

function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** One repository of a bundle being planned, as a sink for the transfer engine. */
class BundleView implements ContentSink {
  readonly name: string;

  constructor(
    readonly writer: BundleWriter,
    readonly repository: string,
  ) {
    this.name = `bundle:${repository}`;
  }

  async resolve(reference: string): Promise<Digest | undefined> {
    if (isDigest(reference)) return this.writer.manifests.has(reference) ? reference : undefined;
    return this.writer.refs.get(`${this.repository}:${reference}`)?.digest;
  }

  async findManifest(reference: string): Promise<Manifest | undefined> {
    const d = await this.resolve(reference);
    const m = d ? this.writer.manifests.get(d) : undefined;
    return m ? parseManifest(m.bytes, m.mediaType, `${this.name}@${m.digest}`, m.digest) : undefined;
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    this.writer.noteRepository(desc.digest, this.repository);
    if (this.writer.blobs.has(desc.digest) || this.writer.manifests.has(desc.digest)) return true;
    if (this.writer.skip.has(desc.digest)) {
      this.writer.external.set(desc.digest, desc.size);
      return true;
    }
    return false;
  }

  async pushBlob(desc: Descriptor, open: BlobOpener): Promise<UploadOutcome> {
    this.writer.noteRepository(desc.digest, this.repository);
    this.writer.addBlob(desc, open);
    return 'uploaded';
  }

  async pushManifest(m: Manifest, reference: string): Promise<{ subjectProcessed: boolean }> {
    this.writer.addManifest(m);
    if (!isDigest(reference)) this.writer.setRef(`${this.repository}:${reference}`, descriptorOf(m));
    return { subjectProcessed: false };
  }
}

import type { Readable } from 'node:stream';
import { type Digest, isDigest } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import { OciLayout } from '../layout/layout.js';
import type { Manifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { BlobOpener, UploadOutcome } from '../registry/upload.js';
import type { ContentSink, ContentSource, OpenBlobOptions } from './types.js';

const WRITE_HINTS: Record<string, string> = {
  ENOSPC: 'the destination disk is full: free space there, or write the layout somewhere else',
  EDQUOT: 'the disk quota of the destination is used up: free space there, or write the layout somewhere else',
  EACCES: 'the destination directory is not writable by this user: fix its permissions, or choose another directory',
  EPERM: 'the destination refuses writes (permissions, immutable attribute): fix it, or choose another directory',
  EROFS: 'the destination is on a read-only file system: mount it read-write, or choose another directory',
  EIO: 'the destination disk reported an I/O error: check the device',
};

/**
 * A file-system failure while writing the layout, as a typed error naming what was being written and
 * what to do (a full disk, a read-only mount). Errors already typed (a source fault) pass unchanged.
 */
function writeError(e: unknown, what: string): unknown {
  if (e instanceof AirlockError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return e;
  const reason = String((e as Error).message ?? code).replace(/^\w+: /, '').replace(/, \w+(?: '.*')?$/, '');
  return new AirlockError('LAYOUT', `${what} failed: ${code} (${reason})`, { hint: WRITE_HINTS[code] ?? 'the destination could not be written', cause: e });
}

/**
 * An OCI image layout as a source and a sink. Like a registry without the referrers API: referrers
 * live under the `sha256-<hex>` fallback tag and cosign's `.sig/.att/.sbom` tags.
 */
export class LayoutRepo implements ContentSource, ContentSink {
  readonly name: string;

  constructor(readonly layout: OciLayout) {
    this.name = `oci:${layout.dir}`;
  }

  static async source(dir: string): Promise<LayoutRepo> {
    return new LayoutRepo(await OciLayout.openForRead(dir));
  }

  /** A layout to write; a new one appears under its name only once `close()` finds an image in it. */
  static async sink(dir: string, opts: { signal?: AbortSignal } = {}): Promise<LayoutRepo> {
    try {
      return new LayoutRepo(await OciLayout.openForWrite(dir, opts));
    } catch (e) {
      throw writeError(e, `oci:${dir}: opening the layout for writing`);
    }
  }

  close(): Promise<void> {
    return this.layout.close();
  }

  async getManifest(reference: string): Promise<Manifest> {
    const desc = await this.layout.resolve(reference === '' ? undefined : reference);
    if (!desc) {
      throw new AirlockError('NOT_FOUND', `${this.name}:${reference}: no such image in the layout`, {
        hint: `tags present: ${(await this.layout.tags()).slice(0, 10).join(', ') || 'none'}`,
      });
    }
    return this.layout.readManifest(desc);
  }

  async findManifest(reference: string): Promise<Manifest | undefined> {
    const desc = await this.layout.resolve(reference);
    return desc ? this.layout.readManifest(desc) : undefined;
  }

  openBlob(desc: Descriptor, opts?: OpenBlobOptions): Promise<Readable> {
    return this.layout.openBlob(desc, opts);
  }

  listTags(): Promise<string[]> {
    return this.layout.tags();
  }

  async referrers(_digest: Digest): Promise<Descriptor[] | undefined> {
    return undefined;
  }

  async resolve(reference: string): Promise<Digest | undefined> {
    if (isDigest(reference)) return (await this.layout.hasBlob(reference)) ? reference : undefined;
    return (await this.layout.resolve(reference))?.digest;
  }

  hasBlob(desc: Descriptor): Promise<boolean> {
    return this.layout.hasBlob(desc.digest);
  }

  async pushBlob(desc: Descriptor, open: BlobOpener): Promise<UploadOutcome> {
    const content = await open();
    try {
      await this.layout.writeBlob(desc, content);
    } catch (e) {
      content.destroy();
      throw writeError(e, `${this.name}: writing blob ${desc.digest}`);
    }
    return 'uploaded';
  }

  async pushManifest(m: Manifest, reference: string): Promise<{ subjectProcessed: boolean }> {
    try {
      await this.layout.writeBytes(m.digest, m.bytes);
      const desc = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
      // Only tagged manifests (and top-level untagged ones) are listed in index.json; children of an
      // index are reachable through it.
      if (!isDigest(reference)) await this.layout.setRef(desc, reference);
    } catch (e) {
      throw writeError(e, `${this.name}: writing manifest ${m.digest}${isDigest(reference) ? '' : ` (tag ${reference})`}`);
    }
    return { subjectProcessed: false };
  }

  /** Record an untagged top-level manifest (e.g. a referrer) so that tools listing the layout see it. */
  async addUntagged(m: Manifest): Promise<void> {
    await this.layout.setRef({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }, undefined);
  }
}


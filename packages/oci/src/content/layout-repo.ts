import type { Readable } from 'node:stream';
import { type Digest, isDigest } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import { OciLayout } from '../layout/layout.js';
import type { Manifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { BlobOpener, UploadOutcome } from '../registry/upload.js';
import type { ContentSink, ContentSource, OpenBlobOptions } from './types.js';

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

  static async sink(dir: string): Promise<LayoutRepo> {
    return new LayoutRepo(await OciLayout.openForWrite(dir));
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
    await this.layout.writeBlob(desc, await open());
    return 'uploaded';
  }

  async pushManifest(m: Manifest, reference: string): Promise<{ subjectProcessed: boolean }> {
    await this.layout.writeBytes(m.digest, m.bytes);
    const desc = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    // Only tagged manifests (and top-level untagged ones) are listed in index.json; children of an
    // index are reachable through it.
    if (!isDigest(reference)) await this.layout.setRef(desc, reference);
    return { subjectProcessed: false };
  }

  /** Record an untagged top-level manifest (e.g. a referrer) so that tools listing the layout see it. */
  async addUntagged(m: Manifest): Promise<void> {
    await this.layout.setRef({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }, undefined);
  }
}


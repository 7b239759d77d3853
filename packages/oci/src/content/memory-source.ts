import { Readable } from 'node:stream';
import { type Digest, digestOf, isDigest, verifiedStream } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import { type Manifest, parseManifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { ContentSource } from './types.js';

/**
 * An artifact built in memory (a Helm chart, a file) as a ContentSource, so the transfer engine
 * pushes it like any image — blobs first, manifest and tag last, skips and mounts included — as
 * Helm builds a chart in an in-memory store and then copies it to the registry.
 */
export class MemorySource implements ContentSource {
  readonly #blobs = new Map<Digest, Buffer>();
  readonly #manifests = new Map<string, Manifest>();

  constructor(readonly name: string) {}

  /** Add a blob; its descriptor (digest and size computed here). */
  addBlob(bytes: Buffer, mediaType: string, annotations?: Record<string, string>): Descriptor {
    const digest = digestOf(bytes);
    this.#blobs.set(digest, bytes);
    return { mediaType, digest, size: bytes.length, ...(annotations && Object.keys(annotations).length ? { annotations } : {}) };
  }

  /** Add manifest bytes exactly as they will be pushed, under a tag (and always its digest). */
  addManifest(bytes: Buffer, mediaType: string, tag?: string): Manifest {
    const m = parseManifest(bytes, mediaType, `${this.name} manifest`);
    this.#manifests.set(m.digest, m);
    if (tag) this.#manifests.set(tag, m);
    return m;
  }

  async getManifest(reference: string): Promise<Manifest> {
    const m = this.#manifests.get(reference);
    if (!m) throw new AirlockError('NOT_FOUND', `${this.name}: no manifest ${reference}`);
    return m;
  }

  async openBlob(desc: Descriptor, opts: { onProgress?: (bytes: number) => void } = {}): Promise<Readable> {
    const bytes = this.#blobs.get(desc.digest);
    if (!bytes) throw new AirlockError('NOT_FOUND', `${this.name}: no blob ${desc.digest}`);
    const what = `${this.name} blob ${desc.digest}`;
    return verifiedStream(Readable.from([bytes]), desc, what, (e) => new AirlockError('BAD_INPUT', `${what}: ${(e as Error).message}`), opts.onProgress);
  }

  async listTags(): Promise<string[]> {
    return [...this.#manifests.keys()].filter((k) => !isDigest(k));
  }

  async referrers(_digest: Digest): Promise<Descriptor[] | undefined> {
    return undefined;
  }
}

import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { verifiedStream, type Digest } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import type { Manifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { ContentSource } from './types.js';

/** Content made here: small documents in memory, or a file on disk (a layer just built). */
export type MadeBlob = { bytes: Buffer } | { file: string };

/**
 * A source that is another source plus content made in this run (manifests, configs, a new layer):
 * Helm's shape for pushing what it builds — the engine copies it like any image, so blob, manifest
 * and tag order, skips and mounts come for free. Blobs it does not hold are read from the base;
 * everything it serves is verified against its descriptor as it streams.
 */
export class OverlaySource implements ContentSource {
  readonly name: string;
  readonly registryRepo?: { registry: string; repository: string };
  readonly #manifests = new Map<string, Manifest>();
  readonly #blobs = new Map<Digest, MadeBlob>();

  constructor(readonly base: ContentSource) {
    this.name = base.name;
    // Base layers can be mounted from the base repository when the destination is on its registry;
    // for the blobs made here the refused mount becomes the upload (no extra round trip).
    if (base.registryRepo) this.registryRepo = base.registryRepo;
  }

  /** Serve `m` under its digest and, when given, a tag. */
  addManifest(m: Manifest, tag?: string): void {
    this.#manifests.set(m.digest, m);
    if (tag) this.#manifests.set(tag, m);
  }

  addBlob(digest: Digest, blob: MadeBlob): void {
    this.#blobs.set(digest, blob);
  }

  getManifest(reference: string): Promise<Manifest> {
    const m = this.#manifests.get(reference);
    return m ? Promise.resolve(m) : this.base.getManifest(reference);
  }

  async openBlob(desc: Descriptor, opts: { onProgress?: (bytes: number) => void } = {}): Promise<Readable> {
    const made = this.#blobs.get(desc.digest);
    if (!made) return this.base.openBlob(desc, opts);
    const body = 'bytes' in made ? Readable.from([made.bytes]) : createReadStream(made.file, { highWaterMark: 256 * 1024 });
    const what = `${this.name} (built) @${desc.digest}`;
    const fail = (e: unknown) => new AirlockError('BAD_INPUT', `${what}: reading it failed: ${(e as Error).message}`, { cause: e });
    return verifiedStream(body, desc, what, fail, opts.onProgress);
  }

  listTags(): Promise<string[]> {
    return Promise.resolve([]);
  }

  referrers(): Promise<Descriptor[] | undefined> {
    return Promise.resolve(undefined);
  }
}

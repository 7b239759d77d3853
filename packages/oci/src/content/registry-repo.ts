import { Readable } from 'node:stream';
import { type Digest, isDigest, verifiedStream } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import type { Manifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { RegistryClient } from '../registry/client.js';
import { pushBlob, type BlobOpener, type UploadOptions, type UploadOutcome } from '../registry/upload.js';
import { ResumableRead } from './resumable-read.js';
import type { ContentSink, ContentSource, OpenBlobOptions } from './types.js';

/** One repository of a registry, as a source and a sink. */
export class RegistryRepo implements ContentSource, ContentSink {
  readonly name: string;
  readonly registryRepo: { registry: string; repository: string };

  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
    readonly upload: Omit<UploadOptions, 'mountFrom'> = {},
  ) {
    this.name = `${client.registry}/${repository}`;
    this.registryRepo = { registry: client.registry, repository };
  }

  getManifest(reference: string): Promise<Manifest> {
    return this.client.getManifest(this.repository, reference);
  }

  /**
   * The blob, verified as it streams. A read cut short (connection reset, body ended early) is
   * continued where it stopped with `Range: bytes=N-` (or read again from the start, skipping what
   * already arrived, when the registry ignores the range), within the retry budget; the running hash
   * carries on, so the continued stream is verified as one.
   */
  async openBlob(desc: Descriptor, opts: OpenBlobOptions = {}): Promise<Readable> {
    const first = await this.client.getBlobFrom(this.repository, desc, 0);
    const what = `${this.name}@${desc.digest}`;
    const transport = this.client.transport;
    const url = `${this.client.host}/v2/${this.repository}/blobs/${desc.digest}`;
    const raw = new ResumableRead(first.body, (offset) => this.client.getBlobFrom(this.repository, desc, offset), {
      size: desc.size,
      budget: opts.budget ?? { left: transport.retryPolicy.retries },
      policy: transport.retryPolicy,
      noteRetry: (info) => transport.noteRetry({ url, ...info }),
    });
    const readError = (e: unknown) =>
      new AirlockError('NETWORK', `${what}: reading the source failed: ${(e as { code?: string }).code ?? (e as Error).message}${raw.attempts > 1 ? ` (${raw.attempts} attempts)` : ''}`, {
        hint: 'the source kept closing the connection before the blob was complete; retry the copy, or raise --retries',
        cause: e,
      });
    return verifiedStream(raw, desc, what, readError, opts.onProgress);
  }

  listTags(): Promise<string[]> {
    return this.client.listTags(this.repository);
  }

  referrers(digest: Digest): Promise<Descriptor[] | undefined> {
    return this.client.referrers(this.repository, digest);
  }

  async resolve(reference: string): Promise<Digest | undefined> {
    return (await this.client.headManifest(this.repository, reference, true))?.digest;
  }

  async findManifest(reference: string): Promise<Manifest | undefined> {
    try {
      return await this.client.getManifest(this.repository, reference);
    } catch (e) {
      if (e instanceof AirlockError && e.code === 'NOT_FOUND') return undefined;
      throw e;
    }
  }

  hasBlob(desc: Descriptor): Promise<boolean> {
    return this.client.hasBlob(this.repository, desc.digest, true);
  }

  pushBlob(desc: Descriptor, open: BlobOpener, opts: { mountFrom?: string }): Promise<UploadOutcome> {
    return pushBlob(this.client, this.repository, desc, open, { ...this.upload, ...opts });
  }

  pushManifest(m: Manifest, reference: string): Promise<{ subjectProcessed: boolean }> {
    if (!isDigest(reference) && reference === '') throw new AirlockError('USAGE', 'empty tag');
    return this.client.putManifest(this.repository, reference, m);
  }
}

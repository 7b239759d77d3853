import { Readable } from 'node:stream';
import { type Digest, isDigest, verifiedStream } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import type { Manifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { RegistryClient } from '../registry/client.js';
import { backoffMs } from '../registry/transport.js';
import { pushBlob, type BlobOpener, type UploadOptions, type UploadOutcome } from '../registry/upload.js';
import { sleep } from '../util/sleep.js';
import type { ContentSink, ContentSource, OpenBlobOptions, RetryBudget } from './types.js';

interface ReadState {
  /** The response body being read now. */
  body: Readable;
  /** The reader stopped (destroyed the stream): do not continue. */
  closed: boolean;
  /** Requests made for this blob so far. */
  attempts: number;
}

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
    const budget = opts.budget ?? { left: this.client.transport.retryPolicy.retries };
    const state: ReadState = { body: first.body, closed: false, attempts: 1 };
    const raw = Readable.from(this.#resumable(desc, state, budget), { objectMode: false });
    raw.on('close', () => {
      state.closed = true;
      if (!state.body.destroyed && !state.body.readableEnded) state.body.destroy();
    });
    const readError = (e: unknown) =>
      new AirlockError('NETWORK', `${what}: reading the source failed: ${(e as { code?: string }).code ?? (e as Error).message}${state.attempts > 1 ? ` (${state.attempts} attempts)` : ''}`, {
        hint: 'the source kept closing the connection before the blob was complete; retry the copy, or raise --retries',
        cause: e,
      });
    return verifiedStream(raw, desc, what, readError, opts.onProgress);
  }

  async *#resumable(desc: Descriptor, state: ReadState, budget: RetryBudget): AsyncGenerator<Buffer> {
    const policy = this.client.transport.retryPolicy;
    let received = 0;
    let skip = 0;
    for (let retry = 0; ; retry++) {
      let failure: unknown;
      try {
        for await (const c of state.body) {
          let chunk = c as Buffer;
          if (skip > 0) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          received += chunk.length;
          yield chunk;
        }
      } catch (e) {
        failure = e;
      }
      // Stopped by the reader, complete, or too long (the verifier says so): nothing to continue.
      if (state.closed || (!failure && received >= desc.size)) return;
      if (budget.left <= 0) {
        if (failure) throw failure;
        return; // short: the verifier reports the truncation
      }
      budget.left--;
      const delayMs = backoffMs(retry, policy);
      const why = failure ? ((failure as { code?: string }).code ?? (failure as Error).message) : 'body ended early';
      this.client.transport.noteRetry({
        url: `${this.client.host}/v2/${this.repository}/blobs/${desc.digest}`,
        attempt: retry + 1,
        delayMs,
        reason: `read cut at ${received} of ${desc.size} bytes (${why})`,
      });
      await sleep(delayMs);
      if (state.closed) return;
      const next = await this.client.getBlobFrom(this.repository, desc, received);
      state.body = next.body;
      state.attempts++;
      skip = received - next.start;
      if (state.closed) {
        next.body.destroy();
        return;
      }
    }
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

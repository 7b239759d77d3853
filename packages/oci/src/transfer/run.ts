import { resolve as resolvePath } from 'node:path';
import { toAirlockError } from '../errors.js';
import { LayoutRepo } from '../content/layout-repo.js';
import { RegistryRepo } from '../content/registry-repo.js';
import type { ContentSink, ContentSource } from '../content/types.js';
import { formatReference, type ImageReference } from '../ref/reference.js';
import type { Location } from '../ref/location.js';
import type { Registries } from '../registry/client.js';
import type { UploadOptions } from '../registry/upload.js';
import { mapSettled } from '../util/limit.js';
import { TransferContext, type TransferOptions } from './context.js';
import { copyImage } from './copy.js';
import type { PlatformSpec } from './platform.js';
import type { ImageResult } from './result.js';

/** One image to move. */
export interface TransferJob {
  source: Location;
  destination: Location;
  platforms?: PlatformSpec[];
}

export interface RunOptions extends TransferOptions {
  registries: Registries;
  upload?: Omit<UploadOptions, 'mountFrom'>;
  /** Images in flight at once (blobs are limited separately by `concurrency`). */
  imageConcurrency?: number;
}

/** Opens locations once per run, so a layout shared by many images has one writer. */
class Endpoints {
  readonly #layouts = new Map<string, Promise<LayoutRepo>>();
  readonly #repos = new Map<string, RegistryRepo>();

  constructor(readonly opts: RunOptions) {}

  #repo(ref: ImageReference): RegistryRepo {
    const key = `${ref.registry}/${ref.repository}`;
    let r = this.#repos.get(key);
    if (!r) {
      r = new RegistryRepo(this.opts.registries.client(ref.registry), ref.repository, this.opts.upload);
      this.#repos.set(key, r);
    }
    return r;
  }

  #layout(dir: string, write: boolean): Promise<LayoutRepo> {
    const key = `${write ? 'w' : 'r'}:${resolvePath(dir)}`;
    let p = this.#layouts.get(key);
    if (!p) {
      p = write ? LayoutRepo.sink(dir) : LayoutRepo.source(dir);
      this.#layouts.set(key, p);
    }
    return p;
  }

  async source(loc: Location): Promise<{ source: ContentSource; reference: string }> {
    if (loc.kind === 'layout') return { source: await this.#layout(loc.dir, false), reference: loc.tag ?? '' };
    return { source: this.#repo(loc.ref), reference: loc.ref.digest ?? loc.ref.tag ?? 'latest' };
  }

  async sink(loc: Location, sourceLoc: Location): Promise<{ sink: ContentSink; tag?: string; pinned?: string }> {
    // Without an explicit destination tag, keep the source's tag (or store by digest).
    const srcTag = sourceLoc.kind === 'layout' ? sourceLoc.tag : sourceLoc.ref.tag;
    if (loc.kind === 'layout') {
      const tag = loc.tag ?? srcTag;
      return { sink: await this.#layout(loc.dir, true), ...(tag ? { tag } : {}) };
    }
    const tag = loc.ref.tag ?? (loc.ref.digest ? undefined : srcTag);
    return { sink: this.#repo(loc.ref), ...(tag ? { tag } : {}), ...(loc.ref.digest ? { pinned: loc.ref.digest } : {}) };
  }
}

function describe(loc: Location, tag?: string): string {
  if (loc.kind === 'layout') return `oci:${loc.dir}${(tag ?? loc.tag) ? `:${tag ?? loc.tag}` : ''}`;
  return formatReference(tag && !loc.ref.tag ? { ...loc.ref, tag } : loc.ref);
}

/**
 * Copy many images in parallel; one failure never stops the others. Results come back in job order.
 */
export async function runTransfers(jobs: TransferJob[], opts: RunOptions): Promise<ImageResult[]> {
  const ends = new Endpoints(opts);
  const contexts = new Map<string, TransferContext>();
  const shared = new TransferContext(opts);
  const ctxFor = (platforms?: PlatformSpec[]) => {
    if (!platforms) return shared;
    const key = JSON.stringify(platforms);
    let c = contexts.get(key);
    if (!c) {
      c = new TransferContext({ ...opts, platforms });
      contexts.set(key, c);
    }
    return c;
  };
  const settled = await mapSettled(jobs, Math.max(1, opts.imageConcurrency ?? opts.concurrency ?? 8), async (job) => {
    const sourceName = describe(job.source);
    let destinationName = describe(job.destination);
    const started = Date.now();
    try {
      const { source, reference } = await ends.source(job.source);
      const { sink, tag, pinned } = await ends.sink(job.destination, job.source);
      destinationName = describe(job.destination, tag);
      return await copyImage({ source, reference, sink, ...(tag ? { tag } : {}), ...(pinned ? { expectDigest: pinned } : {}), sourceName, destinationName }, ctxFor(job.platforms));
    } catch (e) {
      const err = toAirlockError(e);
      return {
        source: sourceName,
        destination: destinationName,
        status: 'failed',
        error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) },
        blobs: { copied: 0, skipped: 0, mounted: 0 },
        bytes: 0,
        manifests: 0,
        referrers: 0,
        durationMs: Date.now() - started,
      } satisfies ImageResult;
    }
  });
  return settled.map((s) => {
    if (s.status === 'fulfilled') return s.value;
    throw s.reason;
  });
}


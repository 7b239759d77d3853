import { AirlockError, toAirlockError } from '../errors.js';
import { endpointKey, openSink, openSource, referenceOf } from '../content/open.js';
import type { ContentSink, ContentSource } from '../content/types.js';
import { describeLocation, imageNameOfLocation, tagOfLocation, type Location } from '../ref/location.js';
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

/**
 * Opens each location once per run (a layout shared by many images has one writer) and closes
 * every sink it opened. Which kind of endpoint a location is, is decided by `openSource`/`openSink`.
 */
class Endpoints {
  readonly #sources = new Map<string, Promise<ContentSource>>();
  readonly #sinks = new Map<string, Promise<ContentSink>>();

  constructor(readonly opts: RunOptions) {}

  static #key(loc: Location): string {
    return endpointKey(loc);
  }

  #once<T>(cache: Map<string, Promise<T>>, loc: Location, open: () => Promise<T>): Promise<T> {
    const key = Endpoints.#key(loc);
    let p = cache.get(key);
    if (!p) cache.set(key, (p = open()));
    return p;
  }

  async source(loc: Location): Promise<{ source: ContentSource; reference: string }> {
    return { source: await this.#once(this.#sources, loc, () => openSource(loc, this.opts)), reference: referenceOf(loc) };
  }

  async sink(loc: Location, sourceLoc: Location): Promise<{ sink: ContentSink; tag?: string; pinned?: string }> {
    const sink = await this.#once(this.#sinks, loc, () => openSink(loc, this.opts));
    // Without an explicit destination tag, keep the source's tag (or store by digest).
    const srcTag = tagOfLocation(sourceLoc);
    if (loc.kind === 'docker-archive') {
      // A docker archive records full names (RepoTags): the one given, else the source's.
      if (loc.ref?.startsWith('@')) {
        throw new AirlockError('USAGE', `${loc.input}: @N selects an image to read; a destination needs a name`, { hint: 'write docker-archive:FILE:NAME:TAG, or docker-archive:FILE to keep the source name' });
      }
      const name = loc.ref ?? imageNameOfLocation(sourceLoc);
      return { sink, ...(name ? { tag: name } : {}) };
    }
    if (loc.kind === 'layout') {
      const tag = loc.tag ?? srcTag;
      return { sink, ...(tag ? { tag } : {}) };
    }
    const tag = loc.ref.tag ?? (loc.ref.digest ? undefined : srcTag);
    return { sink, ...(tag ? { tag } : {}), ...(loc.ref.digest ? { pinned: loc.ref.digest } : {}) };
  }

  /** Close every sink that opened: the error of each that failed, by the key of its location. */
  async close(): Promise<Map<string, unknown>> {
    const failed = new Map<string, unknown>();
    await Promise.all(
      [...this.#sinks].map(async ([key, p]) => {
        const sink = await p.catch(() => undefined);
        try {
          await sink?.close?.();
        } catch (e) {
          failed.set(key, e);
        }
      }),
    );
    return failed;
  }

  keyOf(loc: Location): string {
    return Endpoints.#key(loc);
  }
}

const describe = describeLocation;

/**
 * Copy many images in parallel; one failure never stops the others. Results come back in job order.
 */
export async function runTransfers(jobs: TransferJob[], opts: RunOptions): Promise<ImageResult[]> {
  const transport = opts.registries.transport;
  // Blobs fetched again after a source fault use the transport's budget and backoff, and are
  // reported (and counted per image) like its own retries.
  opts = { retries: transport.retryPolicy.retries, retryPolicy: transport.retryPolicy, noteRetry: (i) => transport.noteRetry(i), ...opts };
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
  // When the run was interrupted, and when each image ended: only those still running then were cut short.
  let abortedAt = opts.signal?.aborted ? 0 : Infinity;
  opts.signal?.addEventListener('abort', () => (abortedAt = Date.now()), { once: true });
  const endedAt: number[] = [];
  const stopped = stoppedBy(opts.signal);
  const settled = await mapSettled(jobs, Math.max(1, opts.imageConcurrency ?? opts.concurrency ?? 8), async (job, i) => {
    const sourceName = describe(job.source);
    let destinationName = describe(job.destination);
    const started = Date.now();
    const copy = async () => {
      const { source, reference } = await ends.source(job.source);
      const { sink, tag, pinned } = await ends.sink(job.destination, job.source);
      destinationName = describe(job.destination, tag);
      return await copyImage({ source, reference, sink, ...(tag ? { tag } : {}), ...(pinned ? { expectDigest: pinned } : {}), sourceName, destinationName }, ctxFor(job.platforms));
    };
    try {
      if (opts.signal?.aborted) throw opts.signal.reason;
      // A run that is stopped settles every image at once: the ones still in flight are failed.
      return await (stopped ? Promise.race([copy(), stopped]) : copy());
    } catch (e) {
      return failedResult(sourceName, destinationName, e, Date.now() - started);
    } finally {
      endedAt[i] = Date.now();
    }
  });
  const results = settled.map((s) => {
    if (s.status === 'fulfilled') return s.value;
    throw s.reason;
  });
  // A sink that cannot be finished (an archive's index not written) fails every image sent to it.
  const closeErrors = await ends.close();
  return results.map((r, i) => {
    const e = closeErrors.get(ends.keyOf(jobs[i]!.destination));
    if (e === undefined || r.status === 'failed') return (endedAt[i] ?? Infinity) >= abortedAt ? interrupted(r, opts.signal) : r;
    const err = toAirlockError(e);
    return { ...r, status: 'failed', error: { code: err.code, message: `finishing ${r.destination} failed: ${err.message}`, ...(err.hint ? { hint: err.hint } : {}) } };
  });
}

/**
 * After SIGINT/SIGTERM an image still running then failed because of it, whatever its request
 * reported (a reset stream, a cancelled upload): it is marked INTERRUPTED, with the signal's words.
 * One that had already failed for its own reason keeps it.
 */
function interrupted(r: ImageResult, signal: AbortSignal | undefined): ImageResult {
  if (!signal?.aborted || r.status !== 'failed' || r.error?.code === 'INTERRUPTED') return r;
  const reason = toAirlockError(signal.reason);
  // The run was stopped for another reason (the stall guard): that reason, as it says it.
  if (reason.code !== 'INTERRUPTED' && r.error?.code === reason.code) return r;
  const code = reason.code === 'ABORTED' ? reason.code : 'INTERRUPTED';
  const message = reason.code === 'INTERRUPTED' || reason.code === 'ABORTED' ? reason.message : 'interrupted before it finished';
  return { ...r, error: { code, message, ...(reason.hint ? { hint: reason.hint } : {}) } };
}

/** A promise that rejects with the signal's reason once it is aborted (never, without a signal). */
function stoppedBy(signal: AbortSignal | undefined): Promise<never> | undefined {
  if (!signal) return undefined;
  const p = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  p.catch(() => undefined);
  return p;
}

/** An image that failed before (or instead of) being copied: its error, nothing moved. */
export function failedResult(source: string, destination: string, e: unknown, durationMs: number): ImageResult {
  const err = toAirlockError(e);
  return {
    source,
    destination,
    status: 'failed',
    error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) },
    blobs: { copied: 0, skipped: 0, mounted: 0 },
    bytes: 0,
    manifests: 0,
    referrers: 0,
    retries: 0,
    durationMs,
  };
}


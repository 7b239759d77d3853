import type { Digest } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import { Limiter, Once } from '../util/limit.js';
import type { ContentSink, ContentSource } from '../content/types.js';
import type { RetryInfo, RetryPolicy } from '../registry/transport.js';
import type { BlobAction, EventSink } from './events.js';
import type { PlatformSpec } from './platform.js';

/** Repositories on each registry known (this run) to hold a blob: candidates for a mount. */
export class MountIndex {
  readonly #m = new Map<string, Map<Digest, Set<string>>>();

  add(registry: string, digest: Digest, repo: string): void {
    let byDigest = this.#m.get(registry);
    if (!byDigest) this.#m.set(registry, (byDigest = new Map()));
    let repos = byDigest.get(digest);
    if (!repos) byDigest.set(digest, (repos = new Set()));
    repos.add(repo);
  }

  candidate(registry: string, digest: Digest, except: string): string | undefined {
    for (const r of this.#m.get(registry)?.get(digest) ?? []) if (r !== except) return r;
    return undefined;
  }
}

export interface TransferOptions {
  /** Only these platforms of a multi-platform image (default: all, index copied byte-identical). */
  platforms?: PlatformSpec[];
  /** Copy signatures, attestations, SBOMs and OCI referrers (default true). */
  referrers?: boolean;
  dryRun?: boolean;
  /** Parallel blob transfers across the whole run. */
  concurrency?: number;
  /** Copy even when the destination tag already points at the source digest. */
  force?: boolean;
  onEvent?: EventSink;
  signal?: AbortSignal;
  /**
   * How often a blob whose read failed or did not verify is fetched again before its image fails
   * (shared with the source's own resumed reads). Default: the transport's retries.
   */
  retries?: number;
  /** Backoff between such fetches. Default: the transport's policy. */
  retryPolicy?: RetryPolicy;
  /** Report a retry the engine decided (logs, and the image's retry count). */
  noteRetry?: (info: RetryInfo) => void;
  /**
   * Tag lists a caller already fetched, by `registry/repository` (sync lists each source repository
   * once to select tags; the engine reuses that list to find cosign attachments instead of asking again).
   */
  tagLists?: ReadonlyMap<string, Promise<string[]>>;
}

/** State shared by every image of one run: limits, dedupe, mount candidates, caches. */
export class TransferContext {
  readonly blobLimiter: Limiter;
  readonly blobOnce = new Once<string, { action: BlobAction; owner: object }>();
  readonly manifestOnce = new Once<string, boolean>();
  readonly mounts = new MountIndex();
  readonly #tags = new Map<ContentSource, Promise<Set<string>>>();
  readonly #leaders = new Map<string, { repo: string; done: Promise<void> }>();
  readonly emit: EventSink;
  #nextId = 1;

  constructor(readonly options: TransferOptions = {}) {
    this.blobLimiter = new Limiter(Math.max(1, options.concurrency ?? 8));
    this.emit = options.onEvent ?? (() => undefined);
  }

  get dryRun(): boolean {
    return this.options.dryRun ?? false;
  }

  get referrers(): boolean {
    return this.options.referrers ?? true;
  }

  /**
   * Several images of a run often share a base layer, each going to its own repository. The first
   * to need a blob on a registry transfers it; the others wait for it and then mount it instead of
   * uploading the same bytes again. Waiting happens outside the blob limiter, so it never starves.
   */
  async leadOrFollow(sink: ContentSink, digest: Digest): Promise<(() => void) | undefined> {
    const dst = sink.registryRepo;
    if (!dst) return undefined;
    const key = `${dst.registry}|${digest}`;
    const leader = this.#leaders.get(key);
    if (!leader) {
      let finish!: () => void;
      const done = new Promise<void>((r) => (finish = r));
      this.#leaders.set(key, { repo: dst.repository, done });
      return finish;
    }
    if (leader.repo !== dst.repository) await leader.done;
    return undefined;
  }

  nextId(): number {
    return this.#nextId++;
  }

  /**
   * A source's tags, listed once per run (cosign and fallback tags are found here). A source that
   * does not let us list (404, 401, 403) has no attachments we could find; any other failure fails
   * the image rather than dropping its signatures in silence, and a later image asks again.
   */
  tagsOf(source: ContentSource): Promise<Set<string>> {
    let p = this.#tags.get(source);
    if (!p) {
      const rr = source.registryRepo;
      const known = rr ? this.options.tagLists?.get(`${rr.registry}/${rr.repository}`) : undefined;
      p = (known ?? source.listTags()).then(
        (t) => new Set(t),
        (e: unknown) => {
          if (e instanceof AirlockError && (e.code === 'NOT_FOUND' || e.code === 'DENIED' || e.code === 'UNAUTHORIZED')) return new Set<string>();
          this.#tags.delete(source);
          throw e;
        },
      );
      this.#tags.set(source, p);
    }
    return p;
  }
}

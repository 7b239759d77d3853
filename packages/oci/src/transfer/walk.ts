import type { Readable } from 'node:stream';
import { type Digest, sourceFaultOf } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import { isForeignLayer } from '../manifest/mediatypes.js';
import { childrenOf, type Manifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { ContentSink, ContentSource } from '../content/types.js';
import { backoffMs, DEFAULT_RETRY } from '../registry/transport.js';
import { allSettledOrThrow } from '../util/limit.js';
import { sleep } from '../util/sleep.js';
import type { TransferContext } from './context.js';
import type { TransferStats } from './result.js';

/**
 * The walk below one manifest: children before parents (blobs, then platform manifests, then the
 * index), each blob skipped, mounted or streamed once per run. Referrers and tags are the callers'.
 */

/** Work shared by one image (and its referrers): who to bill, what was already walked. */
export interface ImageScope {
  id: number;
  stats: TransferStats;
  visited: Set<string>;
}

/** Where a walk reads from and writes to. */
export interface Pair {
  source: ContentSource;
  sink: ContentSink;
}

/**
 * Copy a manifest and everything below it, children first: an index only after every platform
 * manifest it lists is in place, a manifest only after all its blobs, the tag with the manifest last.
 */
export async function copyManifest(m: Manifest, destRef: string, req: Pair, ctx: TransferContext, scope: ImageScope): Promise<{ subjectProcessed: boolean }> {
  if (m.kind === 'index') {
    await allSettledOrThrow(
      m.index.manifests.map(async (child) => {
        const key = `${req.sink.name}|${child.digest}`;
        await ctx.manifestOnce.get(key, async () => {
          if (!ctx.options.force && (await req.sink.resolve(child.digest)) === child.digest) return false;
          const cm = await req.source.getManifest(child.digest);
          if (cm.bytes.length !== child.size) {
            throw new AirlockError('DIGEST_MISMATCH', `${req.source.name}@${child.digest}: size ${cm.bytes.length} differs from the index's ${child.size}`);
          }
          await copyManifest(cm, child.digest, req, ctx, scope);
          return true;
        });
      }),
    );
  } else {
    await allSettledOrThrow(childrenOf(m).filter((d) => !isForeignLayer(d.mediaType)).map((d) => copyBlob(d, req, ctx, scope)));
  }
  if (ctx.dryRun) return { subjectProcessed: false };
  const r = await req.sink.pushManifest(m, destRef);
  scope.stats.manifests++;
  ctx.emit({ type: 'manifest-pushed', id: scope.id, reference: destRef, digest: m.digest });
  return r;
}

/** Make a blob exist at the sink: skip (HEAD), mount from a sibling repository, or stream it over. */
async function copyBlob(desc: Descriptor, req: Pair, ctx: TransferContext, scope: ImageScope): Promise<void> {
  ctx.options.signal?.throwIfAborted();
  const { source, sink } = req;
  const key = `${sink.name}|${desc.digest}`;
  const finish = await ctx.leadOrFollow(sink, desc.digest);
  let outcome;
  try {
    outcome = await ctx.blobOnce.get(key, () =>
      ctx.blobLimiter.run(async () => {
        const action = await transferBlob(desc, source, sink, ctx, scope.id);
        return { action, owner: scope };
      }),
    );
  } finally {
    finish?.();
  }
  // Another image of this run moved it: for this one it was already there.
  const action = outcome.owner === scope ? outcome.action : 'skipped';
  if (action === 'uploaded' || action === 'planned') {
    scope.stats.blobs.copied++;
    scope.stats.bytes += desc.size;
  } else if (action === 'mounted') scope.stats.blobs.mounted++;
  else scope.stats.blobs.skipped++;
}

async function transferBlob(desc: Descriptor, source: ContentSource, sink: ContentSink, ctx: TransferContext, id: number) {
  const dst = sink.registryRepo;
  const remember = () => dst && ctx.mounts.add(dst.registry, desc.digest as Digest, dst.repository);
  if (source.registryRepo) ctx.mounts.add(source.registryRepo.registry, desc.digest, source.registryRepo.repository);
  // A sibling repository on the destination registry holds it: mount directly (a 201 also covers
  // "already here"); a refused mount falls back to upload inside pushBlob.
  const mountFirst = !ctx.dryRun && dst ? ctx.mounts.candidate(dst.registry, desc.digest, dst.repository) : undefined;
  // Otherwise always ask, even a repository without tags: an interrupted run leaves committed blobs
  // in repositories it never tagged, and a re-run must not send them again.
  if (!mountFirst && (await sink.hasBlob(desc))) {
    remember();
    ctx.emit({ type: 'blob-done', id, digest: desc.digest, size: desc.size, action: 'skipped' });
    return 'skipped' as const;
  }
  if (ctx.dryRun) {
    ctx.emit({ type: 'blob-done', id, digest: desc.digest, size: desc.size, action: 'planned' });
    return 'planned' as const;
  }
  const mountFrom = mountFirst ?? (dst ? ctx.mounts.candidate(dst.registry, desc.digest, dst.repository) : undefined);
  ctx.emit({ type: 'blob-start', id, digest: desc.digest, size: desc.size });
  const action = await pushFetchingAgain(desc, source, sink, mountFrom, ctx, id);
  remember();
  ctx.emit({ type: 'blob-done', id, digest: desc.digest, size: desc.size, action });
  return action;
}

/**
 * Push a blob; when the source failed it (a read cut beyond what the source could continue itself,
 * content that did not verify), fetch it again from the start into a new write, within the retry
 * budget the source's own re-reads share. A fault that persists is final and names the source.
 * Failures of the destination are the sink's to retry (pushBlob) and end here.
 */
async function pushFetchingAgain(desc: Descriptor, source: ContentSource, sink: ContentSink, mountFrom: string | undefined, ctx: TransferContext, id: number) {
  const policy = ctx.options.retryPolicy ?? DEFAULT_RETRY;
  const budget = { left: Math.max(0, ctx.options.retries ?? policy.retries) };
  for (let fetches = 1; ; fetches++) {
    let last: Readable | undefined;
    const open = async () => (last = await source.openBlob(desc, { budget, onProgress: (n) => ctx.emit({ type: 'blob-progress', id, digest: desc.digest, bytes: n }) }));
    try {
      return await sink.pushBlob(desc, open, mountFrom ? { mountFrom } : {});
    } catch (e) {
      const fault = sourceFaultOf(last);
      if (!fault) throw e;
      if (budget.left <= 0) {
        throw fetches > 1 ? new AirlockError(fault.code, `${fault.message} (fetched ${fetches} times)`, { hint: fault.hint, cause: fault }) : fault;
      }
      budget.left--;
      const delayMs = backoffMs(fetches - 1, policy);
      ctx.options.noteRetry?.({ url: `${source.name}@${desc.digest}`, attempt: fetches, delayMs, reason: `${fault.code === 'DIGEST_MISMATCH' ? 'content did not verify' : 'read failed'}; fetching again` });
      await sleep(delayMs, ctx.options.signal);
    }
  }
}

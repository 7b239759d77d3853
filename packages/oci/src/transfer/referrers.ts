import { COSIGN_SUFFIXES, cosignTag, fallbackTag, updateFallbackIndex } from '../attach/tags.js';
import type { Digest } from '../digest/digest.js';
import type { Manifest } from '../manifest/parse.js';
import type { ContentSink, ContentSource } from '../content/types.js';
import type { TransferContext } from './context.js';
import { copyManifest, type ImageScope } from './walk.js';
import { allSettledOrThrow } from '../util/limit.js';

/**
 * Copy everything that refers to the given manifests, recursively: cosign's `.sig/.att/.sbom` tags,
 * and OCI 1.1 referrers (from the referrers API, else the `sha256-<hex>` fallback tag index). At a
 * destination without the referrers API the fallback tag index is maintained (merged, not replaced).
 */
export async function copyReferrers(subjects: Digest[], source: ContentSource, sink: ContentSink, ctx: TransferContext, scope: ImageScope): Promise<void> {
  const todo = subjects.filter((d) => !scope.visited.has(`ref|${d}`));
  if (!todo.length) return;
  todo.forEach((d) => scope.visited.add(`ref|${d}`));
  const tags = await ctx.tagsOf(source);
  await allSettledOrThrow(todo.map((d) => referrersOf(d, tags, source, sink, ctx, scope)));
}

async function referrersOf(subject: Digest, tags: Set<string>, source: ContentSource, sink: ContentSink, ctx: TransferContext, scope: ImageScope): Promise<void> {
  const jobs: Promise<void>[] = [];
  for (const suffix of COSIGN_SUFFIXES) {
    const tag = cosignTag(subject, suffix);
    if (tags.has(tag)) jobs.push(copyAttached(source, tag, sink, tag, ctx, scope));
  }
  let list = await source.referrers(subject);
  let sourceFallback: Manifest | undefined;
  const ftag = fallbackTag(subject);
  if (list === undefined && tags.has(ftag)) {
    sourceFallback = await source.getManifest(ftag);
    list = sourceFallback.kind === 'index' ? sourceFallback.index.manifests : [];
  }
  const referrers = list ?? [];
  let processedBySink = false;
  let pushed = false;
  for (const desc of referrers) {
    jobs.push(
      (async () => {
        const r = await copyAttachedByDigest(source, desc.digest, sink, ctx, scope);
        if (r !== undefined) pushed = true;
        if (r) processedBySink = true;
      })(),
    );
  }
  await allSettledOrThrow(jobs);
  if (referrers.length && !processedBySink && !ctx.dryRun) {
    // With every referrer already there, no PUT told us (OCI-Subject) whether the sink indexes
    // subjects itself: ask its referrers API before creating a fallback tag it does not need.
    if (!pushed && (await sinkHasReferrersApi(sink, subject))) return;
    await updateFallbackIndex(sink, subject, referrers, sourceFallback);
  }
}

/** Whether the sink serves the referrers API (a registry that has it needs no fallback tag). */
async function sinkHasReferrersApi(sink: ContentSink, subject: Digest): Promise<boolean> {
  return sink.referrers ? (await sink.referrers(subject)) !== undefined : false;
}

/** Copy a tagged attachment (cosign) and its own referrers. */
async function copyAttached(source: ContentSource, ref: string, sink: ContentSink, tag: string, ctx: TransferContext, scope: ImageScope): Promise<void> {
  const m = await source.getManifest(ref);
  if ((await sink.resolve(tag)) !== m.digest) await copyManifest(m, tag, { source, sink }, ctx, scope);
  scope.stats.referrers++;
  await copyReferrers([m.digest], source, sink, ctx, scope);
}

/**
 * Copy a referrer by digest: true when the sink indexed its subject itself (referrers API), false
 * when it did not, undefined when the sink already had it (nothing pushed, nothing learnt).
 */
async function copyAttachedByDigest(source: ContentSource, digest: Digest, sink: ContentSink, ctx: TransferContext, scope: ImageScope): Promise<boolean | undefined> {
  let processed: boolean | undefined;
  if ((await sink.resolve(digest)) !== digest) {
    const m = await source.getManifest(digest);
    processed = (await copyManifest(m, digest, { source, sink }, ctx, scope)).subjectProcessed;
  }
  scope.stats.referrers++;
  await copyReferrers([digest], source, sink, ctx, scope);
  return processed;
}

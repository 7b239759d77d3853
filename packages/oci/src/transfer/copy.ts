import { isDigest, type Digest } from '../digest/digest.js';
import { AirlockError, toAirlockError } from '../errors.js';
import { isForeignLayer } from '../manifest/mediatypes.js';
import { childrenOf, type Manifest, parseManifest, platformString } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { ContentSink, ContentSource } from '../content/types.js';
import { allSettledOrThrow } from '../util/limit.js';
import type { TransferContext } from './context.js';
import { platformMatches } from './platform.js';
import { copyReferrers } from './referrers.js';
import { type ImageResult, newStats, type TransferStats } from './result.js';

export interface CopyRequest {
  source: ContentSource;
  /** Tag or digest at the source. */
  reference: string;
  sink: ContentSink;
  /** Tag at the destination; without one the image is stored by digest only. */
  tag?: string;
  /** The destination was given by digest: the copied manifest must have exactly this digest. */
  expectDigest?: string;
  /** Names for reports. */
  sourceName?: string;
  destinationName?: string;
}

/** Work shared by one image (and its referrers): who to bill, what was already walked. */
export interface ImageScope {
  id: number;
  stats: TransferStats;
  visited: Set<string>;
}

/** Copy one image (index, platform manifests, blobs, then referrers). Never throws: failures are results. */
export async function copyImage(req: CopyRequest, ctx: TransferContext): Promise<ImageResult> {
  const started = Date.now();
  const scope: ImageScope = { id: ctx.nextId(), stats: newStats(), visited: new Set() };
  const source = req.sourceName ?? `${req.source.name}${isDigest(req.reference) ? '@' : ':'}${req.reference}`;
  const destination = req.destinationName ?? (req.tag ? `${req.sink.name}:${req.tag}` : req.sink.name);
  ctx.emit({ type: 'image-start', id: scope.id, source, destination });
  let result: ImageResult;
  try {
    // Independent round trips start together: the source manifest, what the destination tag
    // holds now, and the source's tag list (where cosign attachments are found).
    const tagAtDest = req.tag && !ctx.options.force ? req.sink.resolve(req.tag) : undefined;
    tagAtDest?.catch(() => undefined);
    if (ctx.referrers) ctx.tagsOf(req.source).catch(() => undefined);
    const top = await req.source.getManifest(req.reference);
    const chosen = await selectPlatforms(top, req, ctx);
    if (req.expectDigest && chosen.manifest.digest !== req.expectDigest) {
      throw new AirlockError('DIGEST_MISMATCH', `${source} is ${chosen.manifest.digest}, not the ${req.expectDigest} the destination names`, {
        hint: 'the source changed since the digest was pinned, or the wrong digest was given; nothing was written',
      });
    }
    const destRef = req.tag ?? chosen.manifest.digest;
    const existing = ctx.options.force ? undefined : await (tagAtDest ?? req.sink.resolve(destRef));
    const upToDate = existing === chosen.manifest.digest;
    if (!upToDate) await copyManifest(chosen.manifest, destRef, req, ctx, scope);
    if (ctx.referrers) {
      const subjects = [top.digest, chosen.manifest.digest, ...(chosen.manifest.kind === 'index' ? chosen.manifest.index.manifests.map((d) => d.digest) : [])];
      await copyReferrers([...new Set(subjects)], req.source, req.sink, ctx, scope);
    }
    result = {
      source,
      destination,
      sourceDigest: top.digest,
      destinationDigest: chosen.manifest.digest,
      status: ctx.dryRun ? (upToDate ? 'skipped' : 'planned') : upToDate && scope.stats.manifests === 0 ? 'skipped' : 'copied',
      ...(chosen.platforms ? { platforms: chosen.platforms } : {}),
      ...scope.stats,
      durationMs: Date.now() - started,
    };
  } catch (e) {
    const err = toAirlockError(e);
    result = {
      source,
      destination,
      status: 'failed',
      error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) },
      ...scope.stats,
      durationMs: Date.now() - started,
    };
  }
  ctx.emit({ type: 'image-done', id: scope.id, result });
  return result;
}

/**
 * Apply --platform. No filter: the manifest as is (index byte-identical). One match: that platform's
 * manifest itself. Several: a new index listing only them (its digest differs from the source's).
 */
async function selectPlatforms(top: Manifest, req: CopyRequest, ctx: TransferContext): Promise<{ manifest: Manifest; platforms?: string[] }> {
  const specs = ctx.options.platforms;
  if (top.kind !== 'index') return { manifest: top };
  const all = top.index.manifests.filter((d) => d.platform).map((d) => platformString(d.platform!));
  if (!specs?.length) return { manifest: top, platforms: all };
  const picked = top.index.manifests.filter((d) => specs.some((s) => platformMatches(s, d.platform)));
  if (picked.length === 0) {
    throw new AirlockError('NOT_FOUND', `${req.source.name}:${req.reference} has no manifest for ${specs.map(platformString).join(', ')}`, {
      hint: `available platforms: ${all.join(', ') || 'none declared'}`,
    });
  }
  const names = picked.map((d) => platformString(d.platform!));
  if (picked.length === 1) return { manifest: await req.source.getManifest(picked[0]!.digest), platforms: names };
  const json = JSON.parse(top.bytes.toString('utf8')) as { manifests: Descriptor[] };
  json.manifests = picked;
  const bytes = Buffer.from(JSON.stringify(json));
  return { manifest: parseManifest(bytes, top.mediaType, `${req.source.name} (filtered index)`), platforms: names };
}

/**
 * Copy a manifest and everything below it, children first: an index only after every platform
 * manifest it lists is in place, a manifest only after all its blobs, the tag with the manifest last.
 */
export async function copyManifest(m: Manifest, destRef: string, req: Pick<CopyRequest, 'source' | 'sink'>, ctx: TransferContext, scope: ImageScope): Promise<{ subjectProcessed: boolean }> {
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
async function copyBlob(desc: Descriptor, req: Pick<CopyRequest, 'source' | 'sink'>, ctx: TransferContext, scope: ImageScope): Promise<void> {
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
  if (!mountFirst && !(await ctx.isFresh(sink)) && (await sink.hasBlob(desc))) {
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
  const open = () => source.openBlob(desc, { onProgress: (n) => ctx.emit({ type: 'blob-progress', id, digest: desc.digest, bytes: n }) });
  const action = await sink.pushBlob(desc, open, mountFrom ? { mountFrom } : {});
  remember();
  ctx.emit({ type: 'blob-done', id, digest: desc.digest, size: desc.size, action });
  return action;
}

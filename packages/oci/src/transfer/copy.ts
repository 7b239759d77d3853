import { isDigest } from '../digest/digest.js';
import { AirlockError, toAirlockError } from '../errors.js';
import { isForeignLayer } from '../manifest/mediatypes.js';
import { childrenOf, type Manifest, parseManifest, platformString } from '../manifest/parse.js';
import { retryTally } from '../registry/transport.js';
import type { Descriptor } from '../manifest/schema.js';
import type { ContentSink, ContentSource } from '../content/types.js';
import type { TransferContext } from './context.js';
import { platformMatches, type PlatformSpec } from './platform.js';
import { readLimited } from '../util/body.js';
import { z } from 'zod';
import { copyReferrers } from './referrers.js';
import { copyManifest, type ImageScope } from './walk.js';
import { type ImageResult, newStats } from './result.js';

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

/** Copy one image (index, platform manifests, blobs, then referrers). Never throws: failures are results. */
export async function copyImage(req: CopyRequest, ctx: TransferContext): Promise<ImageResult> {
  const scope: ImageScope = { id: ctx.nextId(), stats: newStats(), visited: new Set() };
  // Every retry made on this image's behalf (transport, upload, source re-read) is counted in its stats.
  return retryTally.run(scope.stats, () => copyImageIn(scope, req, ctx));
}

async function copyImageIn(scope: ImageScope, req: CopyRequest, ctx: TransferContext): Promise<ImageResult> {
  const started = Date.now();
  const source = req.sourceName ?? `${req.source.name}${isDigest(req.reference) ? '@' : ':'}${req.reference}`;
  const destination = req.destinationName ?? (req.tag ? `${req.sink.name}:${req.tag}` : req.sink.name);
  ctx.emit({ type: 'image-start', id: scope.id, source, destination });
  let result: ImageResult;
  try {
    // Independent round trips start together: the source manifest, what the destination tag
    // holds now, and the source's tag list (where cosign attachments are found).
    const tagAtDest = req.tag && !ctx.options.force ? req.sink.resolve(req.tag) : undefined;
    tagAtDest?.catch(() => undefined);
    const referrers = ctx.referrers && req.sink.acceptsReferrers !== false;
    if (referrers) ctx.tagsOf(req.source).catch(() => undefined);
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
    else rememberBlobs(chosen.manifest, req.sink, ctx);
    if (referrers) {
      const subjects = [top.digest, chosen.manifest.digest, ...(chosen.manifest.kind === 'index' ? chosen.manifest.index.manifests.map((d) => d.digest) : [])];
      await copyReferrers([...new Set(subjects)], req.source, req.sink, ctx, scope);
    }
    result = {
      source,
      destination,
      sourceDigest: top.digest,
      ...(req.source.isSynthesized?.(top.digest) ? { sourceDigestComputed: true } : {}),
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
 * An image already at a registry destination has its blobs in that repository (a registry takes a
 * manifest only once they are there): other images of the run, and a re-run after an interruption,
 * mount them from it instead of uploading them again.
 */
function rememberBlobs(m: Manifest, sink: ContentSink, ctx: TransferContext): void {
  const dst = sink.registryRepo;
  if (!dst || m.kind === 'index') return;
  for (const d of childrenOf(m)) if (!isForeignLayer(d.mediaType)) ctx.mounts.add(dst.registry, d.digest, dst.repository);
}

/**
 * Apply --platform. No filter: the manifest as is (index byte-identical). One match: that platform's
 * manifest itself. Several: a new index listing only them (its digest differs from the source's).
 */
async function selectPlatforms(top: Manifest, req: CopyRequest, ctx: TransferContext): Promise<{ manifest: Manifest; platforms?: string[] }> {
  const specs = ctx.options.platforms;
  if (top.kind !== 'index') {
    if (!specs?.length) return { manifest: top };
    // A single-platform image: it is copied only if it is one of the platforms asked for.
    const own = await imagePlatform(top, req);
    if (own && specs.some((s) => platformMatches(s, own))) return { manifest: top, platforms: [platformString(own)] };
    throw new AirlockError('NOT_FOUND', `${req.source.name}:${req.reference} is a single-platform image for ${own ? platformString(own) : 'no declared platform'}, not ${specs.map(platformString).join(', ')}`, {
      hint: `available platforms: ${own ? platformString(own) : 'none declared'}; drop --platform to copy it as it is`,
    });
  }
  const all = top.index.manifests.filter((d) => d.platform).map((d) => platformString(d.platform!));
  if (req.sink.onePlatform) {
    // A docker archive holds one platform: the one asked for, or the only real one (attestation
    // manifests, platform unknown/unknown, do not count).
    const real = top.index.manifests.filter((d) => d.platform && !(d.platform.os === 'unknown' && d.platform.architecture === 'unknown'));
    const picked = specs?.length ? real.filter((d) => specs.some((s) => platformMatches(s, d.platform))) : real;
    if (picked.length !== 1) {
      const has = picked.length ? 'several platforms' : `no ${specs?.map(platformString).join(' or ') ?? 'single'} platform`;
      throw new AirlockError('USAGE', `${req.sink.name} holds one platform per image; ${req.source.name}:${req.reference} has ${has}`, {
        hint: `choose one with --platform (available: ${all.join(', ') || 'none declared'})`,
      });
    }
    return { manifest: await req.source.getManifest(picked[0]!.digest), platforms: [platformString(picked[0]!.platform!)] };
  }
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

const imageConfigSchema = z.object({ os: z.string(), architecture: z.string(), variant: z.string().optional() });

/** The os/architecture[/variant] a single-platform image's config declares (undefined for artifacts). */
async function imagePlatform(m: Extract<Manifest, { kind: 'image' }>, req: CopyRequest): Promise<PlatformSpec | undefined> {
  const config = m.image.config;
  if (!/(?:container\.image\.v1|vnd\.oci\.image\.config\.v1)\+json$/.test(config.mediaType) || config.size > 4 * 1024 * 1024) return undefined;
  const body = await req.source.openBlob(config);
  const bytes = await readLimited(body, 4 * 1024 * 1024, `${req.source.name}@${config.digest}`);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const r = imageConfigSchema.safeParse(json);
  if (!r.success) return undefined;
  return { os: r.data.os, architecture: r.data.architecture, ...(r.data.variant ? { variant: r.data.variant } : {}) };
}

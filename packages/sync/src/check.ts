import type { Readable } from 'node:stream';
import {
  AirlockError,
  COSIGN_SUFFIXES,
  cosignTag,
  digestOf,
  fallbackTag,
  isIndexMediaType,
  MANIFEST_ACCEPT,
  parseManifest,
  platformMatches,
  platformString,
  pullScope,
  pushScope,
  repositoryName,
  responseError,
  toAirlockError,
  header,
  type Descriptor,
  type Digest,
  type Registries,
  type RegistryClient,
} from '@airlock/oci';
import { ATTACHMENT_TAG } from './select.js';
import type { SyncItem } from './resolve.js';

/**
 * The cheap check that makes a no-op sync cost almost nothing: HEAD the source and the destination
 * manifests and compare `Docker-Content-Digest`; when they match, compare the digests of the
 * source's cosign/fallback tags for that image (the source tag list was fetched once per repository
 * anyway) with HEADs, and stop there. Nothing below an unchanged manifest is looked at.
 */

export type PlanAction = 'up-to-date' | 'copy' | 'failed';

export interface Plan {
  item: SyncItem;
  action: PlanAction;
  /** Why: "new tag", "changed digest (…)", "missing referrer …", "up to date", or the failure. */
  reason: string;
  sourceDigest?: Digest;
  destinationDigest?: Digest;
  error?: { code: string; message: string; hint?: string };
  checkMs: number;
}

type Head = { found: false } | { found: true; digest?: Digest; mediaType: string };

async function drain(body: Readable): Promise<void> {
  for await (const _ of body) {
    /* discard */
  }
}

/** HEAD a manifest: found with its digest (when the registry sends it), or not found. */
export async function headManifest(client: RegistryClient, repo: string, reference: string, push: boolean): Promise<Head> {
  const res = await client.send([push ? pushScope(repo) : pullScope(repo)], { method: 'HEAD', path: `/v2/${repo}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT } });
  if (res.status === 404) {
    await drain(res.body);
    return { found: false };
  }
  if (res.status !== 200) throw await responseError(res, `HEAD ${client.registry}/${repo}:${reference}`);
  await drain(res.body);
  const d = header(res.headers, 'docker-content-digest');
  return { found: true, ...(d && /^sha(256|512):[0-9a-f]+$/.test(d) ? { digest: d as Digest } : {}), mediaType: (header(res.headers, 'content-type') ?? '').split(';')[0]!.trim() };
}

const short = (d: string | undefined) => (d ? `${d.slice(0, 19)}…` : '?');

export interface CheckContext {
  registries: Registries;
  tagLists: Map<string, Promise<string[]>>;
  force: boolean;
  dryRun: boolean;
  /** Digests of every source image checked so far, per source repository (to explain attachment tags). */
  knownSubjects: Map<string, Set<string>>;
  /** One referrers-API probe per source registry before the others ask. */
  referrersProbe: Map<string, Promise<unknown>>;
}

/** Phase 1: the source digest (HEAD, or the pinned digest without a request). */
export async function sourceHead(item: SyncItem, ctx: CheckContext): Promise<Head> {
  if (item.source.digest) return { found: true, digest: item.source.digest, mediaType: '' };
  const client = ctx.registries.client(item.source.registry);
  return headManifest(client, item.source.repository, item.source.tag!, false);
}

/** Phase 2: compare with the destination and the attachments. */
export async function checkItem(item: SyncItem, src: Head, ctx: CheckContext, started: number): Promise<Plan> {
  const done = (action: PlanAction, reason: string, extra: Partial<Plan> = {}): Plan => ({ item, action, reason, ...extra, checkMs: Date.now() - started });
  if (item.error) return done('failed', item.error.message, { error: item.error });
  if (!src.found) {
    const error = { code: 'NOT_FOUND', message: `${item.sourceName}: manifest not found`, hint: 'check the repository name and tag (skopeo list-tags / crane ls show what exists)' };
    return done('failed', error.message, { error });
  }
  if (ctx.force) return done('copy', 'forced (--force)', src.digest ? { sourceDigest: src.digest } : {});
  if (!src.digest) return done('copy', 'the source did not send Docker-Content-Digest: compared while copying');
  const sourceDigest = src.digest;
  const srcClient = ctx.registries.client(item.source.registry);
  // With a platform filter the destination holds the platform manifest or a filtered index: work
  // out its digest from the source index (one GET), exactly as the engine will write it.
  let expected: Digest = sourceDigest;
  let children: Digest[] = [];
  let mediaType = src.mediaType;
  let index: ReturnType<typeof parseManifest> | undefined;
  const needIndex = async () => {
    if (!index) index = await srcClient.getManifest(item.source.repository, sourceDigest);
    return index;
  };
  if (item.platforms?.length && (mediaType === '' || isIndexMediaType(mediaType))) {
    const top = await needIndex();
    mediaType = top.mediaType;
    if (top.kind === 'index') {
      const picked = top.index.manifests.filter((d) => item.platforms!.some((s) => platformMatches(s, d.platform)));
      if (!picked.length) {
        const error = {
          code: 'NOT_FOUND',
          message: `${item.sourceName} has no manifest for ${item.platforms.map(platformString).join(', ')}`,
          hint: `available platforms: ${top.index.manifests.filter((d) => d.platform).map((d) => platformString(d.platform!)).join(', ') || 'none declared'}`,
        };
        return done('failed', error.message, { error, sourceDigest });
      }
      if (picked.length === 1) expected = picked[0]!.digest;
      else {
        const json = JSON.parse(top.bytes.toString('utf8')) as { manifests: Descriptor[] };
        json.manifests = picked;
        expected = digestOf(Buffer.from(JSON.stringify(json)));
      }
      children = picked.map((d) => d.digest);
    }
  }
  const dstClient = ctx.registries.client(item.destination.registry);
  const dst = await headManifest(dstClient, item.destination.repository, item.destination.tag ?? item.destination.digest!, !ctx.dryRun);
  if (!dst.found) return done('copy', item.destination.tag ? 'new tag' : 'new image', { sourceDigest });
  if (!dst.digest) return done('copy', 'the destination did not send Docker-Content-Digest: compared while copying', { sourceDigest });
  if (dst.digest !== expected) return done('copy', `changed digest (${short(dst.digest)} → ${short(expected)})`, { sourceDigest, destinationDigest: dst.digest });
  if (!item.referrers) return done('up-to-date', 'up to date', { sourceDigest, destinationDigest: dst.digest });

  // Attachments: cosign tags and fallback indexes of the image's manifests, found in the tag list.
  const repoKey = repositoryName(item.source);
  let tags: Set<string>;
  try {
    tags = new Set(await (ctx.tagLists.get(repoKey) ?? Promise.reject(new Error('not listed'))));
  } catch {
    return done('copy', 'the source tags could not be listed: referrers compared while copying', { sourceDigest, destinationDigest: dst.digest });
  }
  // Attachment tags whose subject is none of the images we know may belong to this index's
  // platform manifests: then read the index (one GET) to check those too.
  const known = ctx.knownSubjects.get(repoKey) ?? new Set<string>();
  const unexplained = [...tags].some((t) => ATTACHMENT_TAG.test(t) && !known.has(`sha256:${t.slice(7, 71)}`));
  if (unexplained && isIndexMediaType(mediaType) && !children.length) {
    const top = await needIndex();
    if (top.kind === 'index') children = top.index.manifests.map((d) => d.digest);
  }
  const subjects: Digest[] = [...new Set([sourceDigest, expected, ...children])];
  const dstRepo = item.destination.repository;
  for (let i = 0; i < subjects.length; i++) {
    const subject = subjects[i]!;
    if (!subject.startsWith('sha256:')) continue;
    for (const tag of [...COSIGN_SUFFIXES.map((s) => cosignTag(subject, s)), fallbackTag(subject)]) {
      if (!tags.has(tag)) continue;
      const [s, d] = await Promise.all([headManifest(srcClient, item.source.repository, tag, false), headManifest(dstClient, dstRepo, tag, !ctx.dryRun)]);
      if (!s.found) continue; // removed since the list was read
      if (!d.found) return done('copy', `missing referrer ${tag}`, { sourceDigest, destinationDigest: dst.digest });
      if (s.digest !== d.digest) {
        // The destination's fallback index may list more than the source's (merged): compare contents.
        if (!tag.includes('.') && (await fallbackCovers(srcClient, dstClient, item, tag))) continue;
        return done('copy', `changed referrer ${tag}`, { sourceDigest, destinationDigest: dst.digest });
      }
      if (s.digest && tag.includes('.')) subjects.push(s.digest);
    }
  }
  // A source with the OCI 1.1 referrers API: every referrer must exist at the destination.
  let probe = ctx.referrersProbe.get(item.source.registry);
  const ask = () => srcClient.referrers(item.source.repository, sourceDigest);
  let referrers: Descriptor[] | undefined;
  if (!probe) {
    probe = ask();
    ctx.referrersProbe.set(item.source.registry, probe.catch(() => undefined));
    referrers = (await probe) as Descriptor[] | undefined;
  } else {
    await probe;
    referrers = await ask();
  }
  for (const r of referrers ?? []) {
    const d = await headManifest(dstClient, dstRepo, r.digest, !ctx.dryRun);
    if (!d.found) return done('copy', `missing referrer ${short(r.digest)}${r.artifactType ? ` (${r.artifactType})` : ''}`, { sourceDigest, destinationDigest: dst.digest });
  }
  return done('up-to-date', 'up to date', { sourceDigest, destinationDigest: dst.digest });
}

async function fallbackCovers(src: RegistryClient, dst: RegistryClient, item: SyncItem, tag: string): Promise<boolean> {
  try {
    const [s, d] = await Promise.all([src.getManifest(item.source.repository, tag), dst.getManifest(item.destination.repository, tag)]);
    if (s.kind !== 'index' || d.kind !== 'index') return false;
    const have = new Set(d.index.manifests.map((m) => m.digest));
    return s.index.manifests.every((m) => have.has(m.digest));
  } catch {
    return false;
  }
}

export function failedPlan(item: SyncItem, e: unknown, started: number): Plan {
  const err = toAirlockError(e);
  const error = { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  return { item, action: 'failed', reason: err.message, error, checkMs: Date.now() - started };
}

export { AirlockError };

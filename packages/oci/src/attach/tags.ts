import type { ContentSink } from '../content/types.js';
import { type Digest, hexOf } from '../digest/digest.js';
import { MediaType } from '../manifest/mediatypes.js';
import { type Manifest, parseManifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';

/**
 * Where attachments live in a repository: cosign's `.sig/.att/.sbom` tags, and the OCI 1.1
 * referrers fallback tag (`sha256-<hex>`) for registries and layouts without the referrers API.
 */

/** cosign's tag-based attachments: signatures, attestations, SBOMs. */
export const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;
export type CosignSuffix = (typeof COSIGN_SUFFIXES)[number];

export function cosignTag(digest: Digest, suffix: CosignSuffix): string {
  return `sha256-${hexOf(digest)}.${suffix}`;
}

/** The OCI 1.1 referrers fallback tag for registries without the referrers API. */
export function fallbackTag(digest: Digest): string {
  return `sha256-${hexOf(digest)}`;
}

/** A referrer's descriptor as the referrers API lists it (artifactType from the manifest). */
export function referrerDescriptor(m: Manifest): Descriptor {
  const artifactType = m.kind === 'image' ? (m.image.artifactType ?? m.image.config.mediaType) : m.index.artifactType;
  const annotations = m.kind === 'image' ? m.image.annotations : m.index.annotations;
  return {
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.bytes.length,
    ...(artifactType ? { artifactType } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

/**
 * Keep the destination's `sha256-<hex>` index listing every referrer: add what is missing, keep what
 * is there. When the destination has none yet, the source's index is pushed byte-identical.
 */
export async function updateFallbackIndex(sink: ContentSink, subject: Digest, referrers: Descriptor[], sourceIndex?: Manifest): Promise<void> {
  const tag = fallbackTag(subject);
  const existing = await sink.findManifest(tag);
  const have = existing?.kind === 'index' ? existing.index.manifests : [];
  const missing = referrers.filter((r) => !have.some((h) => h.digest === r.digest));
  if (!missing.length && existing) return;
  let m: Manifest;
  if (!existing && sourceIndex) {
    m = sourceIndex;
  } else {
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [...have, ...missing] }));
    m = parseManifest(bytes, MediaType.OciIndex, `referrers index ${tag}`);
  }
  await sink.pushManifest(m, tag);
}

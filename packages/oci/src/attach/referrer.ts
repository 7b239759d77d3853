import type { ContentSink, ContentSource } from '../content/types.js';
import type { Digest } from '../digest/digest.js';
import { MediaType } from '../manifest/mediatypes.js';
import { type Manifest, parseManifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import { fallbackTag, referrerDescriptor, updateFallbackIndex } from './tags.js';
import { type BlobBytes, descriptorForBytes, pushBlobBytes } from './blobs.js';

/** The OCI 1.1 empty config (`{}`), used by artifacts that need none. */
export const EMPTY_CONFIG: Descriptor = {
  mediaType: MediaType.OciEmpty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  data: 'e30=',
};

export interface ReferrerInput {
  subject: Descriptor;
  artifactType: string;
  layers: BlobBytes[];
  annotations?: Record<string, string>;
}

/**
 * Push an OCI 1.1 artifact that refers to `subject`: blobs, then the manifest by digest. At a
 * registry without the referrers API (the PUT returns no OCI-Subject), the `sha256-<hex>` fallback
 * tag index is updated (merged) so that clients find it.
 */
export async function pushReferrer(repo: ContentSource & ContentSink, input: ReferrerInput): Promise<Manifest> {
  await pushBlobBytes(repo, Buffer.from('{}'), MediaType.OciEmpty);
  const layers: Descriptor[] = [];
  for (const l of input.layers) {
    await pushBlobBytes(repo, l.bytes, l.mediaType);
    layers.push(descriptorForBytes(l));
  }
  const { data: _data, ...config } = EMPTY_CONFIG;
  const doc = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: input.artifactType,
    config,
    layers,
    subject: { mediaType: input.subject.mediaType, digest: input.subject.digest, size: input.subject.size },
    ...(input.annotations && Object.keys(input.annotations).length ? { annotations: input.annotations } : {}),
  };
  const manifest = parseManifest(Buffer.from(JSON.stringify(doc)), MediaType.OciManifest, 'referrer manifest');
  const { subjectProcessed } = await repo.pushManifest(manifest, manifest.digest);
  if (!subjectProcessed) await updateFallbackIndex(repo, input.subject.digest, [referrerDescriptor(manifest)]);
  return manifest;
}

/**
 * Referrers of `subject`, optionally of one artifact type: the referrers API where the source has
 * it, else the `sha256-<hex>` fallback tag index.
 */
export async function listReferrers(repo: ContentSource & Pick<ContentSink, 'findManifest'>, subject: Digest, artifactType?: string): Promise<Descriptor[]> {
  let list = await repo.referrers(subject);
  if (list === undefined) {
    const idx = await repo.findManifest(fallbackTag(subject));
    list = idx?.kind === 'index' ? idx.index.manifests : [];
  }
  return artifactType ? list.filter((d) => d.artifactType === artifactType) : list;
}

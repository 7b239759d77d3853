import type { ContentSink, ContentSource } from '../content/types.js';
import type { Digest } from '../digest/digest.js';
import { MediaType } from '../manifest/mediatypes.js';
import { type Manifest, parseManifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import { cosignTag, type CosignSuffix } from './tags.js';
import { type BlobBytes, descriptorForBytes, pushBlobBytes, readBlobBytes } from './blobs.js';

export interface AttachedLayer {
  descriptor: Descriptor;
  /** The layer's bytes, digest-verified. */
  bytes: Buffer;
}

/** The manifest at `sha256-<hex>.SUFFIX`, or undefined. */
export async function findCosignManifest(source: ContentSource & Pick<ContentSink, 'findManifest'>, subject: Digest, suffix: CosignSuffix): Promise<Manifest | undefined> {
  return source.findManifest(cosignTag(subject, suffix));
}

/** Every layer of the cosign tag for `subject` (payloads and annotations), each verified. */
export async function readCosignLayers(source: ContentSource & Pick<ContentSink, 'findManifest'>, subject: Digest, suffix: CosignSuffix): Promise<AttachedLayer[]> {
  const m = await findCosignManifest(source, subject, suffix);
  if (!m || m.kind !== 'image') return [];
  return Promise.all(m.image.layers.map(async (d) => ({ descriptor: d, bytes: await readBlobBytes(source, d) })));
}

/**
 * The config go-containerregistry writes when cosign appends layers to an empty image, so the
 * manifests we write look like cosign's own.
 */
function cosignConfig(layers: Descriptor[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
}

function sameAnnotations(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b![k]);
}

/**
 * Write layers into cosign's tag for `subject` (`sha256-<hex>.sig|.att|.sbom`), as cosign does:
 * `append` keeps existing layers and does not duplicate an identical one (signatures, attestations);
 * `replace` writes only the new layers (`cosign attach sbom`). Blobs first, then the manifest+tag.
 * Returns the manifest written, or undefined when nothing changed.
 */
export async function writeCosignLayers(
  repo: ContentSource & ContentSink,
  subject: Digest,
  suffix: CosignSuffix,
  layers: BlobBytes[],
  mode: 'append' | 'replace' = 'append',
  /** Whether an existing layer already says what a new one says (e.g. same payload, same signer). */
  equivalent: (existing: Descriptor, fresh: Descriptor) => boolean = (a, b) => a.digest === b.digest && sameAnnotations(a.annotations, b.annotations),
): Promise<{ manifest: Manifest; changed: boolean }> {
  const existing = mode === 'append' ? await findCosignManifest(repo, subject, suffix) : undefined;
  const have: Descriptor[] = existing?.kind === 'image' ? existing.image.layers : [];
  const fresh = layers
    .map((l) => ({ l, d: descriptorForBytes(l) }))
    .filter(({ d }) => !have.some((h) => equivalent(h, d)));
  if (existing && !fresh.length) return { manifest: existing, changed: false };
  for (const { l } of fresh) await pushBlobBytes(repo, l.bytes, l.mediaType);
  const all = [...have, ...fresh.map((f) => f.d)];
  const config = await pushBlobBytes(repo, cosignConfig(all), 'application/vnd.oci.image.config.v1+json');
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: all }));
  const manifest = parseManifest(bytes, MediaType.OciManifest, `cosign ${suffix} manifest`);
  await repo.pushManifest(manifest, cosignTag(subject, suffix));
  return { manifest, changed: true };
}

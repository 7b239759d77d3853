import { AirlockError } from '../errors.js';
import { type Digest, digestOf } from '../digest/digest.js';
import { IMAGE_MEDIA_TYPES, INDEX_MEDIA_TYPES, MediaType } from './mediatypes.js';
import { type Descriptor, type ImageIndex, type ImageManifest, imageManifestSchema, indexSchema } from './schema.js';

/**
 * A manifest as received: the exact bytes (never re-serialised, so digests survive), its media type
 * and digest, and the parsed view used to walk the graph.
 */
export type Manifest =
  | { readonly kind: 'index'; readonly bytes: Buffer; readonly mediaType: string; readonly digest: Digest; readonly index: ImageIndex }
  | { readonly kind: 'image'; readonly bytes: Buffer; readonly mediaType: string; readonly digest: Digest; readonly image: ImageManifest };

/** The descriptor that points at a manifest (e.g. as an index entry or a referrer's subject). */
export function descriptorOf(m: Manifest): Descriptor {
  return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
}

/**
 * Parse manifest bytes. The media type comes from the `mediaType` field when present, else from the
 * transport's Content-Type. Docker schema 1 and unknown types are refused with a clear error.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined, what: string, digest?: Digest): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new AirlockError('BAD_INPUT', `${what}: manifest is not valid JSON`, {
      hint: 'the source returned something that is not an image manifest',
    });
  }
  const declared =
    json && typeof json === 'object' && typeof (json as { mediaType?: unknown }).mediaType === 'string'
      ? (json as { mediaType: string }).mediaType
      : undefined;
  const ct = contentType?.split(';')[0]?.trim();
  let mediaType = declared ?? ct;
  if (!mediaType || mediaType === 'application/json' || mediaType === 'text/plain') {
    // OCI allows omitting mediaType; infer from shape.
    mediaType = json && typeof json === 'object' && 'manifests' in json ? MediaType.OciIndex : MediaType.OciManifest;
  }
  if (mediaType === MediaType.DockerSchema1 || mediaType === MediaType.DockerSchema1Signed) {
    throw new AirlockError('UNSUPPORTED_MEDIA_TYPE', `${what}: Docker schema 1 manifests are not supported`, {
      hint: 'schema 1 is deprecated; rebuild or re-push the image with a current tool',
    });
  }
  const d = digest ?? digestOf(bytes);
  if (INDEX_MEDIA_TYPES.has(mediaType)) {
    const r = indexSchema.safeParse(json);
    if (!r.success) throw invalid(what, r.error.issues[0]);
    return { kind: 'index', bytes, mediaType, digest: d, index: r.data };
  }
  if (IMAGE_MEDIA_TYPES.has(mediaType)) {
    const r = imageManifestSchema.safeParse(json);
    if (!r.success) throw invalid(what, r.error.issues[0]);
    return { kind: 'image', bytes, mediaType, digest: d, image: r.data };
  }
  throw new AirlockError('UNSUPPORTED_MEDIA_TYPE', `${what}: unsupported manifest media type "${mediaType}"`, {
    hint: 'expected an OCI or Docker v2 image manifest or index',
  });
}

function invalid(what: string, issue: { path: PropertyKey[]; message: string } | undefined): AirlockError {
  const where = issue && issue.path.length ? ` at ${issue.path.map(String).join('.')}` : '';
  return new AirlockError('BAD_INPUT', `${what}: malformed manifest${where}: ${issue?.message ?? 'invalid'}`, {
    hint: 'the source holds a manifest that does not follow the OCI image spec',
  });
}

/** The children of a manifest: platform manifests of an index, or config + layers of an image. */
export function childrenOf(m: Manifest): Descriptor[] {
  return m.kind === 'index' ? m.index.manifests : [m.image.config, ...m.image.layers];
}

export function subjectOf(m: Manifest): Descriptor | undefined {
  return m.kind === 'index' ? m.index.subject : m.image.subject;
}

export function platformString(p: { os: string; architecture: string; variant?: string }): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

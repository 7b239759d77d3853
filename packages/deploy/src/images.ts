/**
 * The images to deploy: each `--image` or list entry, mapped to the private registry (`--to`,
 * `--rewrite`, or a list line's DESTINATION), then resolved there to its manifest digest and
 * pinned as `host/repo:tag@sha256:…`. Nothing is deployed by tag alone.
 */
import { AirlockError, destinationFor, formatReference, parseReference, RegistryRepo, repositoryName, type Digest, type ImageReference, type Registries, type Rewrite } from '@airlock/oci';
import type { ImageListEntry } from '@airlock/step-kit/image-list';

export interface ImageSpec {
  /** As given (argument or list line). */
  input: string;
  where: string;
  source: ImageReference;
  /** In the private registry, before pinning. */
  destination: ImageReference;
}

export interface PinnedImage extends ImageSpec {
  digest: Digest;
  /** `host/repo:tag@sha256:…` (or `host/repo@sha256:…` when there is no tag). */
  pinned: string;
  /** The dotenv key: AIRLOCK_IMAGE_<NAME>. */
  key: string;
}

export function mapImages(entries: ImageListEntry[], opts: { to?: string; rewrites: Rewrite[] }): ImageSpec[] {
  const mapped = opts.to !== undefined || opts.rewrites.length > 0;
  return entries.map((e) => {
    try {
      const source = parseReference(e.source);
      let dest: string;
      if (e.destination) dest = e.destination;
      else if (mapped) dest = destinationFor(e.source, opts, e.where);
      else dest = e.source;
      let destination = parseReference(dest, { defaultTag: false });
      // A list line's DESTINATION without tag or digest keeps the source's.
      if (!destination.tag && !destination.digest) destination = { ...destination, ...(source.tag ? { tag: source.tag } : {}), ...(source.digest ? { digest: source.digest } : {}) };
      return { input: e.source, where: e.where, source, destination };
    } catch (err) {
      if (err instanceof AirlockError) throw new AirlockError(err.code, `${e.where}: ${err.message}`, err.hint ? { hint: err.hint } : {});
      throw err;
    }
  });
}

/** `AIRLOCK_IMAGE_<LAST PATH PART>`, made unique with more of the path (GitLab dotenv keys: [A-Za-z0-9_]). */
export function dotenvKeys(images: ImageSpec[]): string[] {
  const norm = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  const parts = images.map((i) => i.destination.repository.split('/'));
  const keys = parts.map((p) => norm(p[p.length - 1]!));
  for (let depth = 2; depth <= 8; depth++) {
    const seen = new Map<string, number>();
    for (const k of keys) seen.set(k, (seen.get(k) ?? 0) + 1);
    let again = false;
    keys.forEach((k, i) => {
      if ((seen.get(k) ?? 0) > 1) {
        const p = parts[i]!;
        keys[i] = norm(p.slice(-depth).join('_'));
        again = true;
      }
    });
    if (!again) break;
  }
  const seen = new Map<string, number>();
  return keys.map((k) => {
    const n = (seen.get(k) ?? 0) + 1;
    seen.set(k, n);
    return `AIRLOCK_IMAGE_${n > 1 ? `${k}_${n}` : k}`;
  });
}

/** Resolve each destination to its digest in the private registry. */
export async function pinImages(images: ImageSpec[], registries: Registries): Promise<PinnedImage[]> {
  const keys = dotenvKeys(images);
  return Promise.all(
    images.map(async (img, i): Promise<PinnedImage> => {
      const d = img.destination;
      const repo = new RegistryRepo(registries.client(d.registry), d.repository);
      const reference = d.digest ?? d.tag ?? 'latest';
      let digest: Digest | undefined;
      try {
        digest = await repo.resolve(reference);
      } catch (e) {
        if (e instanceof AirlockError) throw new AirlockError(e.code, `${img.where}: cannot resolve ${formatReference(d)}: ${e.message}`, e.hint ? { hint: e.hint } : {});
        throw e;
      }
      if (!digest) {
        throw new AirlockError('NOT_FOUND', `${img.where}: ${formatReference(d)} is not in ${d.registry}`, { hint: 'mirror it into the private registry first (airlock mirror / copy), or check --to/--rewrite' });
      }
      if (d.digest && digest !== d.digest) throw new AirlockError('DIGEST_MISMATCH', `${img.where}: ${formatReference(d)} resolves to ${digest}`, { hint: 'the registry served another manifest than the digest named' });
      const pinned = formatReference({ registry: d.registry, repository: d.repository, ...(d.tag ? { tag: d.tag } : {}), digest });
      return { ...img, digest, pinned: assertPinned(pinned, img.where), key: keys[i]! };
    }),
  );
}

/** The last check before anything is deployed: a reference without a digest is refused. */
export function assertPinned(reference: string, where: string): string {
  const r = parseReference(reference, { defaultTag: false });
  if (!r.digest) {
    throw new AirlockError('USAGE', `${where}: ${reference} would be deployed by tag only`, { hint: 'a tag can be moved after verification; deploy-image deploys by digest (host/repo:tag@sha256:...)' });
  }
  return reference;
}

/** Names an image may carry in a cluster or in manifests: its source and its private-registry repository. */
export function namesOf(img: ImageSpec): string[] {
  return [...new Set([repositoryName(img.destination), repositoryName(img.source)])];
}

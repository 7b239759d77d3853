import { openRepository, parseLocation, type Manifest, type Registries, type Repository, AirlockError, formatReference } from '@airlock/oci';

export interface ResolvedImage {
  input: string;
  repo: Repository;
  manifest: Manifest;
  /** Name for the signature's identity: `registry/repository` (or --identity). */
  name: string;
}

/** Resolve an image reference to its repository and digest-verified manifest. */
export async function resolveImage(input: string, registries: Registries, identity?: string): Promise<ResolvedImage> {
  const loc = parseLocation(input);
  const { repo, reference } = await openRepository(loc, registries);
  const manifest = await repo.getManifest(reference);
  let name = identity;
  if (!name) {
    if (loc.kind === 'layout') {
      throw new AirlockError('USAGE', `${input}: an OCI layout has no repository name to sign for`, { hint: 'pass --identity REGISTRY/REPOSITORY (the name the image will be deployed as)' });
    }
    name = formatReference({ registry: loc.ref.registry, repository: loc.ref.repository });
  }
  return { input, repo, manifest, name };
}

/** The image and, with `recursive`, each manifest its index lists. */
export async function manifestsToSign(img: ResolvedImage, recursive: boolean): Promise<Manifest[]> {
  if (!recursive || img.manifest.kind !== 'index') return [img.manifest];
  const children = await Promise.all(img.manifest.index.manifests.map((d) => img.repo.getManifest(d.digest)));
  return [img.manifest, ...children];
}


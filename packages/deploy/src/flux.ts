/**
 * Target 3: the manifests as a Flux OCI artifact, exactly as `flux push artifact` builds it
 * (fluxcd/pkg oci: `crane.Append(empty.Image, tarball)` with the Flux media types, then the
 * `org.opencontainers.image.{created,source,revision}` annotations): an OCI image manifest whose
 * config (`application/vnd.cncf.flux.config.v1+json`) is go-containerregistry's config for one
 * appended layer, and one `application/vnd.cncf.flux.content.v1.tar+gzip` layer. Pushed through
 * RegistryRepo: blobs, then the manifest under its tag.
 */
import { createHash } from 'node:crypto';
import { AirlockError, MediaType, parseManifest, parseReference, pushBlobBytes, repositoryName, type Digest, type ImageReference, type Manifest, type Registries, RegistryRepo } from '@airlock/oci';
import { deterministicTarGz, type Tarball } from './tar.js';

export const FLUX_CONFIG_MEDIA_TYPE = 'application/vnd.cncf.flux.config.v1+json';
export const FLUX_CONTENT_MEDIA_TYPE = 'application/vnd.cncf.flux.content.v1.tar+gzip';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
export const ANNOTATION_SOURCE = 'org.opencontainers.image.source';
export const ANNOTATION_REVISION = 'org.opencontainers.image.revision';

/** `oci://HOST/REPO:TAG` → the reference (a tag is required, as flux push artifact requires). */
export function parseArtifactUrl(url: string): ImageReference {
  if (!url.startsWith('oci://')) throw new AirlockError('USAGE', `--push-artifact ${url}: expected oci://HOST/REPO:TAG`, { hint: 'e.g. --push-artifact oci://registry.local/deploy/app-manifests:1.4' });
  const ref = parseReference(url.slice('oci://'.length), { defaultTag: false });
  if (!ref.tag || ref.digest) throw new AirlockError('USAGE', `--push-artifact ${url}: give a tag (oci://HOST/REPO:TAG), not a digest`, { hint: 'Flux artifacts are pushed under a tag; the digest is printed' });
  return ref;
}

/** Flux's revision forms: `<branch|tag>@sha1:<sha>` (current) or `<branch|tag>/<sha>` (older), or `sha1:<sha>`. */
export function checkRevision(rev: string): string {
  if (/^(?:[^\s@]+@)?sha1:[0-9a-f]{40}$/.test(rev) || /^[^\s@]+@sha256:[0-9a-f]{64}$/.test(rev) || /^[^\s@]+\/[0-9a-f]{40}$/.test(rev)) return rev;
  throw new AirlockError('USAGE', `--revision "${rev}" is not a Flux revision`, { hint: 'write <branch|tag>@sha1:<commit sha>, e.g. main@sha1:$(git rev-parse HEAD) (or the older <branch>/<sha>)' });
}

/** --source and --revision defaults from the CI job (GitLab, GitHub Actions, Jenkins with git). */
export function sourceFromCi(env: NodeJS.ProcessEnv): { source?: string; revision?: string } {
  const sha = env.CI_COMMIT_SHA ?? env.GITHUB_SHA ?? env.GIT_COMMIT;
  const ref = env.CI_COMMIT_TAG ?? env.CI_COMMIT_REF_NAME ?? env.GITHUB_REF_NAME ?? env.BRANCH_NAME ?? env.GIT_BRANCH?.replace(/^origin\//, '');
  const source = env.CI_PROJECT_URL ?? (env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}` : undefined) ?? env.GIT_URL;
  return { ...(source ? { source } : {}), ...(sha && /^[0-9a-f]{40}$/.test(sha) ? { revision: ref ? `${ref}@sha1:${sha}` : `sha1:${sha}` } : {}) };
}

export interface FluxArtifact {
  tarball: Tarball;
  config: Buffer;
  manifest: Manifest;
}

/**
 * go-containerregistry's config after `mutate.Append(empty.Image, layer)`: field order as its
 * ConfigFile struct marshals, one history entry at the zero time, the layer's diff id.
 */
function configFor(diffId: Digest): Buffer {
  return Buffer.from(
    JSON.stringify({ architecture: '', created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '', rootfs: { type: 'layers', diff_ids: [diffId] }, config: {} }),
  );
}

/** Build the artifact of a directory (or one file). `created` is RFC 3339 to the second. */
export async function buildFluxArtifact(path: string, meta: { source: string; revision: string; created: string }): Promise<FluxArtifact> {
  const tarball = await deterministicTarGz(path);
  const config = configFor(tarball.diffId);
  const sha = createHash('sha256').update(config).digest('hex');
  // go-containerregistry's Manifest/Descriptor field order; Go sorts map keys (annotations).
  const doc = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: FLUX_CONFIG_MEDIA_TYPE, size: config.length, digest: `sha256:${sha}` },
    layers: [{ mediaType: FLUX_CONTENT_MEDIA_TYPE, size: tarball.gz.length, digest: tarball.digest }],
    annotations: { [ANNOTATION_CREATED]: meta.created, [ANNOTATION_REVISION]: meta.revision, [ANNOTATION_SOURCE]: meta.source },
  };
  const manifest = parseManifest(Buffer.from(JSON.stringify(doc)), MediaType.OciManifest, 'Flux artifact manifest');
  return { tarball, config, manifest };
}

/** `created`: SOURCE_DATE_EPOCH when set (reproducible builds), else now, as Flux writes it (RFC 3339, seconds). */
export function createdTime(env: NodeJS.ProcessEnv, now = new Date()): string {
  const epoch = env.SOURCE_DATE_EPOCH;
  const t = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : now;
  return t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function pushFluxArtifact(ref: ImageReference, a: FluxArtifact, registries: Registries): Promise<{ repo: RegistryRepo; url: string; repository: string; tag: string; digest: Digest }> {
  const repo = new RegistryRepo(registries.client(ref.registry), ref.repository);
  await pushBlobBytes(repo, a.tarball.gz, FLUX_CONTENT_MEDIA_TYPE);
  await pushBlobBytes(repo, a.config, FLUX_CONFIG_MEDIA_TYPE);
  await repo.pushManifest(a.manifest, ref.tag!);
  const repository = repositoryName(ref);
  return { repo, url: `oci://${repository}@${a.manifest.digest}`, repository, tag: ref.tag!, digest: a.manifest.digest };
}

/** A Kubernetes object name from the artifact's repository (its last path part). */
export function fluxName(repository: string): string {
  const last = repository.split('/').pop() ?? 'app';
  return last.replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'app';
}

/** The OCIRepository and Kustomization to apply once (Flux then follows the digest printed). */
export function fluxObjects(o: { name: string; namespace: string; repository: string; tag: string; digest: string; signed: boolean; privateRegistry: boolean; plainHttp: boolean }): string {
  const lines = [
    '---',
    'apiVersion: source.toolkit.fluxcd.io/v1',
    'kind: OCIRepository',
    'metadata:',
    `  name: ${o.name}`,
    `  namespace: ${o.namespace}`,
    'spec:',
    '  interval: 5m',
    `  url: oci://${o.repository}`,
    '  ref:',
    `    digest: ${o.digest}   # ${o.tag} when pushed; a digest never moves`,
  ];
  if (o.signed) {
    lines.push(
      '  verify:',
      '    provider: cosign',
      '    secretRef:',
      `      name: ${o.name}-cosign-pub   # kubectl -n ${o.namespace} create secret generic ${o.name}-cosign-pub --from-file=cosign.pub=cosign.pub`,
    );
  }
  if (o.privateRegistry) {
    lines.push(
      '  # The private registry: credentials, and its CA unless the nodes already trust it.',
      '  secretRef:',
      `    name: ${o.name}-registry   # kubectl -n ${o.namespace} create secret docker-registry ${o.name}-registry --docker-server=${o.repository.split('/')[0]} ...`,
      '  certSecretRef:',
      `    name: ${o.name}-registry-ca   # kubectl -n ${o.namespace} create secret generic ${o.name}-registry-ca --from-file=ca.crt=ca.crt`,
    );
  }
  if (o.plainHttp) lines.push('  insecure: true   # the registry speaks plain HTTP');
  lines.push(
    '---',
    'apiVersion: kustomize.toolkit.fluxcd.io/v1',
    'kind: Kustomization',
    'metadata:',
    `  name: ${o.name}`,
    `  namespace: ${o.namespace}`,
    'spec:',
    '  interval: 10m',
    '  sourceRef:',
    '    kind: OCIRepository',
    `    name: ${o.name}`,
    '  path: ./',
    '  prune: true',
    '  wait: true',
    '  timeout: 5m',
    '',
  );
  return lines.join('\n');
}

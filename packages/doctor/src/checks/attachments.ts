import { cosignTag, type Descriptor, type Digest, fallbackTag, type Manifest, type Registries, toAirlockError } from '@airlock/oci';
import { type CheckResult, fail, failOrWarn, pass } from '../model.js';

/** Where cosign and Sigstore bundles put what they attach (kept here: doctor does not load the cosign package). */
const BUNDLE_TYPE_PREFIX = 'application/vnd.dev.sigstore.bundle';
const BUNDLE_PREDICATE_ANNOTATION = 'dev.sigstore.bundle.predicateType';
const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

export interface CosignTag {
  tag: string;
  /** One layer per signature, attestation or SBOM. */
  layers: Descriptor[];
}

/** What is attached to one image digest. */
export interface Attachments {
  digest: Digest;
  sig?: CosignTag;
  att?: CosignTag;
  sbom?: CosignTag;
  /** Whether GET /v2/REPO/referrers/DIGEST is implemented. */
  referrersApi: boolean;
  /** Without the API: whether the sha256-<hex> fallback tag index exists. */
  fallbackPresent?: boolean;
  referrers: Descriptor[];
  /** What could not be read, with why. */
  errors: string[];
}

async function cosignTagOf(registries: Registries, registry: string, repo: string, tag: string, errors: string[]): Promise<CosignTag | undefined> {
  try {
    const m: Manifest = await registries.client(registry).getManifest(repo, tag);
    return { tag, layers: m.kind === 'image' ? m.image.layers : [] };
  } catch (e) {
    const err = toAirlockError(e);
    if (err.code !== 'NOT_FOUND') errors.push(`${tag}: ${err.message}`);
    return undefined;
  }
}

export async function probeAttachments(registries: Registries, registry: string, repo: string, digest: Digest): Promise<Attachments> {
  const errors: string[] = [];
  const [sig, att, sbom] = await Promise.all((['sig', 'att', 'sbom'] as const).map((s) => cosignTagOf(registries, registry, repo, cosignTag(digest, s), errors)));
  const out: Attachments = { digest, ...(sig ? { sig } : {}), ...(att ? { att } : {}), ...(sbom ? { sbom } : {}), referrersApi: false, referrers: [], errors };
  const client = registries.client(registry);
  try {
    const list = await client.referrers(repo, digest);
    if (list) return { ...out, referrersApi: true, referrers: list };
  } catch (e) {
    errors.push(`referrers: ${toAirlockError(e).message}`);
    return out;
  }
  try {
    const fallback = await client.getManifest(repo, fallbackTag(digest));
    return { ...out, fallbackPresent: true, referrers: fallback.kind === 'index' ? fallback.index.manifests : [] };
  } catch (e) {
    const err = toAirlockError(e);
    if (err.code !== 'NOT_FOUND') errors.push(`referrers: ${fallbackTag(digest)}: ${err.message}`);
    return { ...out, fallbackPresent: false };
  }
}

const isBundle = (d: Descriptor) => !!d.artifactType?.startsWith(BUNDLE_TYPE_PREFIX);
const predicateOf = (d: Descriptor) => d.annotations?.[BUNDLE_PREDICATE_ANNOTATION] ?? d.annotations?.predicateType;
const short = (tag: string) => tag.replace(/^(sha256-[a-f0-9]{12})[a-f0-9]{52}/, '$1…');
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function signaturesCheck(a: Attachments, name: string, requireSignature: boolean): CheckResult {
  const id = 'signatures';
  const title = 'Signatures';
  const bundles = a.referrers.filter((d) => isBundle(d) && predicateOf(d) === COSIGN_SIGN_PREDICATE).length;
  const legacy = a.sig?.layers.length ?? 0;
  const unreadable = a.errors.filter((e) => e.startsWith(`${cosignTag(a.digest, 'sig')}:`) || e.startsWith('referrers:'));
  if (legacy + bundles > 0) {
    const parts = [...(a.sig ? [`${short(a.sig.tag)}: ${plural(legacy, 'signature')}`] : []), ...(bundles ? [`${plural(bundles, 'Sigstore bundle referrer')}`] : [])];
    return pass(id, title, `${plural(legacy + bundles, 'signature')} found (${parts.join('; ')}); not verified here: airlock verify --key cosign.pub ${name} checks them`);
  }
  if (unreadable.length) return fail(id, title, `cannot read signatures: ${unreadable.join('; ')}`, 'check pull access to the repository and the registry logs');
  return failOrWarn(
    requireSignature,
    id,
    title,
    `unsigned: no ${short(cosignTag(a.digest, 'sig'))} tag and no Sigstore bundle referrer${requireSignature ? '' : ' (a warning: --require-signature makes it a failure)'}`,
    `sign it (airlock sign --key cosign.key ${name}); if it was signed upstream, copy it again with airlock copy or mirror, which bring .sig/.att/.sbom tags and referrers along (docker pull/push and skopeo copy leave them behind)`,
  );
}

export function attestationsCheck(a: Attachments): CheckResult {
  const id = 'attestations';
  const title = 'Attestations';
  const bundleAtts = a.referrers.filter((d) => isBundle(d) && predicateOf(d) !== COSIGN_SIGN_PREDICATE);
  const others = a.referrers.filter((d) => !isBundle(d));
  const types = [...new Set([...(a.att?.layers ?? []), ...bundleAtts].map(predicateOf).filter((t): t is string => !!t))];
  const parts: string[] = [];
  if (a.att) parts.push(`${short(a.att.tag)}: ${plural(a.att.layers.length, 'attestation')}`);
  if (bundleAtts.length) parts.push(plural(bundleAtts.length, 'Sigstore bundle attestation'));
  if (types.length) parts.push(`predicate types ${types.join(', ')}`);
  if (a.sbom) parts.push(`SBOM: ${short(a.sbom.tag)}`);
  if (others.length) parts.push(`other referrers: ${[...new Set(others.map((d) => d.artifactType ?? d.mediaType))].join(', ')}`);
  const unreadable = a.errors.filter((e) => /\.(att|sbom):/.test(e));
  if (unreadable.length) return fail(id, title, `cannot read: ${unreadable.join('; ')}`, 'check pull access to the repository and the registry logs');
  return pass(id, title, parts.length ? parts.join('; ') : 'none (no .att or .sbom tag, no attestation referrers)');
}

export function referrersCheck(a: Attachments, repo: string): CheckResult {
  const id = 'referrers';
  const title = 'Referrers API';
  const n = plural(a.referrers.length, 'referrer');
  if (a.referrersApi) return pass(id, title, `supported (OCI 1.1): GET /v2/${repo}/referrers/${a.digest.slice(0, 19)}… lists ${n}`);
  const fb = short(fallbackTag(a.digest));
  return pass(id, title, `not supported by this registry: referrers are kept in the fallback tag ${fb} (${a.fallbackPresent ? `present, ${n}` : 'not present'}), which Airlock and cosign read and write`);
}

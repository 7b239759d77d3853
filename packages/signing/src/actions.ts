import { readFile } from 'node:fs/promises';
import {
  BUNDLE_ARTIFACT_TYPE,
  BUNDLE_V03_MEDIA_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  cosignDockerReference,
  cosignPredicate,
  signImage,
  signImageAttestation,
  SIGNATURE_ANNOTATION,
  verifyBytes,
} from '@airlock/cosign';
import type { KeyObject } from 'node:crypto';
import { AirlockError, cosignTag, descriptorOf, pushReferrer, readCosignLayers, writeCosignLayers, type Descriptor, type Manifest } from '@airlock/oci';
import type { ResolvedImage } from './images.js';
import { cosignToAirlock } from './secrets.js';
import { bundleFor, type Signer } from './signer.js';

/** What one signing action wrote, for logs and --json. */
export interface Written {
  image: string;
  digest: string;
  kind: 'signature' | 'attestation' | 'sbom';
  format: 'legacy' | 'bundle';
  /** Tag (legacy) or referrer manifest digest (bundle). */
  stored: string;
  /** False when an identical signature was already there. */
  changed: boolean;
}

export function parseAnnotations(list: string[]): Record<string, string> | null {
  if (!list.length) return null;
  const out: Record<string, string> = {};
  for (const a of list) {
    const i = a.indexOf('=');
    if (i <= 0) throw new AirlockError('USAGE', `invalid annotation "${a}"`, { hint: 'write -a key=value' });
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

function verifiesWith(payload: Buffer, signatureB64: string | undefined, key: KeyObject): boolean {
  if (!signatureB64) return false;
  try {
    return verifyBytes(payload, Buffer.from(signatureB64, 'base64'), key);
  } catch {
    return false;
  }
}

/** `cosign sign`: a legacy `.sig` layer, or a bundle referrer. */
export async function signManifest(img: ResolvedImage, m: Manifest, signer: Signer, opts: { format: 'legacy' | 'bundle'; annotations: Record<string, string> | null }): Promise<Written> {
  const base = { image: img.input, digest: m.digest, kind: 'signature' as const };
  if (opts.format === 'legacy') {
    if (signer.kind !== 'key') throw new AirlockError('USAGE', 'keyless signatures are written as bundles', { hint: 'use --format bundle with --keyless' });
    let sig;
    try {
      sig = signImage({ privateKey: signer.privateKey, dockerReference: cosignDockerReference(img.name), manifestDigest: m.digest, annotations: opts.annotations });
    } catch (e) {
      throw cosignToAirlock(e, img.input);
    }
    // As cosign's duplicate detector: the same payload already signed by this key is not added again.
    const sameSigner = (existing: Descriptor, fresh: Descriptor) =>
      existing.digest === fresh.digest && verifiesWith(sig.payload, existing.annotations?.[SIGNATURE_ANNOTATION], sig.publicKey);
    const { changed } = await writeCosignLayers(img.repo, m.digest, 'sig', [{ bytes: sig.payload, mediaType: sig.mediaType, annotations: sig.annotations }], 'append', sameSigner);
    return { ...base, format: 'legacy', stored: cosignTag(m.digest, 'sig'), changed };
  }
  const { bundle } = await bundleFor(signer, { manifestDigest: m.digest, name: img.name, ...(opts.annotations ? { predicate: { annotations: opts.annotations } } : {}) }).catch((e) => {
    throw cosignToAirlock(e, img.input);
  });
  const ref = await pushBundleReferrer(img, m, bundle, COSIGN_SIGN_PREDICATE_TYPE);
  return { ...base, format: 'bundle', stored: ref.digest, changed: true };
}

/** A Sigstore bundle attached to the image as an OCI 1.1 referrer, annotated as cosign v3 does. */
function pushBundleReferrer(img: ResolvedImage, m: Manifest, bundle: unknown, predicateType: string): Promise<Manifest> {
  return pushReferrer(img.repo, {
    subject: descriptorOf(m),
    artifactType: BUNDLE_ARTIFACT_TYPE,
    layers: [{ bytes: Buffer.from(JSON.stringify(bundle)), mediaType: BUNDLE_V03_MEDIA_TYPE }],
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': predicateType },
  });
}

export async function readPredicate(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch {
    throw new AirlockError('BAD_INPUT', `cannot read predicate file ${file}`, { hint: 'check the path given to --predicate' });
  }
}

/** `cosign attest`: a DSSE layer on the `.att` tag, or a bundle referrer. */
export async function attestManifest(img: ResolvedImage, m: Manifest, signer: Signer, opts: { format: 'legacy' | 'bundle'; type: string; predicate: Buffer; replace: boolean }): Promise<Written> {
  const base = { image: img.input, digest: m.digest, kind: 'attestation' as const };
  if (opts.format === 'legacy') {
    if (signer.kind !== 'key') throw new AirlockError('USAGE', 'keyless attestations are written as bundles', { hint: 'use --format bundle with --keyless' });
    let att;
    try {
      att = signImageAttestation({ privateKey: signer.privateKey, manifestDigest: m.digest, name: cosignDockerReference(img.name), type: opts.type, predicate: opts.predicate });
    } catch (e) {
      throw cosignToAirlock(e, img.input);
    }
    const layer = { bytes: att.layer, mediaType: att.mediaType, annotations: att.annotations };
    const { changed } = opts.replace
      ? await replaceSameType(img, m, layer, att.annotations.predicateType)
      : await writeCosignLayers(img.repo, m.digest, 'att', [layer]);
    return { ...base, format: 'legacy', stored: cosignTag(m.digest, 'att'), changed };
  }
  let predicateType: string;
  let predicate: unknown;
  try {
    ({ predicateType, predicate } = cosignPredicate({ type: opts.type, predicate: opts.predicate }));
  } catch (e) {
    throw cosignToAirlock(e, `--predicate`);
  }
  const { bundle } = await bundleFor(signer, { manifestDigest: m.digest, name: img.name, predicateType, predicate }).catch((e) => {
    throw cosignToAirlock(e, img.input);
  });
  const ref = await pushBundleReferrer(img, m, bundle, predicateType);
  return { ...base, format: 'bundle', stored: ref.digest, changed: true };
}

async function replaceSameType(img: ResolvedImage, m: Manifest, layer: { bytes: Buffer; mediaType: string; annotations: Record<string, string> }, predicateType: string) {
  const keep = (await readCosignLayers(img.repo, descriptorOf(m).digest, 'att'))
    .filter((l) => l.descriptor.annotations?.predicateType !== predicateType)
    .map((l) => ({ bytes: l.bytes, mediaType: l.descriptor.mediaType, ...(l.descriptor.annotations ? { annotations: l.descriptor.annotations } : {}) }));
  return writeCosignLayers(img.repo, m.digest, 'att', [...keep, layer], 'replace');
}

/** SBOM media types as `cosign attach sbom --type` writes them. */
export const SBOM_MEDIA_TYPES: Record<string, string> = {
  spdx: 'text/spdx',
  spdxjson: 'text/spdx+json',
  cyclonedx: 'application/vnd.cyclonedx',
  cyclonedxjson: 'application/vnd.cyclonedx+json',
  syft: 'application/vnd.syft+json',
};

/** `cosign attach sbom`: the SBOM as the single layer of the `.sbom` tag (replacing any). */
export async function attachSbom(img: ResolvedImage, m: Manifest, sbom: Buffer, type: string): Promise<Written> {
  const mediaType = SBOM_MEDIA_TYPES[type];
  if (!mediaType) throw new AirlockError('USAGE', `unknown SBOM type "${type}"`, { hint: `use one of ${Object.keys(SBOM_MEDIA_TYPES).join(', ')}` });
  const { changed } = await writeCosignLayers(img.repo, m.digest, 'sbom', [{ bytes: sbom, mediaType }], 'replace');
  return { image: img.input, digest: m.digest, kind: 'sbom', format: 'legacy', stored: cosignTag(m.digest, 'sbom'), changed };
}

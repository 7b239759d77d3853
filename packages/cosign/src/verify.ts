/**
 * Verifying cosign image signatures (the legacy `.sig` simple-signing layers).
 */
import { verify as nodeVerify, type KeyObject, type X509Certificate } from 'node:crypto';
import { certificateIdentity, checkCertificatePolicy, verifyCertificateChain, type CertificateIdentity, type CertificatePolicy } from './certs.js';
import { verifyEd25519ph } from './ed25519ph.js';
import { AirlockCosignError } from './errors.js';
import { defaultHash, keyAlgorithm } from './keys/algorithm.js';
import { readCertificate, readCertificates, toPublicKey } from './keys/public.js';
import { identityMatches, type IdentityPolicy } from './reference.js';
import { verifyRekorBundle, type RekorBundleVerification } from './rekor.js';
import { parseSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE, type SimpleSigningPayload } from './simplesigning.js';
import type { TlogKey } from './trustedroot.js';

export interface VerifyBytesOptions {
  /** Which Ed25519 schemes to accept. Default 'any' (pure or Ed25519ph), like current cosign. */
  ed25519?: 'pure' | 'ph' | 'any';
}

/**
 * Verify a signature over `data`. ECDSA: DER signature over the key's default hash (SHA-256 is also
 * accepted for P-384/P-521, as older cosign signed); RSA: PKCS#1 v1.5 SHA-256; Ed25519: pure
 * and/or Ed25519ph.
 */
export function verifyBytes(data: Uint8Array, signature: Uint8Array, publicKey: KeyObject, opts: VerifyBytesOptions = {}): boolean {
  const key = toPublicKey(publicKey);
  const alg = keyAlgorithm(key);
  try {
    if (alg === 'ed25519') {
      const mode = opts.ed25519 ?? 'any';
      if (mode !== 'ph' && nodeVerify(null, data, key, signature)) return true;
      return mode !== 'pure' && verifyEd25519ph(data, signature, key);
    }
    const hashes = [...new Set([defaultHash(alg) as string, 'sha256'])];
    for (const h of hashes) {
      const ok = alg === 'rsa' ? nodeVerify(h, data, key, signature) : nodeVerify(h, data, { key, dsaEncoding: 'der' }, signature);
      if (ok) return true;
    }
    return false;
  } catch {
    return false;
  }
}

export type VerifyFailureReason = 'BAD_SIGNATURE' | 'DIGEST_MISMATCH' | 'IDENTITY_MISMATCH' | 'MALFORMED_PAYLOAD';

export type CosignSignatureResult =
  | {
      ok: true;
      payload: SimpleSigningPayload;
      dockerReference: string;
      manifestDigest: string;
      /** The payload's `optional` (cosign annotations), if any. */
      annotations: Record<string, unknown> | null;
    }
  | { ok: false; reason: VerifyFailureReason; message: string; hint: string };

export interface VerifyCosignSignatureInput extends VerifyBytesOptions {
  /** The signature layer's blob: simple-signing payload bytes, exactly as stored. */
  payload: Buffer;
  /** The `dev.cosignproject.cosign/signature` annotation. */
  signatureB64: string;
  publicKey: KeyObject | string | Buffer;
  /** `sha256:<hex>` of the manifest the signature must be for. */
  expectedManifestDigest: string;
  identity?: IdentityPolicy;
  /** The layer's media type; if given it must be the simple-signing type. */
  mediaType?: string;
}

const BASE64_RE = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

function failure(reason: VerifyFailureReason, message: string, hint: string): CosignSignatureResult {
  return { ok: false, reason, message, hint };
}

/**
 * Verify one cosign image signature with a key: the signature over the payload, then the payload's
 * manifest digest, then (optionally) its docker-reference.
 */
export function verifyCosignSignature(input: VerifyCosignSignatureInput): CosignSignatureResult {
  if (input.mediaType !== undefined && input.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) {
    return failure('MALFORMED_PAYLOAD', `the signature layer has media type ${input.mediaType}, not ${SIMPLE_SIGNING_MEDIA_TYPE}`, 'this attachment is not a cosign image signature; skip it');
  }
  const sigText = input.signatureB64.trim();
  if (!sigText || !BASE64_RE.test(sigText)) {
    return failure('BAD_SIGNATURE', 'the signature annotation is not base64', 'the signature is corrupted; re-sign the image');
  }
  const key = toPublicKey(input.publicKey);
  if (!verifyBytes(input.payload, Buffer.from(sigText, 'base64'), key, input)) {
    return failure('BAD_SIGNATURE', 'the signature does not verify with the given public key', 'the image was signed with another key, or the signature was tampered with; check which key signed it');
  }
  let payload: SimpleSigningPayload;
  try {
    payload = parseSimpleSigningPayload(input.payload);
  } catch (e) {
    const err = e as AirlockCosignError;
    return failure('MALFORMED_PAYLOAD', err.message, err.hint);
  }
  const signedDigest = payload.critical.image['docker-manifest-digest'];
  if (signedDigest !== input.expectedManifestDigest.toLowerCase()) {
    return failure('DIGEST_MISMATCH', `the signature is for manifest ${signedDigest}, not ${input.expectedManifestDigest}`, 'the manifest was modified after signing, or the signature belongs to another image; do not trust this image');
  }
  const dockerReference = payload.critical.identity['docker-reference'];
  if (input.identity && !identityMatches(dockerReference, input.identity)) {
    return failure('IDENTITY_MISMATCH', `the signature names ${dockerReference}, not ${input.identity.expectedReference ?? '(unset)'}`, 'the signature was made for another repository; add a rewrite rule if the image was mirrored, or do not trust it');
  }
  return { ok: true, payload, dockerReference, manifestDigest: signedDigest, annotations: payload.optional ?? null };
}

export interface VerifyCertificateSignatureInput extends Omit<VerifyCosignSignatureInput, 'publicKey'> {
  /** The `dev.sigstore.cosign/certificate` annotation (PEM). */
  certificatePem: string;
  /** The `dev.sigstore.cosign/chain` annotation (PEM, intermediates then root). Untrusted. */
  chainPem?: string;
  /** Trust anchors (Fulcio root, your PKI's roots). */
  roots: X509Certificate[];
  /** Extra untrusted intermediates (e.g. pki_intermediate_crts.pem). */
  intermediates?: X509Certificate[];
  /**
   * The `dev.sigstore.cosign/bundle` annotation (Rekor SET). When given with `tlogKeys`, it is
   * verified and its integrated time becomes the signing time.
   */
  rekorBundle?: string;
  tlogKeys?: TlogKey[];
  /** Signing time when there is no Rekor bundle. Default: now. */
  at?: Date;
  /** Signer identity policy (SAN / OIDC issuer). */
  certificatePolicy?: CertificatePolicy;
}

export type CertificateSignatureResult =
  | (Extract<CosignSignatureResult, { ok: true }> & { signer: CertificateIdentity; chain: X509Certificate[]; signedAt: Date; tlog?: RekorBundleVerification })
  | Extract<CosignSignatureResult, { ok: false }>;

/**
 * Verify a certificate-based cosign image signature (keyless Fulcio or BYO PKI): the Rekor SET
 * (if given), the chain to `roots` at signing time, the signer policy, then the signature itself.
 * Chain, tlog and policy failures throw AirlockCosignError; signature/payload failures are results.
 */
export function verifyCosignSignatureWithCertificate(input: VerifyCertificateSignatureInput): CertificateSignatureResult {
  const leaf = readCertificate(input.certificatePem);
  const chain = input.chainPem ? readCertificates(input.chainPem) : [];
  let signedAt = input.at ?? new Date();
  let tlog: RekorBundleVerification | undefined;
  if (input.rekorBundle !== undefined) {
    if (!input.tlogKeys?.length) {
      throw new AirlockCosignError('TRUSTED_ROOT_REQUIRED', 'the signature carries a Rekor bundle but no Rekor keys were given', 'pass the Rekor public key(s), e.g. tlogKeysFromTrustedRoot(trustedRoot)');
    }
    tlog = verifyRekorBundle({
      bundle: input.rekorBundle,
      payload: input.payload,
      signature: Buffer.from(input.signatureB64.trim(), 'base64'),
      signer: { certificate: leaf },
      tlogKeys: input.tlogKeys,
    });
    signedAt = tlog.integratedTime;
  }
  const path = verifyCertificateChain({ leaf, intermediates: [...chain, ...(input.intermediates ?? [])], roots: input.roots, at: signedAt });
  const signer = certificateIdentity(leaf);
  if (input.certificatePolicy) checkCertificatePolicy(signer, input.certificatePolicy);
  const result = verifyCosignSignature({ ...input, publicKey: leaf.publicKey });
  if (!result.ok) return result;
  return { ...result, signer, chain: path, signedAt, ...(tlog ? { tlog } : {}) };
}

/**
 * Signing the way cosign does with a key:
 * - ECDSA: hash the message (SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521), ASN.1 DER signature;
 * - RSA: PKCS#1 v1.5 with SHA-256;
 * - Ed25519: pure Ed25519 over the message by default; `ed25519: 'ph'` gives Ed25519ph (SHA-512
 *   prehash), which is what cosign's own signer emits. Pure is the default because every cosign
 *   verifier accepts it, while only recent ones accept Ed25519ph for --key.
 */
import { createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { signEd25519ph } from './ed25519ph.js';
import { AirlockCosignError } from './errors.js';
import { defaultHash, keyAlgorithm } from './keys/algorithm.js';
import { buildSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE } from './simplesigning.js';

export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';
export const RFC3161_TIMESTAMP_ANNOTATION = 'dev.sigstore.cosign/rfc3161timestamp';

export type Ed25519Mode = 'pure' | 'ph';

export interface SignBytesOptions {
  ed25519?: Ed25519Mode;
}

/** Sign `data` with a private key as cosign does (see module comment). */
export function signBytes(data: Uint8Array, privateKey: KeyObject, opts: SignBytesOptions = {}): Buffer {
  if (privateKey.type !== 'private') {
    throw new AirlockCosignError('INVALID_INPUT', 'signing needs a private key', 'pass the private key read with readEncryptedPrivateKey');
  }
  const alg = keyAlgorithm(privateKey);
  if (alg === 'ed25519') return opts.ed25519 === 'ph' ? signEd25519ph(data, privateKey) : nodeSign(null, data, privateKey);
  const hash = defaultHash(alg) as string;
  if (alg === 'rsa') return nodeSign(hash, data, privateKey);
  return nodeSign(hash, data, { key: privateKey, dsaEncoding: 'der' });
}

export interface SignImageInput extends SignBytesOptions {
  privateKey: KeyObject;
  /** `docker-reference` to claim, normally cosignDockerReference(image). */
  dockerReference: string;
  /** `sha256:<hex>` of the manifest. */
  manifestDigest: string;
  /** cosign `-a` annotations, written to the payload's `optional`. */
  annotations?: Record<string, unknown> | null;
}

/** A legacy (`.sig` tag) cosign image signature layer: payload bytes plus the layer annotations. */
export interface ImageSignature {
  /** The layer blob: the simple-signing payload. */
  payload: Buffer;
  /** The layer media type. */
  mediaType: typeof SIMPLE_SIGNING_MEDIA_TYPE;
  signature: Buffer;
  signatureB64: string;
  /** Layer annotations: `dev.cosignproject.cosign/signature` = base64 signature. */
  annotations: Record<string, string>;
  publicKey: KeyObject;
}

/** `cosign sign --key` without upload: the simple-signing payload and its signature. */
export function signImage(input: SignImageInput): ImageSignature {
  const payload = buildSimpleSigningPayload(input);
  const signature = signBytes(payload, input.privateKey, input);
  const signatureB64 = signature.toString('base64');
  return {
    payload,
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    signature,
    signatureB64,
    annotations: { [SIGNATURE_ANNOTATION]: signatureB64 },
    publicKey: createPublicKey(input.privateKey),
  };
}

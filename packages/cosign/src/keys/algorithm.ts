/** The key types cosign signs with, and how to recognise them in a node KeyObject. */
import type { KeyObject } from 'node:crypto';
import { AirlockCosignError } from '../errors.js';

export type KeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'ed25519' | 'rsa';

const CURVES: Record<string, KeyAlgorithm> = {
  prime256v1: 'ecdsa-p256',
  'P-256': 'ecdsa-p256',
  secp384r1: 'ecdsa-p384',
  'P-384': 'ecdsa-p384',
  secp521r1: 'ecdsa-p521',
  'P-521': 'ecdsa-p521',
};

/** Classify a key, refusing anything cosign would not sign or verify with. */
export function keyAlgorithm(key: KeyObject): KeyAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const alg = CURVES[curve];
    if (alg) return alg;
    throw new AirlockCosignError('UNSUPPORTED_KEY_TYPE', `ECDSA curve ${curve || '(unknown)'} is not supported`, 'use an ECDSA P-256, P-384 or P-521 key, an Ed25519 key or an RSA key of at least 2048 bits');
  }
  if (type === 'ed25519') return 'ed25519';
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) {
      throw new AirlockCosignError('UNSUPPORTED_KEY_TYPE', `RSA key of ${bits} bits is too small`, 'use an RSA key of at least 2048 bits (cosign refuses smaller ones)');
    }
    return 'rsa';
  }
  throw new AirlockCosignError('UNSUPPORTED_KEY_TYPE', `${type ?? 'unknown'} keys are not supported`, 'use an ECDSA P-256, P-384 or P-521 key, an Ed25519 key or an RSA key');
}

/**
 * The hash cosign (sigstore's LoadDefaultSignerVerifier) pairs with each key type:
 * P-256/RSA -> SHA-256, P-384 -> SHA-384, P-521 -> SHA-512. Ed25519 has none (pure) or SHA-512 (ph).
 */
export function defaultHash(alg: KeyAlgorithm): 'sha256' | 'sha384' | 'sha512' | null {
  switch (alg) {
    case 'ecdsa-p256':
    case 'rsa':
      return 'sha256';
    case 'ecdsa-p384':
      return 'sha384';
    case 'ecdsa-p521':
      return 'sha512';
    case 'ed25519':
      return null;
  }
}

/** Public keys and certificates used for verification. */
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { AirlockCosignError, messageOf } from '../errors.js';
import { decodePem, decodePemBlocks, encodePem } from '../pem.js';
import { keyAlgorithm } from './algorithm.js';

/** Read a PEM public key: SPKI `PUBLIC KEY` (what cosign.pub holds) or PKCS#1 `RSA PUBLIC KEY`. */
export function readPublicKey(pem: string | Buffer): KeyObject {
  const block = decodePem(pem, 'public key');
  let key: KeyObject;
  try {
    if (block.type === 'PUBLIC KEY') key = createPublicKey({ key: block.bytes, format: 'der', type: 'spki' });
    else if (block.type === 'RSA PUBLIC KEY') key = createPublicKey({ key: block.bytes, format: 'der', type: 'pkcs1' });
    else {
      const hint = block.type === 'CERTIFICATE' ? 'this is a certificate: pass it as a certificate, or extract its key with publicKeyOfCertificate' : 'pass the cosign.pub file (-----BEGIN PUBLIC KEY-----)';
      throw new AirlockCosignError('INVALID_PUBLIC_KEY', `unsupported public key PEM type "${block.type}"`, hint);
    }
  } catch (e) {
    if (e instanceof AirlockCosignError) throw e;
    throw new AirlockCosignError('INVALID_PUBLIC_KEY', `the public key cannot be read: ${messageOf(e)}`, 'the public key file is corrupted; fetch it again from the signer', { cause: e });
  }
  keyAlgorithm(key);
  return key;
}

/** Accept a KeyObject or PEM text/bytes. */
export function toPublicKey(key: KeyObject | string | Buffer): KeyObject {
  if (typeof key === 'string' || Buffer.isBuffer(key)) return readPublicKey(key);
  return key.type === 'private' ? createPublicKey(key) : key;
}

export function publicKeyToPem(key: KeyObject): string {
  return encodePem('PUBLIC KEY', key.export({ format: 'der', type: 'spki' }));
}

/**
 * The key hint sigstore clients (cosign, sigstore-go) put in a bundle's
 * verificationMaterial.publicKey.hint: base64(sha256(DER SubjectPublicKeyInfo)).
 */
export function publicKeyHint(key: KeyObject): string {
  const spki = toPublicKey(key).export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Every certificate in a PEM bundle (leaf first, as cosign writes chains). */
export function readCertificates(pem: string | Buffer): X509Certificate[] {
  const blocks = decodePemBlocks(pem);
  if (blocks.length === 0) {
    throw new AirlockCosignError('INVALID_CERTIFICATE', 'no PEM certificate found', 'pass a PEM file with -----BEGIN CERTIFICATE----- blocks');
  }
  return blocks.map((b) => {
    if (b.type !== 'CERTIFICATE') {
      throw new AirlockCosignError('INVALID_CERTIFICATE', `unexpected PEM block "${b.type}" among certificates`, 'pass only -----BEGIN CERTIFICATE----- blocks');
    }
    try {
      return new X509Certificate(b.bytes);
    } catch (e) {
      throw new AirlockCosignError('INVALID_CERTIFICATE', `a certificate cannot be parsed: ${messageOf(e)}`, 'the certificate file is corrupted; fetch it again', { cause: e });
    }
  });
}

/** Exactly one PEM certificate. */
export function readCertificate(pem: string | Buffer): X509Certificate {
  const certs = readCertificates(pem);
  if (certs.length !== 1) {
    throw new AirlockCosignError('INVALID_CERTIFICATE', `expected one certificate, found ${certs.length}`, 'pass the signing certificate alone; pass its chain separately');
  }
  return certs[0] as X509Certificate;
}

export function publicKeyOfCertificate(cert: X509Certificate): KeyObject {
  const key = cert.publicKey;
  keyAlgorithm(key);
  return key;
}

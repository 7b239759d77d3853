/**
 * cosign private keys: read an encrypted key, generate a new pair, import a plain PEM key and
 * re-encrypt it the way `cosign generate-key-pair` / `cosign import-key-pair` do.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { classifyPrivateKeyDer } from '../der.js';
import { AirlockCosignError, messageOf } from '../errors.js';
import { decodePem, encodePem } from '../pem.js';
import { keyAlgorithm, type KeyAlgorithm } from './algorithm.js';
import {
  COSIGN_PRIVATE_KEY_PEM_TYPE,
  decryptKey,
  encryptKey,
  ENCRYPTED_KEY_PEM_TYPES,
  parseEncryptedKey,
  SCRYPT_N_DEFAULT,
  SCRYPT_N_LEGACY,
  SIGSTORE_PRIVATE_KEY_PEM_TYPE,
} from './encrypted.js';
import { publicKeyToPem } from './public.js';

export interface CosignKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  algorithm: KeyAlgorithm;
}

export interface CosignKeyPairPem extends CosignKeyPair {
  /** `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----` (or COSIGN when legacy) — cosign.key */
  privateKeyPem: string;
  /** `-----BEGIN PUBLIC KEY-----` (SPKI) — cosign.pub */
  publicKeyPem: string;
}

export interface EncryptOptions {
  /**
   * Write the legacy `ENCRYPTED COSIGN PRIVATE KEY` label with scrypt N=32768, for old cosign
   * releases. Default: `ENCRYPTED SIGSTORE PRIVATE KEY` with N=65536.
   */
  legacy?: boolean;
}

function pairOf(privateKey: KeyObject): CosignKeyPair {
  const algorithm = keyAlgorithm(privateKey);
  return { privateKey, publicKey: createPublicKey(privateKey), algorithm };
}

/** Turn decrypted plaintext (which must be PKCS#8 DER) into a key pair. */
function fromPkcs8(der: Buffer): CosignKeyPair {
  const kind = classifyPrivateKeyDer(der);
  if (kind === 'sec1' || kind === 'pkcs1') {
    throw new AirlockCosignError(
      'NOT_PKCS8',
      `the encrypted key holds a ${kind === 'sec1' ? 'SEC1 "EC PRIVATE KEY"' : 'PKCS#1 "RSA PRIVATE KEY"'}, not a PKCS#8 key; cosign refuses it too`,
      're-import the plain key with `cosign import-key-pair` (or importKeyPair), which stores it as PKCS#8',
    );
  }
  if (kind !== 'pkcs8') {
    throw new AirlockCosignError('NOT_PKCS8', 'the decrypted private key is not PKCS#8 DER', 'the key file is not a cosign key; generate a new key pair or import the key with importKeyPair');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new AirlockCosignError('UNSUPPORTED_KEY_TYPE', `the PKCS#8 private key cannot be read: ${messageOf(e)}`, 'use an ECDSA P-256/P-384/P-521, Ed25519 or RSA key', { cause: e });
  }
  return pairOf(key);
}

/**
 * Read a cosign encrypted private key (`ENCRYPTED SIGSTORE PRIVATE KEY` or `ENCRYPTED COSIGN PRIVATE
 * KEY`). A wrong password throws code BAD_PASSWORD; a SEC1/PKCS#1 plaintext throws NOT_PKCS8.
 */
export async function readEncryptedPrivateKey(pem: string | Buffer, password: string | Uint8Array): Promise<CosignKeyPair> {
  const block = decodePem(pem, 'cosign private key');
  if (!(ENCRYPTED_KEY_PEM_TYPES as readonly string[]).includes(block.type)) {
    throw new AirlockCosignError(
      'UNSUPPORTED_PEM_TYPE',
      `unsupported private key PEM type "${block.type}"`,
      `pass a cosign key (${ENCRYPTED_KEY_PEM_TYPES.join(' or ')}); import plain keys with importKeyPair first`,
    );
  }
  const encrypted = parseEncryptedKey(block.bytes);
  const plaintext = await decryptKey(encrypted, password);
  return fromPkcs8(plaintext);
}

/** PKCS#8 DER of a private key, encrypted and PEM-wrapped the way cosign writes cosign.key. */
export async function encryptPrivateKey(privateKey: KeyObject, password: string | Uint8Array, opts: EncryptOptions = {}): Promise<string> {
  keyAlgorithm(privateKey);
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const body = await encryptKey(der, password, opts.legacy ? SCRYPT_N_LEGACY : SCRYPT_N_DEFAULT);
  return encodePem(opts.legacy ? COSIGN_PRIVATE_KEY_PEM_TYPE : SIGSTORE_PRIVATE_KEY_PEM_TYPE, body);
}

async function withPem(pair: CosignKeyPair, password: string | Uint8Array, opts: EncryptOptions): Promise<CosignKeyPairPem> {
  return {
    ...pair,
    privateKeyPem: await encryptPrivateKey(pair.privateKey, password, opts),
    publicKeyPem: publicKeyToPem(pair.publicKey),
  };
}

/** `cosign generate-key-pair`: a new ECDSA P-256 pair, the private half encrypted with `password`. */
export async function generateKeyPair(opts: EncryptOptions & { password: string | Uint8Array }): Promise<CosignKeyPairPem> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return withPem(pairOf(privateKey), opts.password, opts);
}

const PLAIN_TYPES = ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY'] as const;

/** Read an unencrypted PEM private key: PKCS#8 `PRIVATE KEY`, SEC1 `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`. */
export function readPlainPrivateKey(pem: string | Buffer): CosignKeyPair {
  const block = decodePem(pem, 'private key');
  if (!(PLAIN_TYPES as readonly string[]).includes(block.type)) {
    const hint =
      block.type === 'ENCRYPTED PRIVATE KEY'
        ? 'decrypt it first (openssl pkcs8 -in key.pem -out plain.pem), then import the plain key'
        : `pass a PEM private key of type ${PLAIN_TYPES.join(', ')}`;
    throw new AirlockCosignError('UNSUPPORTED_PEM_TYPE', `unsupported private key PEM type "${block.type}"`, hint);
  }
  const type = block.type === 'PRIVATE KEY' ? 'pkcs8' : block.type === 'EC PRIVATE KEY' ? 'sec1' : 'pkcs1';
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: block.bytes, format: 'der', type });
  } catch (e) {
    throw new AirlockCosignError('UNSUPPORTED_KEY_TYPE', `the ${block.type} cannot be read: ${messageOf(e)}`, 'use an ECDSA P-256/P-384/P-521, Ed25519 or RSA key', { cause: e });
  }
  return pairOf(key);
}

/**
 * `cosign import-key-pair`: read a plain PEM private key and re-encrypt it as a cosign key
 * (always PKCS#8 inside, SIGSTORE label unless `legacy`).
 */
export async function importKeyPair(pem: string | Buffer, opts: EncryptOptions & { password: string | Uint8Array }): Promise<CosignKeyPairPem> {
  return withPem(readPlainPrivateKey(pem), opts.password, opts);
}

/**
 * The password-encrypted private key format cosign writes (go-securesystemslib/encrypted):
 * a PEM block `ENCRYPTED SIGSTORE PRIVATE KEY` (or legacy `ENCRYPTED COSIGN PRIVATE KEY`) whose body
 * is JSON {kdf: scrypt{N,r,p,salt}, cipher: nacl/secretbox{nonce}, ciphertext}; the plaintext is the
 * PKCS#8 DER private key.
 */
import { randomBytes, scrypt as scryptCb } from 'node:crypto';
import nacl from 'tweetnacl';
import { z } from 'zod';
import { AirlockCosignError } from '../errors.js';
import { parseJsonDocument } from '../json.js';
import { goString } from '../gojson.js';

export const SIGSTORE_PRIVATE_KEY_PEM_TYPE = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PRIVATE_KEY_PEM_TYPE = 'ENCRYPTED COSIGN PRIVATE KEY';
export const ENCRYPTED_KEY_PEM_TYPES = [SIGSTORE_PRIVATE_KEY_PEM_TYPE, COSIGN_PRIVATE_KEY_PEM_TYPE] as const;

/** scrypt work factors a reader accepts: legacy (32768), current (65536), and stronger (131072). */
export const ACCEPTED_SCRYPT_N = [32768, 65536, 131072] as const;
export const SCRYPT_N_DEFAULT = 65536;
export const SCRYPT_N_LEGACY = 32768;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const SALT_BYTES = 32;
const NONCE_BYTES = 24;
const KEY_BYTES = 32;

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64');

export const EncryptedKeySchema = z.object({
  kdf: z.object({
    name: z.string(),
    params: z.object({ N: z.number().int(), r: z.number().int(), p: z.number().int() }),
    salt: base64,
  }),
  cipher: z.object({ name: z.string(), nonce: base64 }),
  ciphertext: base64,
});
export type EncryptedKey = z.infer<typeof EncryptedKeySchema>;

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export function deriveKey(password: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  // node refuses to use more than 32 MiB by default; scrypt needs 128 * N * r * p bytes.
  const maxmem = 128 * params.N * params.r * params.p + 32 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, KEY_BYTES, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

function toBytes(password: string | Uint8Array): Uint8Array {
  return typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
}

/** Parse and sanity-check the JSON body of an encrypted key PEM block. */
export function parseEncryptedKey(body: Uint8Array): EncryptedKey {
  const k = parseJsonDocument(body, EncryptedKeySchema, {
    code: 'MALFORMED_ENCRYPTED_KEY',
    notJson: 'the encrypted private key is not valid JSON inside its PEM block',
    invalid: 'the encrypted private key is malformed',
    hint: 'the key file is corrupted; restore it from a backup or generate a new key pair',
  });
  if (k.kdf.name !== 'scrypt') {
    throw new AirlockCosignError('UNSUPPORTED_KDF_PARAMS', `unknown key derivation "${k.kdf.name}"`, 'only scrypt-encrypted cosign keys are supported');
  }
  if (k.cipher.name !== 'nacl/secretbox') {
    throw new AirlockCosignError('UNSUPPORTED_KDF_PARAMS', `unknown cipher "${k.cipher.name}"`, 'only nacl/secretbox-encrypted cosign keys are supported');
  }
  const { N, r, p } = k.kdf.params;
  if (!(ACCEPTED_SCRYPT_N as readonly number[]).includes(N) || r !== SCRYPT_R || p !== SCRYPT_P) {
    throw new AirlockCosignError('UNSUPPORTED_KDF_PARAMS', `unexpected scrypt parameters N=${N} r=${r} p=${p}`, `cosign keys use N in {${ACCEPTED_SCRYPT_N.join(', ')}}, r=8, p=1; re-encrypt the key with cosign or importKeyPair`);
  }
  if (Buffer.from(k.cipher.nonce, 'base64').length !== NONCE_BYTES) {
    throw new AirlockCosignError('MALFORMED_ENCRYPTED_KEY', 'the encrypted private key has a nonce of the wrong size', 'the key file is corrupted; restore it from a backup or generate a new key pair');
  }
  return k;
}

/** Decrypt a parsed encrypted key; a wrong password is one typed error, BAD_PASSWORD. */
export async function decryptKey(k: EncryptedKey, password: string | Uint8Array): Promise<Buffer> {
  const key = await deriveKey(toBytes(password), Buffer.from(k.kdf.salt, 'base64'), k.kdf.params);
  const opened = nacl.secretbox.open(Buffer.from(k.ciphertext, 'base64'), Buffer.from(k.cipher.nonce, 'base64'), key);
  if (!opened) {
    throw new AirlockCosignError('BAD_PASSWORD', 'wrong password for the encrypted private key', 'check the password (COSIGN_PASSWORD) used when the key pair was generated');
  }
  return Buffer.from(opened);
}

/** Encrypt plaintext and serialise it exactly as Go json.Marshal writes go-securesystemslib's struct. */
export async function encryptKey(plaintext: Uint8Array, password: string | Uint8Array, N: number = SCRYPT_N_DEFAULT): Promise<Buffer> {
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const key = await deriveKey(toBytes(password), salt, { N, r: SCRYPT_R, p: SCRYPT_P });
  const ciphertext = nacl.secretbox(plaintext, nonce, key);
  const json =
    `{"kdf":{"name":"scrypt","params":{"N":${N},"r":${SCRYPT_R},"p":${SCRYPT_P}},"salt":${goString(salt.toString('base64'))}},` +
    `"cipher":{"name":"nacl/secretbox","nonce":${goString(nonce.toString('base64'))}},` +
    `"ciphertext":${goString(Buffer.from(ciphertext).toString('base64'))}}`;
  return Buffer.from(json, 'utf8');
}

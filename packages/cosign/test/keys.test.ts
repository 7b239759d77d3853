import { readFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes, scryptSync } from 'node:crypto';
import nacl from 'tweetnacl';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AirlockCosignError,
  generateKeyPair,
  importKeyPair,
  publicKeyHint,
  publicKeyToPem,
  readEncryptedPrivateKey,
  readPublicKey,
} from '../src/index.js';
import { decodePem } from '../src/pem.js';
import { SHARED_FIXTURES } from '../../../test/helpers/fixtures.js';

const KEYS = `${SHARED_FIXTURES}/cosign-keys`;
const read = (f: string) => readFileSync(join(KEYS, f), 'utf8');

async function rejection(p: Promise<unknown>): Promise<AirlockCosignError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AirlockCosignError);
    return e as AirlockCosignError;
  }
  throw new Error('expected a rejection');
}

describe('encrypted cosign keys', () => {
  it.each([
    ['sigstore-labeled.key', 'sigstore-labeled.pub'],
    ['cosign-labeled.key', 'cosign-labeled.pub'],
  ])('decrypts %s with "hello" and matches %s', async (keyFile, pubFile) => {
    const pair = await readEncryptedPrivateKey(read(keyFile), 'hello');
    expect(pair.algorithm).toBe('ecdsa-p256');
    const expected = readPublicKey(read(pubFile));
    expect(pair.publicKey.equals(expected)).toBe(true);
    expect(publicKeyToPem(pair.publicKey)).toBe(read(pubFile).replace(/\r\n/g, '\n').trimEnd() + '\n');
  });

  it('reports a wrong password as BAD_PASSWORD', async () => {
    const err = await rejection(readEncryptedPrivateKey(read('sigstore-labeled.key'), 'not-hello'));
    expect(err.code).toBe('BAD_PASSWORD');
    expect(err.hint).toMatch(/password/);
  });

  it('refuses a SEC1 plaintext with NOT_PKCS8', async () => {
    const err = await rejection(readEncryptedPrivateKey(read('cosign-labeled-ec-sec1-rejected.key'), 'hello'));
    expect(err.code).toBe('NOT_PKCS8');
    expect(err.message).toMatch(/SEC1/);
  });

  it('refuses a non-cosign PEM type', async () => {
    const err = await rejection(readEncryptedPrivateKey(read('sigstore-labeled.pub'), 'hello'));
    expect(err.code).toBe('UNSUPPORTED_PEM_TYPE');
  });

  it('reads keys encrypted with scrypt N=2^17, as newer tools may write them', async () => {
    // Written straight from the format (scrypt → NaCl secretbox over PKCS#8), not with our encoder.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const salt = randomBytes(32);
    const nonce = randomBytes(24);
    const key = scryptSync('pw', salt, 32, { N: 131072, r: 8, p: 1, maxmem: 256 * 1024 * 1024 });
    const ciphertext = nacl.secretbox(new Uint8Array(der), new Uint8Array(nonce), new Uint8Array(key));
    const body = {
      kdf: { name: 'scrypt', params: { N: 131072, r: 8, p: 1 }, salt: salt.toString('base64') },
      cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
      ciphertext: Buffer.from(ciphertext).toString('base64'),
    };
    const pem = `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from(JSON.stringify(body)).toString('base64')}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`;
    const pair = await readEncryptedPrivateKey(pem, 'pw');
    expect(publicKeyToPem(pair.publicKey)).toBe(publicKeyToPem(publicKey));
  });

  it('refuses tampered scrypt parameters', async () => {
    const block = decodePem(read('sigstore-labeled.key'), 'key');
    const json = JSON.parse(block.bytes.toString());
    json.kdf.params.N = 1024;
    const pem = `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from(JSON.stringify(json)).toString('base64')}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`;
    expect((await rejection(readEncryptedPrivateKey(pem, 'hello'))).code).toBe('UNSUPPORTED_KDF_PARAMS');
  });

  it('generates SIGSTORE keys with N=65536 and round-trips them', async () => {
    const pair = await generateKeyPair({ password: 'pw' });
    const block = decodePem(pair.privateKeyPem, 'key');
    expect(block.type).toBe('ENCRYPTED SIGSTORE PRIVATE KEY');
    const body = JSON.parse(block.bytes.toString());
    expect(Object.keys(body)).toEqual(['kdf', 'cipher', 'ciphertext']);
    expect(body.kdf).toMatchObject({ name: 'scrypt', params: { N: 65536, r: 8, p: 1 } });
    expect(Buffer.from(body.kdf.salt, 'base64')).toHaveLength(32);
    expect(body.cipher.name).toBe('nacl/secretbox');
    expect(Buffer.from(body.cipher.nonce, 'base64')).toHaveLength(24);
    expect(pair.privateKeyPem.split('\n').every((l) => l.length <= 64)).toBe(true);
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const back = await readEncryptedPrivateKey(pair.privateKeyPem, 'pw');
    expect(back.publicKey.equals(readPublicKey(pair.publicKeyPem))).toBe(true);
    expect(back.algorithm).toBe('ecdsa-p256');
  });

  it('generates legacy COSIGN keys with N=32768 and round-trips them', async () => {
    const pair = await generateKeyPair({ password: '', legacy: true });
    const block = decodePem(pair.privateKeyPem, 'key');
    expect(block.type).toBe('ENCRYPTED COSIGN PRIVATE KEY');
    expect(JSON.parse(block.bytes.toString()).kdf.params.N).toBe(32768);
    const back = await readEncryptedPrivateKey(pair.privateKeyPem, '');
    expect(back.publicKey.equals(pair.publicKey)).toBe(true);
  });

  it.each([
    ['PKCS#8 EC', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }), 'ecdsa-p384'],
    ['SEC1 EC', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'sec1' }), 'ecdsa-p256'],
    ['PKCS#1 RSA', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs1' }), 'rsa'],
    ['PKCS#8 Ed25519', () => generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), 'ed25519'],
  ])('imports a %s key and re-encrypts it as PKCS#8', async (_name, make, alg) => {
    const pem = make() as string;
    const imported = await importKeyPair(pem, { password: 'pw' });
    expect(decodePem(imported.privateKeyPem, 'key').type).toBe('ENCRYPTED SIGSTORE PRIVATE KEY');
    const back = await readEncryptedPrivateKey(imported.privateKeyPem, 'pw');
    expect(back.algorithm).toBe(alg);
    expect(back.publicKey.equals(imported.publicKey)).toBe(true);
  });

  it('refuses small RSA keys on import', async () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect((await rejection(importKeyPair(pem, { password: 'pw' }))).code).toBe('UNSUPPORTED_KEY_TYPE');
  });

  it('computes the sigstore key hint', () => {
    const key = readPublicKey(readFileSync(`${SHARED_FIXTURES}/sigstore-conformance/bundle-verify/managed-key-happy-path/key.pub`));
    expect(publicKeyHint(key)).toBe('TLMsSDfG3ajPsWge+z/vX5T/zluXnmvbkTkwLIV68Tk=');
  });
});

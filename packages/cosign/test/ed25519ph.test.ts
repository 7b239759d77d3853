import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signEd25519ph, verifyEd25519ph } from '../src/ed25519ph.js';

// PKCS#8 DER prefix for an Ed25519 seed
const pkcs8 = (seedHex: string) =>
  createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]), format: 'der', type: 'pkcs8' });

describe('Ed25519ph', () => {
  it('matches the RFC 8032 §7.3 test vector', () => {
    const key = pkcs8('833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42');
    const sig = signEd25519ph(Buffer.from('abc'), key);
    expect(sig.toString('hex')).toBe(
      '98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406',
    );
    expect(verifyEd25519ph(Buffer.from('abc'), sig, createPublicKey(key))).toBe(true);
    expect(verifyEd25519ph(Buffer.from('abd'), sig, createPublicKey(key))).toBe(false);
  });

  it('matches sigstore/sigstore ED25519phSigner output', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFP9CZb6J1DiOLfdIkPfy1bwBOCjEG6KR/cIdhw90J1H\n-----END PRIVATE KEY-----\n';
    const key = createPrivateKey(pem);
    const msg = Buffer.from('sign me');
    expect(sign(null, msg, key).toString('base64')).toBe('cnafwd8DKq2nQ564eN66ckYV8anVFGFi5vaYiQg2aal7ej/J0/OE0PPdKHLHe9wdzWRMFy5MpurRD/2cGXGLBQ==');
    expect(signEd25519ph(msg, key).toString('base64')).toBe('9D4pA8jutZnbqKy4fFRl+kDsVUCO50qrOD1lxmsiUFk6NX+7OXUK5BCMkE2KYPRDxjkDFBzbDZEQhaFdDV5tDg==');
  });
});

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildSimpleSigningPayload,
  cosignDockerReference,
  identityMatches,
  parseSimpleSigningPayload,
  SIGNATURE_ANNOTATION,
  signBytes,
  signImage,
  verifyBytes,
  verifyCosignSignature,
  AirlockCosignError,
} from '../src/index.js';
import { goMarshal } from '../src/gojson.js';
import { readSignature } from './helpers/containers-image.js';

const DIGEST = 'sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00';

describe('simple signing payload', () => {
  it('reproduces cosign-written payload bytes exactly (optional null)', () => {
    const fixture = readSignature('dir-img-cosign-valid/signature-1').payload;
    const built = buildSimpleSigningPayload({ dockerReference: '192.168.64.2:5000/cosign-signed-single-sample', manifestDigest: DIGEST });
    expect(built.equals(fixture)).toBe(true);
  });

  it('reproduces payload bytes with annotations (Go map order)', () => {
    const fixture = readSignature('dir-img-cosign-valid-with-tag/signature-1').payload;
    const parsed = parseSimpleSigningPayload(fixture);
    const built = buildSimpleSigningPayload({
      dockerReference: parsed.critical.identity['docker-reference'],
      manifestDigest: parsed.critical.image['docker-manifest-digest'],
      annotations: { timestamp: 1657296609, creator: 'containers/image 5.21.2-dev' },
    });
    expect(built.toString()).toBe(fixture.toString());
  });

  it('escapes like Go encoding/json', () => {
    expect(goMarshal({ b: '<&>', a: '\u2028\n\u0001', 'é': 1.5, c: [true, null] })).toBe('{"a":"\\u2028\\n\\u0001","b":"\\u003c\\u0026\\u003e","c":[true,null],"é":1.5}');
  });

  it('rejects non-cosign payloads', () => {
    expect(() => parseSimpleSigningPayload(Buffer.from('{"critical":{}}'))).toThrow(AirlockCosignError);
    expect(() => parseSimpleSigningPayload(Buffer.from('nope'))).toThrow(expect.objectContaining({ code: 'MALFORMED_PAYLOAD' }));
  });
});

describe('docker references', () => {
  it.each([
    ['alpine', 'index.docker.io/library/alpine'],
    ['docker.io/library/alpine:3', 'index.docker.io/library/alpine'],
    ['user/app@sha256:' + 'a'.repeat(64), 'index.docker.io/user/app'],
    ['ghcr.io/org/app:v1', 'ghcr.io/org/app'],
    ['localhost:5000/x/y', 'localhost:5000/x/y'],
  ])('%s -> %s', (ref, want) => {
    expect(cosignDockerReference(ref)).toBe(want);
  });

  it('matches identities by repository, tags when both have them, and rewrites', () => {
    expect(identityMatches('index.docker.io/library/alpine', { expectedReference: 'alpine:3' })).toBe(true);
    expect(identityMatches('reg.io/a/b:1', { expectedReference: 'reg.io/a/b:2' })).toBe(false);
    expect(identityMatches('reg.io/a/b', { expectedReference: 'mirror.local/a/b', rewrite: [['reg.io', 'mirror.local']] })).toBe(true);
    expect(identityMatches('reg.io/ab/c', { expectedReference: 'mirror.local/b/c', rewrite: [['reg.io/a', 'mirror.local']] })).toBe(false);
  });
});

const keys: Array<[string, () => KeyObject]> = [
  ['ECDSA P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey],
  ['ECDSA P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey],
  ['ECDSA P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey],
  ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
  ['Ed25519', () => generateKeyPairSync('ed25519').privateKey],
];

describe('signImage / verifyCosignSignature', () => {
  it.each(keys)('%s round-trips', (_n, make) => {
    const privateKey = make();
    const sig = signImage({ privateKey, dockerReference: 'reg.io/a/b', manifestDigest: DIGEST, annotations: { tag: 'v1' } });
    expect(sig.annotations[SIGNATURE_ANNOTATION]).toBe(sig.signatureB64);
    expect(sig.mediaType).toBe('application/vnd.dev.cosign.simplesigning.v1+json');
    const ok = verifyCosignSignature({ payload: sig.payload, signatureB64: sig.signatureB64, publicKey: sig.publicKey, expectedManifestDigest: DIGEST, identity: { expectedReference: 'reg.io/a/b:v1' } });
    expect(ok).toMatchObject({ ok: true, annotations: { tag: 'v1' } });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(verifyCosignSignature({ payload: sig.payload, signatureB64: sig.signatureB64, publicKey: other, expectedManifestDigest: DIGEST })).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
    expect(verifyCosignSignature({ payload: sig.payload, signatureB64: sig.signatureB64, publicKey: sig.publicKey, expectedManifestDigest: 'sha256:' + 'b'.repeat(64) })).toMatchObject({ ok: false, reason: 'DIGEST_MISMATCH' });
    expect(verifyCosignSignature({ payload: sig.payload, signatureB64: sig.signatureB64, publicKey: sig.publicKey, expectedManifestDigest: DIGEST, identity: { expectedReference: 'other.io/a/b' } })).toMatchObject({ ok: false, reason: 'IDENTITY_MISMATCH' });
  });

  it('ECDSA signatures are ASN.1 DER', () => {
    const sig = signBytes(Buffer.from('x'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    expect(sig[0]).toBe(0x30);
  });

  it('Ed25519: pure by default, Ed25519ph on request, both verify', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const msg = Buffer.from('payload');
    const pure = signBytes(msg, privateKey);
    const ph = signBytes(msg, privateKey, { ed25519: 'ph' });
    expect(pure.equals(ph)).toBe(false);
    expect(verifyBytes(msg, pure, publicKey)).toBe(true);
    expect(verifyBytes(msg, ph, publicKey)).toBe(true);
    expect(verifyBytes(msg, ph, publicKey, { ed25519: 'pure' })).toBe(false);
    expect(verifyBytes(msg, pure, publicKey, { ed25519: 'ph' })).toBe(false);
  });

  it('P-384 signatures made over SHA-256 (older cosign) still verify', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const { sign } = await import('node:crypto');
    const legacy = sign('sha256', Buffer.from('m'), { key: privateKey, dsaEncoding: 'der' });
    expect(verifyBytes(Buffer.from('m'), legacy, publicKey)).toBe(true);
  });

  it('refuses a non-base64 signature as BAD_SIGNATURE and a wrong media type as MALFORMED_PAYLOAD', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sig = signImage({ privateKey, dockerReference: 'reg.io/a/b', manifestDigest: DIGEST });
    expect(verifyCosignSignature({ payload: sig.payload, signatureB64: '%%%', publicKey: sig.publicKey, expectedManifestDigest: DIGEST })).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
    expect(verifyCosignSignature({ payload: sig.payload, signatureB64: sig.signatureB64, publicKey: sig.publicKey, expectedManifestDigest: DIGEST, mediaType: 'text/plain' })).toMatchObject({ ok: false, reason: 'MALFORMED_PAYLOAD' });
  });

  it('a signed non-JSON payload is MALFORMED_PAYLOAD', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const payload = Buffer.from('not json');
    const signatureB64 = signBytes(payload, privateKey).toString('base64');
    expect(verifyCosignSignature({ payload, signatureB64, publicKey, expectedManifestDigest: DIGEST })).toMatchObject({ ok: false, reason: 'MALFORMED_PAYLOAD' });
  });
});

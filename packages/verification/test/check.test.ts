import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BUNDLE_ANNOTATION,
  buildImageBundle,
  CERTIFICATE_ANNOTATION,
  SIGNATURE_ANNOTATION,
  signImage,
  signImageAttestation,
} from '@airlock/cosign';
import { checkBundle, checkLegacyAttestation, checkLegacySignature, identityAccepts, peekPredicateType, type IdentityCheck, type LegacyLayer } from '../src/check.js';
import { parseIdentityRewrite } from '../src/policy.js';
import { keylessSigner, publicGoodRoot, type Signer } from '../src/trust.js';
import { SHARED_FIXTURES } from '../../../test/helpers/fixtures.js';

const FIXTURES = `${SHARED_FIXTURES}/cosign-containers-image`;
const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;
const pair = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const A = pair();
const B = pair();
const keyA: Signer = { kind: 'key', name: 'a.pub', key: A.publicKey };
const keyB: Signer = { kind: 'key', name: 'b.pub', key: B.publicKey };
const ID = (expected: string[], rewrites: [string, string][] = [], ignore = false): IdentityCheck => ({ ignore, expected, rewrites });

function layerOf(privateKey = A.privateKey, dockerReference = 'registry.local/acme/app', digest = DIGEST): LegacyLayer {
  const s = signImage({ privateKey, dockerReference, manifestDigest: digest });
  return { bytes: s.payload, mediaType: s.mediaType, annotations: s.annotations, digest: `sha256:${createHash('sha256').update(s.payload).digest('hex')}` };
}

describe('legacy .sig layers with keys', () => {
  it('valid: names the key, the docker-reference, and cosign\'s output object', () => {
    const s = checkLegacySignature(layerOf(), 'l1', DIGEST, [keyB, keyA], ID(['registry.local/acme/app']));
    expect(s).toMatchObject({ valid: true, verifiedBy: ['key a.pub'], dockerReference: 'registry.local/acme/app', signedDigest: DIGEST, certificate: false });
    expect(s.verifiedWith.has(keyA)).toBe(true);
    expect(s.detail.output).toEqual({ critical: { identity: { 'docker-reference': 'registry.local/acme/app' }, image: { 'docker-manifest-digest': DIGEST }, type: 'cosign container image signature' }, optional: null });
  });

  it('wrong key(s): BAD_SIGNATURE naming every key tried', () => {
    expect(checkLegacySignature(layerOf(), 'l1', DIGEST, [keyB], ID([]))).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE', message: 'the signature does not verify with the key b.pub' });
    const c: Signer = { kind: 'key', name: 'c.pub', key: pair().publicKey };
    expect(checkLegacySignature(layerOf(), 'l1', DIGEST, [keyB, c], ID([])).message).toBe('the signature does not verify with the keys b.pub, c.pub');
  });

  it('the reason from the key that did sign wins over "wrong key" from the others', () => {
    const s = checkLegacySignature(layerOf(A.privateKey, 'registry.local/acme/app', OTHER), 'l1', DIGEST, [keyB, keyA], ID([]));
    expect(s).toMatchObject({ valid: false, reason: 'DIGEST_MISMATCH', signedDigest: OTHER, dockerReference: 'registry.local/acme/app' });
  });

  it('docker-reference: image repository, rewrites, --identity, ignore; layouts are not checked', () => {
    const up = layerOf(A.privateKey, 'upstream.example/acme/app');
    expect(checkLegacySignature(up, 'l', DIGEST, [keyA], ID(['registry.local/mirror/app']))).toMatchObject({
      valid: false,
      reason: 'IDENTITY_MISMATCH',
      message: 'the signature names upstream.example/acme/app, not registry.local/mirror/app',
    });
    expect(checkLegacySignature(up, 'l', DIGEST, [keyA], ID(['registry.local/mirror/app'], parseIdentityRewrite('upstream.example/acme=registry.local/mirror'))).valid).toBe(true);
    expect(checkLegacySignature(up, 'l', DIGEST, [keyA], ID(['registry.local/mirror/app', 'upstream.example/acme/app'])).valid).toBe(true);
    expect(checkLegacySignature(up, 'l', DIGEST, [keyA], ID(['registry.local/mirror/app'], [], true)).valid).toBe(true);
    expect(checkLegacySignature(up, 'l', DIGEST, [keyA], ID([])).valid).toBe(true);
    // Docker Hub spellings
    expect(identityAccepts('index.docker.io/library/nginx', ID(['docker.io/library/nginx']))).toBe(true);
    expect(identityAccepts('index.docker.io/library/nginx', ID(['reg.local/hub/nginx'], parseIdentityRewrite('docker.io/library=reg.local/hub')))).toBe(true);
    // a name without a host is on Docker Hub, as in airlock mirror --rewrite
    expect(identityAccepts('index.docker.io/library/nginx', ID(['reg.local/hub/nginx'], parseIdentityRewrite('library=reg.local/hub')))).toBe(true);
    expect(identityAccepts('index.docker.io/library/nginx', ID(['reg.local/hub/nginx'], parseIdentityRewrite('quay.io/library=reg.local/hub')))).toBe(false);
  });

  it('malformed layers', () => {
    const l = layerOf();
    expect(checkLegacySignature({ ...l, annotations: {} }, 'l', DIGEST, [keyA], ID([]))).toMatchObject({ valid: false, reason: 'MALFORMED', message: expect.stringContaining(SIGNATURE_ANNOTATION) });
    expect(checkLegacySignature({ ...l, mediaType: 'text/plain' }, 'l', DIGEST, [keyA], ID([]))).toMatchObject({ valid: false, reason: 'MALFORMED' });
    expect(checkLegacySignature({ ...l, annotations: { [SIGNATURE_ANNOTATION]: '!!!' } }, 'l', DIGEST, [keyA], ID([]))).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
  });
});

describe('Sigstore bundles (cosign v3 referrers)', () => {
  it('a key-signed image signature bundle', () => {
    const { bundle } = buildImageBundle({ privateKey: A.privateKey, manifestDigest: DIGEST, name: 'registry.local/acme/app' });
    const bytes = Buffer.from(JSON.stringify(bundle));
    expect(peekPredicateType(bytes)).toBe('https://sigstore.dev/cosign/sign/v1');
    const ok = checkBundle('signature', bytes, 'r', 'sha256:r', DIGEST, [keyB, keyA]);
    expect(ok).toMatchObject({ valid: true, verifiedBy: ['key a.pub'], format: 'bundle', source: 'referrer' });
    expect(ok.detail.output).toMatchObject({ critical: { identity: { 'docker-reference': 'registry.local/acme/app' }, image: { 'docker-manifest-digest': DIGEST } } });
    expect(checkBundle('signature', bytes, 'r', 'sha256:r', OTHER, [keyA])).toMatchObject({ valid: false, reason: 'DIGEST_MISMATCH' });
    expect(checkBundle('signature', bytes, 'r', 'sha256:r', DIGEST, [keyB])).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE', message: 'the signature does not verify with the key b.pub' });
    const keyless = keylessSigner({ identity: 'x@example.com', issuer: 'https://issuer.example' }, publicGoodRoot(), 'test');
    expect(checkBundle('signature', bytes, 'r', 'sha256:r', DIGEST, [keyless])).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE', message: expect.stringContaining('made with a key') });
    expect(checkBundle('signature', Buffer.from('nope'), 'r', 'sha256:r', DIGEST, [keyA])).toMatchObject({ valid: false, reason: 'MALFORMED' });
  });

  it('an attestation bundle yields its statement', () => {
    const { bundle } = buildImageBundle({ privateKey: A.privateKey, manifestDigest: DIGEST, predicateType: 'https://slsa.dev/provenance/v1', predicate: { buildDefinition: { buildType: 'x' } } });
    const s = checkBundle('attestation', Buffer.from(JSON.stringify(bundle)), 'r', 'sha256:r', DIGEST, [keyA]);
    expect(s).toMatchObject({ valid: true, predicateType: 'https://slsa.dev/provenance/v1' });
    expect(s.detail.statement).toMatchObject({ predicate: { buildDefinition: { buildType: 'x' } } });
    // it is not a signature
    expect(checkBundle('signature', Buffer.from(JSON.stringify(bundle)), 'r', 'sha256:r', DIGEST, [keyA])).toMatchObject({ valid: false, reason: 'WRONG_TYPE' });
  });
});

describe('legacy .att layers', () => {
  const att = signImageAttestation({ privateKey: A.privateKey, manifestDigest: DIGEST, name: 'registry.local/acme/app', type: 'slsaprovenance', predicate: Buffer.from('{"buildType":"x"}') });
  const layer: LegacyLayer = { bytes: att.layer, mediaType: att.mediaType, annotations: att.annotations, digest: 'sha256:l' };
  it('verifies with the key, with the statement and predicate type', () => {
    const s = checkLegacyAttestation(layer, 'l', DIGEST, [keyA]);
    expect(s).toMatchObject({ valid: true, predicateType: 'https://slsa.dev/provenance/v0.2', format: 'dsse' });
    expect((s.detail.envelope as { payloadType: string }).payloadType).toBe('application/vnd.in-toto+json');
  });
  it('rejects another key, another digest, a non-DSSE layer; keyless needs a certificate', () => {
    expect(checkLegacyAttestation(layer, 'l', DIGEST, [keyB])).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE', message: 'the attestation does not verify with the key b.pub', predicateType: 'https://slsa.dev/provenance/v0.2' });
    expect(checkLegacyAttestation(layer, 'l', OTHER, [keyA])).toMatchObject({ valid: false, reason: 'DIGEST_MISMATCH' });
    expect(checkLegacyAttestation({ ...layer, mediaType: 'application/json' }, 'l', DIGEST, [keyA])).toMatchObject({ valid: false, reason: 'MALFORMED' });
    expect(checkLegacyAttestation({ ...layer, bytes: Buffer.from('{}') }, 'l', DIGEST, [keyA])).toMatchObject({ valid: false, reason: 'MALFORMED' });
    const keyless = keylessSigner({ identity: 'x@example.com', issuer: 'https://issuer.example' }, publicGoodRoot(), 'test');
    expect(checkLegacyAttestation(layer, 'l', DIGEST, [keyless])).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE', message: expect.stringContaining('carries no certificate') });
  });
});

describe('legacy keyless .sig (real cosign fixture, public-good root, offline)', () => {
  const dir = path.join(FIXTURES, 'dir-img-cosign-fulcio-rekor-valid');
  const raw = readFileSync(path.join(dir, 'signature-1'));
  const j = JSON.parse(raw.subarray('\x00sigstore-json\n'.length).toString('utf8')) as { mimeType: string; payload: string; annotations: Record<string, string> };
  const layer: LegacyLayer = { bytes: Buffer.from(j.payload, 'base64'), mediaType: j.mimeType, annotations: j.annotations, digest: 'sha256:l' };
  const digest = `sha256:${createHash('sha256').update(readFileSync(path.join(dir, 'manifest.json'))).digest('hex')}`;
  const signer = (identity: string) => keylessSigner({ identity, issuer: 'https://github.com/login/oauth' }, publicGoodRoot(), 'test');

  it('verifies: chain, SET, SCT, identity; cosign output carries Subject/Issuer/Bundle', () => {
    expect(existsSync(dir)).toBe(true);
    const s = checkLegacySignature(layer, 'l', digest, [signer('mitr@redhat.com')], ID(['192.168.64.2:5000/cosign-signed/fulcio-rekor-1']));
    expect(s).toMatchObject({ valid: true, certificate: true, signer: { subjectAlternativeName: 'mitr@redhat.com', issuer: 'https://github.com/login/oauth' } });
    expect(s.detail.output).toMatchObject({ optional: { Subject: 'mitr@redhat.com', Issuer: 'https://github.com/login/oauth', Bundle: { SignedEntryTimestamp: expect.any(String) } } });
  });

  it('rejects another identity, a missing Rekor bundle, a key signer, another digest', () => {
    expect(checkLegacySignature(layer, 'l', digest, [signer('x@example.com')], ID([]))).toMatchObject({ valid: false, reason: 'CERTIFICATE_IDENTITY_MISMATCH' });
    const { [BUNDLE_ANNOTATION]: _b, ...noBundle } = j.annotations;
    expect(checkLegacySignature({ ...layer, annotations: noBundle }, 'l', digest, [signer('mitr@redhat.com')], ID([]))).toMatchObject({ valid: false, reason: 'TLOG_INVALID' });
    const { [CERTIFICATE_ANNOTATION]: _c, ...noCert } = j.annotations;
    expect(checkLegacySignature({ ...layer, annotations: noCert }, 'l', digest, [signer('mitr@redhat.com')], ID([]))).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
    expect(checkLegacySignature(layer, 'l', digest, [keyA], ID([]))).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
    expect(checkLegacySignature(layer, 'l', OTHER, [signer('mitr@redhat.com')], ID([]))).toMatchObject({ valid: false, reason: 'DIGEST_MISMATCH' });
  });
});

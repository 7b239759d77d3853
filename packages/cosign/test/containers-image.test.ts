import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AirlockCosignError,
  BUNDLE_ANNOTATION,
  CERTIFICATE_ANNOTATION,
  CHAIN_ANNOTATION,
  SIGNATURE_ANNOTATION,
  publicGoodTrustedRoot,
  readCertificates,
  readPublicKey,
  tlogKeysFromTrustedRoot,
  verifyCosignSignature,
  verifyCosignSignatureWithCertificate,
  verifyRekorBundle,
} from '../src/index.js';
import { FIXTURES, manifestDigest, readSignature } from './helpers/containers-image.js';

/** The parts of a certificate (keyless / PKI) signature layer that every case passes along. */
function certificateSignature(sig: { payload: Buffer; annotations: Record<string, string> }) {
  return {
    payload: sig.payload,
    signatureB64: sig.annotations[SIGNATURE_ANNOTATION]!,
    certificatePem: sig.annotations[CERTIFICATE_ANNOTATION]!,
    chainPem: sig.annotations[CHAIN_ANNOTATION]!,
  };
}

const key1 = readPublicKey(readFileSync(join(FIXTURES, 'cosign.pub')));
const key2 = readPublicKey(readFileSync(join(FIXTURES, 'cosign2.pub')));
const keys = [key1, key2];
const tlogKeys = tlogKeysFromTrustedRoot(publicGoodTrustedRoot());

function verifyWithAnyKey(sigPath: string, dir: string) {
  const sig = readSignature(sigPath);
  const results = keys.map((publicKey) =>
    verifyCosignSignature({
      payload: sig.payload,
      signatureB64: sig.annotations[SIGNATURE_ANNOTATION] ?? '',
      publicKey,
      expectedManifestDigest: manifestDigest(dir),
      mediaType: sig.mimeType,
    }),
  );
  return results.find((r) => r.ok) ?? results[0]!;
}

describe('containers/image cosign fixtures, key-based', () => {
  it.each([
    ['dir-img-cosign-valid', 'signature-1'],
    ['dir-img-cosign-valid-2', 'signature-1'],
    ['dir-img-cosign-valid-2', 'signature-2'],
    ['dir-img-cosign-valid-with-tag', 'signature-1'],
    ['dir-img-cosign-key-rekor-valid', 'signature-1'],
    ['dir-img-cosign-mixed', 'signature-2'],
  ])('%s/%s verifies for the digest of its manifest.json', (dir, sig) => {
    const r = verifyWithAnyKey(`${dir}/${sig}`, dir);
    expect(r).toMatchObject({ ok: true, manifestDigest: manifestDigest(dir) });
  });

  it('key-rekor-valid: the Rekor SET verifies against the public-good Rekor key', () => {
    const sig = readSignature('dir-img-cosign-key-rekor-valid/signature-1');
    const signatureB64 = sig.annotations[SIGNATURE_ANNOTATION]!;
    const signerKey = keys.find((k) => verifyCosignSignature({ payload: sig.payload, signatureB64, publicKey: k, expectedManifestDigest: manifestDigest('dir-img-cosign-key-rekor-valid') }).ok)!;
    const tlog = verifyRekorBundle({
      bundle: sig.annotations[BUNDLE_ANNOTATION]!,
      payload: sig.payload,
      signature: Buffer.from(signatureB64, 'base64'),
      signer: { publicKey: signerKey },
      tlogKeys,
    });
    expect(tlog.logIndex).toBeGreaterThan(0);
    expect(() =>
      verifyRekorBundle({ bundle: sig.annotations[BUNDLE_ANNOTATION]!, payload: Buffer.from('other'), signature: Buffer.from(signatureB64, 'base64'), signer: { publicKey: signerKey }, tlogKeys }),
    ).toThrow(expect.objectContaining({ code: 'TLOG_INVALID' }));
  });

  it('the valid-with-tag payload carries its optional annotations', () => {
    const r = verifyWithAnyKey('dir-img-cosign-valid-with-tag/signature-1', 'dir-img-cosign-valid-with-tag');
    expect(r.ok && r.annotations).toMatchObject({ creator: expect.stringContaining('containers/image') });
    expect(r.ok && r.dockerReference).toBe('192.168.64.2:5000/skopeo-signed:tag');
  });

  it.each([
    ['dir-img-cosign-manifest-digest-error', 'signature-1'],
    ['dir-img-cosign-modified-manifest', 'signature-1'],
  ])('%s is rejected with DIGEST_MISMATCH', (dir, sig) => {
    expect(verifyWithAnyKey(`${dir}/${sig}`, dir)).toMatchObject({ ok: false, reason: 'DIGEST_MISMATCH' });
  });

  it('unknown-cosign-key.signature is rejected with BAD_SIGNATURE', () => {
    expect(verifyWithAnyKey('unknown-cosign-key.signature', 'dir-img-cosign-valid')).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
    expect(verifyWithAnyKey('dir-img-cosign-mixed/signature-1', 'dir-img-cosign-mixed')).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
  });

  it('a non-signature attachment is rejected as MALFORMED_PAYLOAD', () => {
    expect(verifyWithAnyKey('dir-img-cosign-other-attachment/signature-1', 'dir-img-cosign-other-attachment')).toMatchObject({ ok: false, reason: 'MALFORMED_PAYLOAD' });
  });

  it('checks the signed docker-reference, with mirror rewrites', () => {
    const sig = readSignature('dir-img-cosign-valid/signature-1');
    const base = { payload: sig.payload, signatureB64: sig.annotations[SIGNATURE_ANNOTATION]!, publicKey: key1, expectedManifestDigest: manifestDigest('dir-img-cosign-valid') };
    expect(verifyCosignSignature({ ...base, identity: { expectedReference: '192.168.64.2:5000/cosign-signed-single-sample:latest' } }).ok).toBe(true);
    expect(verifyCosignSignature({ ...base, identity: { expectedReference: 'mirror.internal/cosign-signed-single-sample' } })).toMatchObject({ ok: false, reason: 'IDENTITY_MISMATCH' });
    expect(
      verifyCosignSignature({ ...base, identity: { expectedReference: 'mirror.internal/cosign-signed-single-sample', rewrite: [['192.168.64.2:5000', 'mirror.internal']] } }).ok,
    ).toBe(true);
  });
});

describe('containers/image cosign fixtures, certificate-based', () => {
  it('fulcio-rekor-valid verifies: Rekor SET, chain to fulcio_v1.crt.pem at integrated time, signer identity', () => {
    const dir = 'dir-img-cosign-fulcio-rekor-valid';
    const sig = readSignature(`${dir}/signature-1`);
    const r = verifyCosignSignatureWithCertificate({
      ...certificateSignature(sig),
      roots: readCertificates(readFileSync(join(FIXTURES, 'fulcio_v1.crt.pem'))),
      rekorBundle: sig.annotations[BUNDLE_ANNOTATION]!,
      tlogKeys,
      expectedManifestDigest: manifestDigest(dir),
      mediaType: sig.mimeType,
      certificatePolicy: { identity: 'mitr@redhat.com', issuer: 'https://github.com/login/oauth' },
    });
    expect(r).toMatchObject({ ok: true, signer: { subjectAlternativeName: 'mitr@redhat.com', issuer: 'https://github.com/login/oauth' } });
    expect(r.ok && r.signedAt.toISOString()).toBe('2023-01-20T20:51:33.000Z');
    expect(r.ok && r.chain).toHaveLength(3);
  });

  it.each([
    ['fulcio-rekor-valid: without the Rekor time the short-lived certificate has expired', 'dir-img-cosign-fulcio-rekor-valid'],
    ['pki-valid is refused when only the Fulcio root is trusted', 'dir-img-cosign-pki-valid'],
  ])('%s', (_title, dir) => {
    const sig = readSignature(`${dir}/signature-1`);
    expect(() =>
      verifyCosignSignatureWithCertificate({
        ...certificateSignature(sig),
        roots: readCertificates(readFileSync(join(FIXTURES, 'fulcio_v1.crt.pem'))),
        expectedManifestDigest: manifestDigest(dir),
      }),
    ).toThrow(expect.objectContaining({ code: 'CERTIFICATE_CHAIN_INVALID' }));
  });

  it('fulcio-rekor-valid: a wrong signer identity is refused', () => {
    const dir = 'dir-img-cosign-fulcio-rekor-valid';
    const sig = readSignature(`${dir}/signature-1`);
    let err: unknown;
    try {
      verifyCosignSignatureWithCertificate({
        ...certificateSignature(sig),
        roots: readCertificates(readFileSync(join(FIXTURES, 'fulcio_v1.crt.pem'))),
        rekorBundle: sig.annotations[BUNDLE_ANNOTATION]!,
        tlogKeys,
        expectedManifestDigest: manifestDigest(dir),
        certificatePolicy: { identity: 'someone@example.com', issuer: 'https://github.com/login/oauth' },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AirlockCosignError);
    expect((err as AirlockCosignError).code).toBe('CERTIFICATE_POLICY_MISMATCH');
  });

  it('pki-valid verifies against pki_root_crts.pem + pki_intermediate_crts.pem', () => {
    const dir = 'dir-img-cosign-pki-valid';
    const sig = readSignature(`${dir}/signature-1`);
    const r = verifyCosignSignatureWithCertificate({
      payload: sig.payload,
      signatureB64: sig.annotations[SIGNATURE_ANNOTATION]!,
      certificatePem: sig.annotations[CERTIFICATE_ANNOTATION]!,
      roots: readCertificates(readFileSync(join(FIXTURES, 'pki_root_crts.pem'))),
      intermediates: readCertificates(readFileSync(join(FIXTURES, 'pki_intermediate_crts.pem'))),
      expectedManifestDigest: manifestDigest(dir),
      mediaType: sig.mimeType,
      certificatePolicy: { identity: 'qiwan@redhat.com' },
    });
    expect(r).toMatchObject({ ok: true, signer: { subjectAlternativeName: 'qiwan@redhat.com' } });
  });

});

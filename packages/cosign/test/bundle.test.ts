import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AirlockCosignError,
  buildImageBundle,
  buildKeyBlobBundle,
  generateKeyPair,
  parseBundle,
  parseTrustedRootJson,
  publicGoodTrustedRoot,
  publicKeyHint,
  readEncryptedPrivateKey,
  verifyBlob,
  verifyImageBundle,
} from '../src/index.js';
import { SHARED_FIXTURES } from '../../../test/helpers/fixtures.js';

const DIGEST = 'sha256:' + 'a'.repeat(64);
const CONF = `${SHARED_FIXTURES}/sigstore-conformance/bundle-verify`;
const BEACON = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const GHA = 'https://token.actions.githubusercontent.com';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AirlockCosignError);
    return (e as AirlockCosignError).code;
  }
  return undefined;
}

describe('key-signed image bundles (cosign v3 style, offline)', () => {
  it('builds a v0.3 bundle with a key hint, a DSSE in-toto statement and no tlog entries', async () => {
    const pair = await generateKeyPair({ password: 'x' });
    const { bundle, statement } = buildImageBundle({ privateKey: pair.privateKey, manifestDigest: DIGEST, name: 'reg.io/a/b' });
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(bundle.verificationMaterial.publicKey?.hint).toBe(publicKeyHint(pair.publicKey));
    expect(bundle.verificationMaterial.tlogEntries).toEqual([]);
    expect(bundle.dsseEnvelope?.payloadType).toBe('application/vnd.in-toto+json');
    expect(statement).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'reg.io/a/b', digest: { sha256: 'a'.repeat(64) } }],
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      predicate: {},
    });
    // round-trips through JSON text and the @sigstore/bundle validator
    const text = JSON.stringify(bundle);
    expect(() => parseBundle(text)).not.toThrow();

    const v = verifyImageBundle({ bundleJson: text, manifestDigest: DIGEST, publicKey: pair.publicKeyPem });
    expect(v.signer).toEqual({ type: 'key', hint: publicKeyHint(pair.publicKey) });
    expect(v.statement.predicateType).toBe('https://sigstore.dev/cosign/sign/v1');

    expect(codeOf(() => verifyImageBundle({ bundleJson: text, manifestDigest: 'sha256:' + 'b'.repeat(64), publicKey: pair.publicKey }))).toBe('SUBJECT_MISMATCH');
    expect(codeOf(() => verifyImageBundle({ bundleJson: text, manifestDigest: DIGEST, publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey }))).toBe('BAD_SIGNATURE');
    expect(codeOf(() => verifyImageBundle({ bundleJson: text, manifestDigest: DIGEST }))).toBe('KEY_REQUIRED');
    expect(codeOf(() => verifyImageBundle({ bundleJson: text, manifestDigest: DIGEST, publicKey: pair.publicKey, expectedPredicateType: 'https://slsa.dev/provenance/v1' }))).toBe('PREDICATE_TYPE_MISMATCH');
    // also verifies with a trusted root present (no tlog required for key bundles)
    expect(verifyImageBundle({ bundleJson: text, manifestDigest: DIGEST, publicKey: pair.publicKey, trustedRoot: publicGoodTrustedRoot() }).signer.type).toBe('key');
  });

  it('detects a tampered payload', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { bundle } = buildImageBundle({ privateKey, manifestDigest: DIGEST });
    const other = buildImageBundle({ privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, manifestDigest: 'sha256:' + 'b'.repeat(64) }).bundle;
    const forged = { ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope!, payload: other.dsseEnvelope!.payload } };
    expect(codeOf(() => verifyImageBundle({ bundleJson: forged, manifestDigest: 'sha256:' + 'b'.repeat(64), publicKey }))).toBe('BAD_SIGNATURE');
  });

  it.each([
    ['P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, undefined],
    ['RSA', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, undefined],
    ['Ed25519 pure', () => generateKeyPairSync('ed25519').privateKey, 'pure' as const],
    ['Ed25519ph', () => generateKeyPairSync('ed25519').privateKey, 'ph' as const],
  ])('attestation bundles verify with %s keys', (_n, make, ed25519) => {
    const privateKey = make();
    const { bundle } = buildImageBundle({ privateKey, manifestDigest: DIGEST, predicateType: 'slsaprovenance1', predicate: { buildDefinition: {} }, ...(ed25519 ? { ed25519 } : {}) });
    const v = verifyImageBundle({ bundleJson: bundle, manifestDigest: DIGEST, publicKey: privateKey, expectedPredicateType: 'https://slsa.dev/provenance/v1' });
    expect(v.statement.predicate).toEqual({ buildDefinition: {} });
  });

  it('fixture key: a bundle signed with the decrypted cosign key verifies with its .pub', async () => {
    const pair = await readEncryptedPrivateKey(readFileSync(`${SHARED_FIXTURES}/cosign-keys/sigstore-labeled.key`), 'hello');
    const { bundle } = buildImageBundle({ privateKey: pair.privateKey, manifestDigest: DIGEST });
    expect(verifyImageBundle({ bundleJson: bundle, manifestDigest: DIGEST, publicKey: readFileSync(`${SHARED_FIXTURES}/cosign-keys/sigstore-labeled.pub`) }).signer.type).toBe('key');
  });
});

describe('blob bundles', () => {
  it('sign-blob style message-signature bundles verify, and only for their artifact', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const artifact = Buffer.from('hello');
    const bundle = buildKeyBlobBundle({ privateKey, artifact });
    expect(bundle.messageSignature?.messageDigest?.algorithm).toBe('SHA2_256');
    expect(verifyBlob({ artifact, bundleJson: bundle, publicKey }).content).toBe('messageSignature');
    expect(codeOf(() => verifyBlob({ artifact: Buffer.from('other'), bundleJson: bundle, publicKey }))).toBe('DIGEST_MISMATCH');
  });

  it('a key bundle with tlog entries needs a trusted root, or an explicit ignoreTlog', () => {
    const dir = join(CONF, 'managed-key-happy-path');
    const args = { artifact: readFileSync(join(CONF, 'a.txt')), bundleJson: readFileSync(join(dir, 'bundle.sigstore.json')), publicKey: readFileSync(join(dir, 'key.pub')) };
    expect(codeOf(() => verifyBlob(args))).toBe('TRUSTED_ROOT_REQUIRED');
    expect(verifyBlob({ ...args, ignoreTlog: true }).tlogEntries).toBe(0);
    expect(verifyBlob({ ...args, trustedRoot: publicGoodTrustedRoot() }).tlogEntries).toBe(1);
  });
});

describe('keyless bundles through a trusted root', () => {
  const dir = join(CONF, 'happy-path-intoto-in-dsse-v3');
  const bundleJson = readFileSync(join(dir, 'bundle.sigstore.json'));
  const artifact = readFileSync(join(CONF, 'a.txt'));
  const subject = `sha256:${createHash('sha256').update(artifact).digest('hex')}`;

  it('verifies identity + issuer, exact or regexp', () => {
    const v = verifyBlob({ artifact, bundleJson, trustedRoot: publicGoodTrustedRoot(), certificateIdentity: BEACON, certificateIssuer: GHA });
    expect(v.signer).toMatchObject({ type: 'certificate', identity: { subjectAlternativeName: BEACON, issuer: GHA } });
    expect(verifyBlob({ artifact, bundleJson, trustedRoot: publicGoodTrustedRoot(), certificateIdentityRegexp: '^https://github\\.com/sigstore-conformance/', certificateIssuerRegexp: /actions/ }).signer.type).toBe('certificate');
  });

  it('refuses another identity, another issuer, or a missing policy', () => {
    const base = { artifact, bundleJson, trustedRoot: publicGoodTrustedRoot() };
    expect(codeOf(() => verifyBlob({ ...base, certificateIdentity: BEACON + 'x', certificateIssuer: GHA }))).toBe('CERTIFICATE_POLICY_MISMATCH');
    expect(codeOf(() => verifyBlob({ ...base, certificateIdentity: BEACON, certificateIssuer: 'https://accounts.google.com' }))).toBe('CERTIFICATE_POLICY_MISMATCH');
    expect(codeOf(() => verifyBlob({ ...base, certificateIdentity: BEACON }))).toBe('POLICY_REQUIRED');
    expect(codeOf(() => verifyBlob({ artifact, bundleJson, certificateIdentity: BEACON, certificateIssuer: GHA }))).toBe('TRUSTED_ROOT_REQUIRED');
  });

  it('verifyImageBundle checks the in-toto subject itself', () => {
    const base = { bundleJson, trustedRoot: publicGoodTrustedRoot(), certificateIdentity: BEACON, certificateIssuer: GHA, expectedPredicateType: null };
    expect(verifyImageBundle({ ...base, manifestDigest: subject }).statement.subject.length).toBeGreaterThan(0);
    expect(codeOf(() => verifyImageBundle({ ...base, manifestDigest: 'sha256:' + '0'.repeat(64) }))).toBe('SUBJECT_MISMATCH');
    expect(codeOf(() => verifyBlob({ artifact: Buffer.from('not the subject'), bundleJson, trustedRoot: publicGoodTrustedRoot(), certificateIdentity: BEACON, certificateIssuer: GHA }))).toBe('SUBJECT_MISMATCH');
  });
});

describe('trusted roots', () => {
  it('decodes the embedded public-good root', () => {
    const root = publicGoodTrustedRoot();
    expect(root.tlogs?.some((t) => t.baseUrl === 'https://rekor.sigstore.dev')).toBe(true);
  });

  it('refuses a time range without a start', () => {
    const root = structuredClone(publicGoodTrustedRoot()) as { tlogs: Array<{ publicKey: { validFor?: { start?: string } } }> };
    delete root.tlogs[0]!.publicKey.validFor!.start;
    expect(codeOf(() => parseTrustedRootJson(root))).toBe('INVALID_TRUSTED_ROOT');
    expect(codeOf(() => parseTrustedRootJson('{'))).toBe('INVALID_TRUSTED_ROOT');
  });
});

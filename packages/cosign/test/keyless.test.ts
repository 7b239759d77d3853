/**
 * Keyless signing against @sigstore/mock Fulcio + Rekor (nock-intercepted, never the public
 * instances), then offline verification with a trusted root built from the mocks' keys.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fulcioHandler, initializeCA, initializeCTLog, initializeTLog, rekorHandler, type HandlerFn } from '@sigstore/mock';
// Test-only deep import: the helper @sigstore/mock's own mockFulcio uses to register a handler with its nock.
import { mock } from '@sigstore/mock/dist/mock.js';
import { rekordLike } from '../../../test/helpers/sigstore-services.js';
import { AirlockCosignError, signBlobKeyless, signImageKeyless, verifyBlob, verifyImageBundle } from '../src/index.js';

const FULCIO = 'https://fulcio.airlock.test';
const REKOR = 'https://rekor.airlock.test';
const SUBJECT = 'builder@airlock.test';
const ISSUER = 'https://oidc.airlock.test';
const DIGEST = 'sha256:' + 'e'.repeat(64);

const b64url = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: ISSUER, sub: SUBJECT, aud: 'sigstore', exp: Math.floor(Date.now() / 1000) + 600 })}.c2ln`;

let trustedRoot: object;

/**
 * The mock logs proposed entries verbatim; real Rekor canonicalises a proposed `dsse` entry into
 * {envelopeHash, payloadHash, signatures[{signature, verifier}]}. Do that here so the logged body
 * is what a real log would hold, then delegate to the mock's own handler (SET, inclusion proof).
 */
function rekordLikeHandler(tlog: Awaited<ReturnType<typeof initializeTLog>>): { path: string; fn: HandlerFn } {
  const inner = rekorHandler(tlog, { strict: true });
  return { path: inner.path, fn: (body: string) => inner.fn(rekordLike(body)) };
}
let nockModule: { cleanAll(): void; restore(): void; activate(): void; isActive(): boolean; disableNetConnect(): void; enableNetConnect(): void } | undefined;

beforeAll(async () => {
  const keyPair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ctlog = await initializeCTLog(keyPair);
  const ca = await initializeCA(keyPair, ctlog);
  const tlog = await initializeTLog(REKOR, keyPair);
  // @sigstore/mock registers handlers through its own nock; grab it to clean up and to forbid real network use.
  const { createRequire } = await import('node:module');
  const req = createRequire(createRequire(import.meta.url).resolve('@sigstore/mock/dist/mock.js'));
  nockModule = req('nock');
  nockModule!.disableNetConnect();
  // Register each handler several times: every signing call consumes one interception.
  for (let i = 0; i < 4; i++) {
    mock(FULCIO, fulcioHandler(ca, { strict: true }));
    mock(REKOR, rekordLikeHandler(tlog));
  }
  const spki = keyPair.publicKey.export({ format: 'der', type: 'spki' });
  const keyId = createHash('sha256').update(spki).digest('base64');
  const start = new Date(Date.now() - 3600_000).toISOString();
  trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: REKOR, hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: spki.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } }, logId: { keyId } }],
    certificateAuthorities: [{ subject: { organization: 'mock', commonName: 'mock' }, uri: FULCIO, certChain: { certificates: [{ rawBytes: Buffer.from(ca.rootCertificate as Uint8Array).toString('base64') }] }, validFor: { start } }],
    ctlogs: [{ baseUrl: 'https://ctlog.airlock.test', hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: spki.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } }, logId: { keyId: Buffer.from(ctlog.logID as Uint8Array).toString('base64') } }],
    timestampAuthorities: [],
  };
});

afterAll(() => {
  nockModule?.cleanAll();
  nockModule?.enableNetConnect();
});

describe('keyless signing with mocked Fulcio/Rekor', () => {
  it('signs an image statement and verifies it offline against the mock trust root', async () => {
    const { bundle, statement } = await signImageKeyless({ identityToken: token, fulcioURL: FULCIO, rekorURL: REKOR, manifestDigest: DIGEST, name: 'reg.io/a/b' });
    expect(statement.predicateType).toBe('https://sigstore.dev/cosign/sign/v1');
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    const v = verifyImageBundle({ bundleJson: bundle, manifestDigest: DIGEST, trustedRoot, certificateIdentity: SUBJECT, certificateIssuer: ISSUER });
    expect(v.signer).toMatchObject({ type: 'certificate', identity: { subjectAlternativeName: SUBJECT, issuer: ISSUER } });
    expect(() => verifyImageBundle({ bundleJson: bundle, manifestDigest: DIGEST, trustedRoot, certificateIdentity: 'other@airlock.test', certificateIssuer: ISSUER })).toThrow(AirlockCosignError);
  });

  it('signs a blob', async () => {
    const artifact = Buffer.from('blob');
    const bundle = await signBlobKeyless({ identityToken: token, fulcioURL: FULCIO, rekorURL: REKOR, artifact });
    expect(verifyBlob({ artifact, bundleJson: bundle, trustedRoot, certificateIdentity: SUBJECT, certificateIssuer: ISSUER }).content).toBe('messageSignature');
  });

  it('refuses to sign without a Rekor URL unless upload is off, and reports service failures typed', async () => {
    await expect(signImageKeyless({ identityToken: token, fulcioURL: FULCIO, manifestDigest: DIGEST })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(signImageKeyless({ identityToken: token, fulcioURL: 'https://unmocked.airlock.test', rekorURL: REKOR, manifestDigest: DIGEST })).rejects.toMatchObject({ code: 'KEYLESS_SIGNING_FAILED' });
  });
});

/**
 * Keyless (Fulcio certificate) Sigstore bundles attached as referrers, verified offline by
 * airlock verify / verify-attestation against a trusted_root.json. The bundles are made here with
 * @sigstore/mock's Fulcio, Rekor and CT log (nock-intercepted, in this process only, before any
 * registry traffic); the CLIs run as bundles with no network but the test registry.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descriptorOf, pushReferrer, RegistryRepo, writeCosignLayers, type Digest, type Registries } from '@airlock/oci';
import {
  BUNDLE_ANNOTATION,
  BUNDLE_ARTIFACT_TYPE,
  BUNDLE_V03_MEDIA_TYPE,
  buildSimpleSigningPayload,
  CERTIFICATE_ANNOTATION,
  DSSE_ENVELOPE_MEDIA_TYPE,
  publicKeyToPem,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signBlobKeyless,
  signImageKeyless,
} from '@airlock/cosign';
import { expectNoStack, runCli, type CliResult } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, type ImageLayout } from '../helpers/images.js';
import { registriesFor } from '../helpers/lib.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startSigstoreServices, SIGSTORE_TEST_ISSUER as ISSUER, SIGSTORE_TEST_SUBJECT as SUBJECT } from '../helpers/sigstore-services.js';
import { runVerifyCommand } from '../../packages/verification/test/helpers/cli.js';

const verify = (args: string[]): Promise<CliResult> => runCli(args, { bundle: 'verify.cjs' });

interface SerializedBundleLike {
  verificationMaterial: {
    certificate?: { rawBytes: string };
    x509CertificateChain?: { certificates: { rawBytes: string }[] };
    tlogEntries: { logIndex: string; logId: { keyId: string }; integratedTime: string; inclusionPromise?: { signedEntryTimestamp: string }; canonicalizedBody: string }[];
  };
  messageSignature?: { signature: string };
  dsseEnvelope?: { payloadType: string; payload: string; signatures: { sig: string; keyid?: string }[] };
}

/** cosign v2's layer annotations for a keyless signature: certificate PEM and the Rekor SET bundle. */
function legacyAnnotations(b: SerializedBundleLike): Record<string, string> {
  const raw = b.verificationMaterial.certificate?.rawBytes ?? b.verificationMaterial.x509CertificateChain?.certificates[0]?.rawBytes;
  const t = b.verificationMaterial.tlogEntries[0]!;
  expect(t.inclusionPromise, 'the mock Rekor returns a SET').toBeDefined();
  const pem = `-----BEGIN CERTIFICATE-----\n${raw!.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  const set = {
    SignedEntryTimestamp: t.inclusionPromise!.signedEntryTimestamp,
    Payload: { body: t.canonicalizedBody, integratedTime: Number(t.integratedTime), logIndex: Number(t.logIndex), logID: Buffer.from(t.logId.keyId, 'base64').toString('hex') },
  };
  return { [CERTIFICATE_ANNOTATION]: pem, [BUNDLE_ANNOTATION]: JSON.stringify(set) };
}

/** Sign with mock Fulcio/Rekor; returns the bundles and a trusted root for the mocks' keys. */
async function keylessBundles(digest: string, name: string) {
  const svc = await startSigstoreServices();
  try {
    const urls = { identityToken: svc.token, fulcioURL: svc.fulcioURL, rekorURL: svc.rekorURL };
    const signature = await signImageKeyless({ ...urls, manifestDigest: digest, name });
    const attestation = await signImageKeyless({
      ...urls,
      manifestDigest: digest,
      name,
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: { buildDefinition: { buildType: 'https://example.com/build/v2' } },
    });
    // The legacy (cosign v2) form: a blob signature over the simple-signing payload, stored as a .sig layer.
    const payload = buildSimpleSigningPayload({ dockerReference: name, manifestDigest: digest });
    const legacy = await signBlobKeyless({ ...urls, artifact: payload });
    return { signature: signature.bundle, attestation: attestation.bundle, legacy: { payload, bundle: legacy }, trustedRoot: svc.trustedRoot };
  } finally {
    await svc.close();
  }
}

describe('keyless bundle referrers (mock Sigstore instance, verified offline)', () => {
  let reg: TestRegistry;
  let images: ImageLayout;
  let registries: Registries;
  let dir: string;
  let ref: string;
  let rootFile: string;
  const who = () => ['--trusted-root', rootFile, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', ISSUER];

  beforeAll(async () => {
    reg = await startRegistry();
    images = await makeImages({ images: 1, layers: 1, layerMb: 0.01, seed: 31 });
    const { digest } = await pushLayoutToRegistry(images.layoutDir, 'img-0', reg, 'acme/keyless', 'v1');
    ref = `${reg.host}/acme/keyless:v1`;
    const b = await keylessBundles(digest, `${reg.host}/acme/keyless`);
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-verify-keyless-'));
    rootFile = path.join(dir, 'trusted_root.json');
    writeFileSync(rootFile, JSON.stringify(b.trustedRoot));
    registries = registriesFor([reg]);
    const repo = new RegistryRepo(registries.client(reg.host), 'acme/keyless');
    const subject = descriptorOf(await repo.getManifest('v1'));
    for (const bundle of [b.signature, b.attestation]) {
      await pushReferrer(repo, { subject, artifactType: BUNDLE_ARTIFACT_TYPE, layers: [{ bytes: Buffer.from(JSON.stringify(bundle)), mediaType: BUNDLE_V03_MEDIA_TYPE }] });
    }
    // The same image under another name, signed and attested the cosign v2 way (.sig / .att tags).
    await pushLayoutToRegistry(images.layoutDir, 'img-0', reg, 'acme/keyless-legacy', 'v1');
    const legacyRepo = new RegistryRepo(registries.client(reg.host), 'acme/keyless-legacy');
    const sigBundle = b.legacy.bundle as unknown as SerializedBundleLike;
    await writeCosignLayers(legacyRepo, digest as Digest, 'sig', [
      { bytes: b.legacy.payload, mediaType: SIMPLE_SIGNING_MEDIA_TYPE, annotations: { [SIGNATURE_ANNOTATION]: sigBundle.messageSignature!.signature, ...legacyAnnotations(sigBundle) } },
    ]);
    const attBundle = b.attestation as unknown as SerializedBundleLike;
    const env = attBundle.dsseEnvelope!;
    await writeCosignLayers(legacyRepo, digest as Digest, 'att', [
      {
        bytes: Buffer.from(JSON.stringify({ payloadType: env.payloadType, payload: env.payload, signatures: env.signatures.map((x) => ({ keyid: '', sig: x.sig })) })),
        mediaType: DSSE_ENVELOPE_MEDIA_TYPE,
        annotations: { predicateType: 'https://slsa.dev/provenance/v1', ...legacyAnnotations(attBundle) },
      },
    ]);
  });
  afterAll(async () => {
    await registries?.close();
    await Promise.all([reg?.stop(), images?.remove()]);
  });

  it('verify: certificate chain, SCT, Rekor proof and identity, with no network', async () => {
    const r = await verify([...who(), ref, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Array<{ optional: Record<string, string> }>;
    expect(out).toHaveLength(1);
    expect(out[0]!.optional).toEqual({ Issuer: ISSUER, Subject: SUBJECT });
    expect(r.stderr).toContain(`signer ${SUBJECT} (${ISSUER})`);
    const re = await verify(['--trusted-root', rootFile, '--certificate-identity-regexp', '@airlock\\.test$', '--certificate-oidc-issuer-regexp', '^https://oidc\\.', ref]);
    expect(re.code, re.stderr).toBe(0);
  });

  it('verify: another identity, the wrong trusted root, or a key are rejected with the reason', async () => {
    const other = await verify(['--trusted-root', rootFile, '--certificate-identity', 'someone@airlock.test', '--certificate-oidc-issuer', ISSUER, ref]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('CERTIFICATE_IDENTITY_MISMATCH');
    const publicGood = await verify(['--certificate-identity', SUBJECT, '--certificate-oidc-issuer', ISSUER, ref]);
    expect(publicGood.code).toBe(1);
    expect(publicGood.stderr).toContain('note: keyless: using the public-good Sigstore trusted root');
    expect(publicGood.stderr).toMatch(/UNTRUSTED_CERTIFICATE|TLOG_INVALID/);
    const keyFile = path.join(dir, 'k.pub');
    writeFileSync(keyFile, publicKeyToPem(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey));
    const key = await verify(['--key', keyFile, ref]);
    expect(key.code).toBe(1);
    expect(key.stderr).toContain('made with a certificate (keyless), not with the key');
    expectNoStack(key);
    const noIssuer = await verify(['--trusted-root', rootFile, '--certificate-identity', SUBJECT, ref]);
    expect(noIssuer.code).toBe(2);
    expect(noIssuer.stderr).toContain('needs an OIDC issuer');
  });

  it('verify-attestation and a policy with a keyless signer', async () => {
    const att = await runVerifyCommand('verify-attestation', [...who(), '--type', 'slsaprovenance1', ref, '--json']);
    expect(att.code, att.stderr).toBe(0);
    expect(JSON.parse(Buffer.from(JSON.parse(att.stdout).payload, 'base64').toString()).predicate).toEqual({ buildDefinition: { buildType: 'https://example.com/build/v2' } });
    const policy = path.join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      [
        'trustedRoot: trusted_root.json',
        'policies:',
        '  - match: "**"',
        '    signatures:',
        `      allOf: [{ identity: "${SUBJECT}", issuerRegexp: "^https://oidc\\\\.airlock\\\\.test$" }]`,
        '    attestations:',
        '      - type: slsaprovenance1',
        '        fields: { predicate.buildDefinition.buildType: "https://example.com/build/v2" }',
        '',
      ].join('\n'),
    );
    const r = await verify(['--policy', policy, ref]);
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(policy.replace('.yaml', '-bad.yaml'), readPolicyWith(SUBJECT.replace('builder', 'other')));
    const bad = await verify(['--policy', policy.replace('.yaml', '-bad.yaml'), ref]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('CERTIFICATE_IDENTITY_MISMATCH');
  });

  it('cosign v2 keyless .sig and .att layers (certificate + Rekor SET annotations) verify too', async () => {
    const legacyRef = `${reg.host}/acme/keyless-legacy:v1`;
    const r = await verify([...who(), '--identity', `${reg.host}/acme/keyless`, legacyRef, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/valid {5}sha256-[a-f0-9]{12}….sig layer 1: verified with builder@airlock.test/);
    expect(JSON.parse(r.stdout)[0].optional).toMatchObject({ Subject: SUBJECT, Issuer: ISSUER, Bundle: { SignedEntryTimestamp: expect.any(String) } });
    const wrong = await verify(['--trusted-root', rootFile, '--certificate-identity', 'x@airlock.test', '--certificate-oidc-issuer', ISSUER, '--ignore-identity', legacyRef]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('CERTIFICATE_IDENTITY_MISMATCH');
    const att = await runVerifyCommand('verify-attestation', [...who(), '--type', 'slsaprovenance1', legacyRef]);
    expect(att.code, att.stderr).toBe(0);
    expect(att.stderr).toMatch(/valid {5}sha256-[a-f0-9]{12}….att layer 1: verified with builder@airlock.test/);
  });

  function readPolicyWith(identity: string): string {
    return ['trustedRoot: trusted_root.json', 'policies:', '  - match: "**"', '    signatures:', `      anyOf: [{ identity: "${identity}", issuer: "${ISSUER}" }]`, ''].join('\n');
  }
});

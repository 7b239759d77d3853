/**
 * airlock verify / verify-attestation / verify-blob against a real docker-registry (no referrers
 * API: bundles are found through the sha256-<hex> fallback tag), with signatures made by the cosign
 * library and attached with the oci attach functions, plus the real cosign and sigstore-conformance
 * fixtures. The CLIs run as bundles with plain node.
 */
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descriptorOf, LayoutRepo, parseManifest, pushReferrer, RegistryRepo, writeCosignLayers, type Digest, type Registries } from '@airlock/oci';
import {
  buildImageBundle,
  buildKeyBlobBundle,
  BUNDLE_ARTIFACT_TYPE,
  BUNDLE_V03_MEDIA_TYPE,
  publicGoodTrustedRoot,
  publicKeyToPem,
  readCertificate,
  readCertificates,
  signImage,
  signImageAttestation,
} from '@airlock/cosign';
import { expectNoStack, runCli, type CliResult } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, type ImageLayout } from '../helpers/images.js';
import { registriesFor } from '../helpers/lib.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { runVerifyCommand } from '../../packages/verification/test/helpers/cli.js';
import { SHARED_FIXTURES } from '../helpers/fixtures.js';

const FIXTURES = `${SHARED_FIXTURES}/cosign-containers-image`;
const CONFORMANCE = `${SHARED_FIXTURES}/sigstore-conformance/bundle-verify`;
const DEFAULT_IDENTITY = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

const verify = (args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> => runCli(args, { bundle: 'verify.cjs', ...(env ? { env } : {}) });
const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

interface ReportShape {
  ok: boolean;
  images: Array<{
    input: string;
    reference: string;
    digest?: string;
    ok: boolean;
    policy?: string;
    failures: string[];
    signatures: Array<{ source: string; format: string; valid: boolean; reason?: string; message?: string; verifiedBy: string[]; dockerReference?: string }>;
    attestations: Array<{ source: string; valid: boolean; reason?: string; predicateType?: string }>;
  }>;
  totals: { images: number; ok: number; failed: number };
}
const readReport = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as ReportShape;

/** A fixture file; some are git symlinks checked out as text holding the target (`../x/signature-1`). */
function readFixture(file: string, depth = 0): Buffer {
  const bytes = readFileSync(file);
  const text = bytes.toString('utf8');
  if (depth < 5 && bytes.length < 200 && /^\.\.?\/[^\n]+$/.test(text) && existsSync(path.resolve(path.dirname(file), text))) {
    return readFixture(path.resolve(path.dirname(file), text), depth + 1);
  }
  return bytes;
}

/** containers/image's on-disk signature: `\x00sigstore-json\n` + {mimeType, payload (base64), annotations}. */
function readFixtureSignature(file: string): { mimeType: string; payload: Buffer; annotations: Record<string, string> } {
  const bytes = readFixture(file);
  const prefix = Buffer.from('\x00sigstore-json\n', 'latin1');
  expect(bytes.subarray(0, prefix.length).equals(prefix)).toBe(true);
  const j = JSON.parse(bytes.subarray(prefix.length).toString('utf8')) as { mimeType: string; payload: string; annotations: Record<string, string> };
  return { mimeType: j.mimeType, payload: Buffer.from(j.payload, 'base64'), annotations: j.annotations };
}

/** Put a fixture's manifest.json and signature files into an OCI layout (its blobs are not shipped, and not needed). */
async function fixtureLayout(dir: string, fixture: string, tag: string): Promise<string> {
  const repo = await LayoutRepo.sink(dir);
  const m = parseManifest(readFixture(path.join(FIXTURES, fixture, 'manifest.json')), undefined, fixture);
  await repo.pushManifest(m, tag);
  const sigs = ['signature-1', 'signature-2'].filter((f) => existsSync(path.join(FIXTURES, fixture, f))).map((f) => readFixtureSignature(path.join(FIXTURES, fixture, f)));
  await writeCosignLayers(repo, m.digest, 'sig', sigs.map((s) => ({ bytes: s.payload, mediaType: s.mimeType, annotations: s.annotations })));
  return m.digest;
}

describe('airlock verify (real registry, cosign library signatures)', () => {
  let reg: TestRegistry;
  let images: ImageLayout;
  let registries: Registries;
  let dir: string;
  let host: string;
  const A = keyPair();
  const B = keyPair();
  let keyA: string;
  let keyB: string;
  const d: Record<string, string> = {};

  const repo = (name: string) => new RegistryRepo(registries.client(reg.host), name);
  async function signLegacy(name: string, digest: string, key: KeyObject, dockerReference: string) {
    const s = signImage({ privateKey: key, dockerReference, manifestDigest: digest });
    await writeCosignLayers(repo(name), digest as Digest, 'sig', [{ bytes: s.payload, mediaType: s.mediaType, annotations: s.annotations }]);
    return s;
  }
  async function pushBundle(name: string, subjectTag: string, bundle: unknown) {
    const r = repo(name);
    const m = await r.getManifest(subjectTag);
    await pushReferrer(r, { subject: descriptorOf(m), artifactType: BUNDLE_ARTIFACT_TYPE, layers: [{ bytes: Buffer.from(JSON.stringify(bundle)), mediaType: BUNDLE_V03_MEDIA_TYPE }] });
  }

  beforeAll(async () => {
    reg = await startRegistry();
    host = reg.host;
    registries = registriesFor([reg]);
    images = await makeImages({ images: 4, layers: 1, layerMb: 0.01, seed: 21 });
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-verify-'));
    mkdirSync(path.join(dir, 'keys'));
    keyA = path.join(dir, 'keys', 'a.pub');
    keyB = path.join(dir, 'keys', 'b.pub');
    writeFileSync(keyA, publicKeyToPem(A.publicKey));
    writeFileSync(keyB, publicKeyToPem(B.publicKey));

    d.app = (await pushLayoutToRegistry(images.layoutDir, 'img-0', reg, 'acme/app', 'v1')).digest;
    await signLegacy('acme/app', d.app, A.privateKey, `${host}/acme/app`);
    // Attestations on the same image: a legacy .att (SLSA v0.2) and a bundle referrer (SLSA v1).
    const att = signImageAttestation({
      privateKey: A.privateKey,
      manifestDigest: d.app,
      name: `${host}/acme/app`,
      type: 'slsaprovenance',
      predicate: Buffer.from(JSON.stringify({ buildType: 'https://example.com/build/v1', builder: { id: 'https://ci.example/builder' } })),
    });
    await writeCosignLayers(repo('acme/app'), d.app as Digest, 'att', [{ bytes: att.layer, mediaType: att.mediaType, annotations: att.annotations }]);
    const slsa1 = buildImageBundle({ privateKey: A.privateKey, manifestDigest: d.app, predicateType: 'https://slsa.dev/provenance/v1', predicate: { buildDefinition: { buildType: 'https://example.com/build/v2' } } });
    await pushBundle('acme/app', 'v1', slsa1.bundle);

    // The same image mirrored under another name; its signature names the upstream repository.
    await pushLayoutToRegistry(images.layoutDir, 'img-0', reg, 'mirror/app', 'v1');
    await signLegacy('mirror/app', d.app, A.privateKey, 'upstream.example/acme/app');

    // An image with a cosign v3 bundle signature (referrer), and one whose bundle is for another digest.
    d.bundled = (await pushLayoutToRegistry(images.layoutDir, 'img-3', reg, 'acme/bundled', 'v1')).digest;
    await pushBundle('acme/bundled', 'v1', buildImageBundle({ privateKey: A.privateKey, manifestDigest: d.bundled, name: `${host}/acme/bundled` }).bundle);
    await pushLayoutToRegistry(images.layoutDir, 'img-3', reg, 'acme/bundled-wrong', 'v1');
    await pushBundle('acme/bundled-wrong', 'v1', buildImageBundle({ privateKey: A.privateKey, manifestDigest: d.app }).bundle);

    // Unsigned.
    d.unsigned = (await pushLayoutToRegistry(images.layoutDir, 'img-1', reg, 'acme/unsigned', 'v1')).digest;
  });
  afterAll(async () => {
    await registries?.close();
    await Promise.all([reg?.stop(), images?.remove()]);
  });

  it('a valid legacy signature verifies; --json prints cosign\'s array of payloads', async () => {
    const r = await verify(['--key', keyA, `${host}/acme/app:v1`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Array<{ critical: { identity: { 'docker-reference': string }; image: { 'docker-manifest-digest': string }; type: string }; optional: unknown }>;
    expect(out).toHaveLength(1);
    expect(out[0]).toEqual({
      critical: { identity: { 'docker-reference': `${host}/acme/app` }, image: { 'docker-manifest-digest': d.app }, type: 'cosign container image signature' },
      optional: null,
    });
    expect(r.stderr).toMatch(/OK: 1 valid signature/);
    expect(r.stderr).toContain(`valid     sha256-${d.app!.slice(7, 19)}….sig layer 1: verified with key ${keyA}; docker-reference ${host}/acme/app`);
    // by digest, and with several keys (any of them)
    const byDigest = await verify(['--key', keyB, '--key', keyA, `${host}/acme/app@${d.app}`]);
    expect(byDigest.code, byDigest.stderr).toBe(0);
  });

  it('wrong key: exit 1, naming why for each signature; the report lists it', async () => {
    const report = path.join(dir, 'wrong-key.json');
    const r = await verify(['--key', keyB, `${host}/acme/app:v1`, '--report', report]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('BAD_SIGNATURE');
    expect(r.stderr).toContain(`signature does not verify with the key ${keyB}`);
    expect(r.stderr).toMatch(/no valid signature by key .*b\.pub \(1 seen: 1 BAD_SIGNATURE\)/);
    expect(r.stdout).toBe('');
    expectNoStack(r);
    const rep = readReport(report);
    expect(rep.ok).toBe(false);
    expect(rep.images[0]!.digest).toBe(d.app);
    expect(rep.images[0]!.signatures).toEqual([expect.objectContaining({ source: 'sig-tag', format: 'simple-signing', valid: false, reason: 'BAD_SIGNATURE' })]);
  });

  it('a tampered manifest (tag moved to another digest) is rejected: none found, then DIGEST_MISMATCH for a copied signature', async () => {
    const old = (await pushLayoutToRegistry(images.layoutDir, 'img-1', reg, 'acme/tamper', 'v1')).digest;
    const sig = await signLegacy('acme/tamper', old, A.privateKey, `${host}/acme/tamper`);
    expect((await verify(['--key', keyA, `${host}/acme/tamper:v1`])).code).toBe(0);
    const now = (await pushLayoutToRegistry(images.layoutDir, 'img-2', reg, 'acme/tamper', 'v1')).digest;
    expect(now).not.toBe(old);
    const none = await verify(['--key', keyA, `${host}/acme/tamper:v1`]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no valid signature by key .*a\.pub \(none found\)/);
    // An attacker copies the old signature onto the new digest's .sig tag.
    await writeCosignLayers(repo('acme/tamper'), now as Digest, 'sig', [{ bytes: sig.payload, mediaType: sig.mediaType, annotations: sig.annotations }]);
    const report = path.join(dir, 'tamper.json');
    const r = await verify(['--key', keyA, `${host}/acme/tamper:v1`, '--report', report]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('DIGEST_MISMATCH');
    expect(r.stderr).toContain(`the signature is for manifest ${old}, not ${now}`);
    const s = readReport(report).images[0]!.signatures[0]!;
    expect(s).toMatchObject({ valid: false, reason: 'DIGEST_MISMATCH' });
  });

  it('identity after mirroring: the upstream docker-reference needs --identity-rewrite (or --identity)', async () => {
    const ref = `${host}/mirror/app:v1`;
    const plain = await verify(['--key', keyA, ref]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('IDENTITY_MISMATCH');
    expect(plain.stderr).toContain(`the signature names upstream.example/acme/app, not ${host}/mirror/app`);
    const rewritten = await verify(['--key', keyA, '--identity-rewrite', `upstream.example/acme=${host}/mirror`, ref, '--json']);
    expect(rewritten.code, rewritten.stderr).toBe(0);
    expect(JSON.parse(rewritten.stdout)[0].critical.identity['docker-reference']).toBe('upstream.example/acme/app');
    expect((await verify(['--key', keyA, '--identity', 'upstream.example/acme/app', ref])).code).toBe(0);
    expect((await verify(['--key', keyA, '--ignore-identity', ref])).code).toBe(0);
    const wrongRewrite = await verify(['--key', keyA, '--identity-rewrite', `upstream.example/other=${host}/mirror`, ref]);
    expect(wrongRewrite.code).toBe(1);
    expect(wrongRewrite.stderr).toContain('IDENTITY_MISMATCH');
  });

  it('a Sigstore bundle referrer (fallback tag, no referrers API) verifies; wrong key and wrong subject are rejected', async () => {
    const ref = `${host}/acme/bundled:v1`;
    const report = path.join(dir, 'bundle.json');
    const r = await verify(['--key', keyA, ref, '--json', '--report', report]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { critical: { identity: { 'docker-reference': `${host}/acme/bundled` }, image: { 'docker-manifest-digest': d.bundled }, type: 'cosign container image signature' }, optional: null },
    ]);
    expect(readReport(report).images[0]!.signatures).toEqual([expect.objectContaining({ source: 'referrer', format: 'bundle', valid: true, verifiedBy: [`key ${keyA}`] })]);
    const wrong = await verify(['--key', keyB, ref]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`signature does not verify with the key ${keyB}`);
    const subject = await verify(['--key', keyA, `${host}/acme/bundled-wrong:v1`]);
    expect(subject.code).toBe(1);
    expect(subject.stderr).toContain('DIGEST_MISMATCH');
    expect(subject.stderr).toContain(`not ${d.bundled}`);
    // attestation bundles are not signatures: acme/app has one, and still exactly one signature
    const app = await verify(['--key', keyA, `${host}/acme/app:v1`, '--json']);
    expect(JSON.parse(app.stdout)).toHaveLength(1);
  });

  it('your own PKI: the real cosign pki-valid fixture verifies with --ca-roots/--ca-intermediates, offline', async () => {
    const layout = path.join(dir, 'pki-layout');
    await fixtureLayout(layout, 'dir-img-cosign-pki-valid', 'signed');
    const pki = ['--ca-roots', path.join(FIXTURES, 'pki_root_crts.pem'), '--ca-intermediates', path.join(FIXTURES, 'pki_intermediate_crts.pem')];
    const ok = await verify([...pki, '--certificate-identity', 'qiwan@redhat.com', `oci:${layout}:signed`, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const out = JSON.parse(ok.stdout) as Array<{ optional: Record<string, unknown> }>;
    expect(out[0]!.optional).toMatchObject({ Subject: 'qiwan@redhat.com' });
    const wrongId = await verify([...pki, '--certificate-identity', 'someone@else.example', `oci:${layout}:signed`]);
    expect(wrongId.code).toBe(1);
    expect(wrongId.stderr).toMatch(/CERTIFICATE_IDENTITY_MISMATCH|identity/);
    const wrongRoot = await verify(['--ca-roots', path.join(FIXTURES, 'fulcio_v1.crt.pem'), `oci:${layout}:signed`]);
    expect(wrongRoot.code).toBe(1);
    expect(wrongRoot.stderr).toMatch(/UNTRUSTED_CERTIFICATE/);
    const badFile = await verify(['--ca-roots', path.join(dir, 'nope.pem'), `oci:${layout}:signed`]);
    expect(badFile.code).toBe(2);
  });

  it('keyless legacy signature (real cosign Fulcio+Rekor fixture) verifies offline against a trusted root built from fulcio_v1.crt.pem', async () => {
    const layout = path.join(dir, 'keyless-layout');
    await fixtureLayout(layout, 'dir-img-cosign-fulcio-rekor-valid', 'signed');
    const root = readCertificate(readFileSync(path.join(FIXTURES, 'fulcio_v1.crt.pem')));
    const intermediates = readCertificates(readFileSync(path.join(FIXTURES, 'fulcio-chain'))).filter((c) => !c.raw.equals(root.raw));
    const pg = publicGoodTrustedRoot();
    const trusted = {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      certificateAuthorities: [
        { subject: { organization: 'sigstore.dev', commonName: 'sigstore' }, uri: 'https://fulcio.sigstore.dev', certChain: { certificates: [...intermediates, root].map((c) => ({ rawBytes: c.raw.toString('base64') })) }, validFor: { start: '2022-04-13T20:06:15.000Z' } },
      ],
      tlogs: pg.tlogs,
      ctlogs: pg.ctlogs,
      timestampAuthorities: [],
    };
    const rootFile = path.join(dir, 'trusted_root.json');
    writeFileSync(rootFile, JSON.stringify(trusted));
    const ok = ['--trusted-root', rootFile, '--certificate-identity', 'mitr@redhat.com', '--certificate-oidc-issuer', 'https://github.com/login/oauth'];
    const r = await verify([...ok, `oci:${layout}:signed`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Array<{ critical: { identity: Record<string, string> }; optional: Record<string, unknown> }>;
    expect(out[0]!.critical.identity['docker-reference']).toBe('192.168.64.2:5000/cosign-signed/fulcio-rekor-1');
    expect(out[0]!.optional).toMatchObject({ Subject: 'mitr@redhat.com', Issuer: 'https://github.com/login/oauth', Bundle: { Payload: { logIndex: expect.any(Number) } } });
    expect(r.stderr).toContain('not checked for an OCI layout');

    const wrongId = await verify(['--trusted-root', rootFile, '--certificate-identity', 'someone@example.com', '--certificate-oidc-issuer', 'https://github.com/login/oauth', `oci:${layout}:signed`]);
    expect(wrongId.code).toBe(1);
    expect(wrongId.stderr).toContain('CERTIFICATE_IDENTITY_MISMATCH');
    expect((await verify([...ok, '--identity', '192.168.64.2:5000/cosign-signed/fulcio-rekor-1', `oci:${layout}:signed`])).code).toBe(0);
    const otherRepo = await verify([...ok, '--identity', 'registry.local/other', `oci:${layout}:signed`]);
    expect(otherRepo.code).toBe(1);
    expect(otherRepo.stderr).toContain('IDENTITY_MISMATCH');
    // Without the CT logs the certificate's SCT cannot be checked: refused.
    const noCt = path.join(dir, 'trusted_root_no_ct.json');
    writeFileSync(noCt, JSON.stringify({ ...trusted, ctlogs: [] }));
    const sct = await verify(['--trusted-root', noCt, ...ok.slice(2), `oci:${layout}:signed`]);
    expect(sct.code).toBe(1);
    expect(sct.stderr).toContain('UNTRUSTED_CERTIFICATE');
    // A key does not verify a keyless signature.
    const withKey = await verify(['--key', path.join(FIXTURES, 'cosign.pub'), `oci:${layout}:signed`]);
    expect(withKey.code).toBe(1);
    expect(withKey.stderr).toContain('BAD_SIGNATURE');
    expectNoStack(withKey);
  });

  it('key-based cosign fixtures in a layout: valid, Rekor SET checked with --trusted-root, modified manifest rejected', async () => {
    const keys = ['--key', path.join(FIXTURES, 'cosign.pub'), '--key', path.join(FIXTURES, 'cosign2.pub')];
    const l1 = path.join(dir, 'fx-valid');
    await fixtureLayout(l1, 'dir-img-cosign-valid', 'v');
    expect((await verify([...keys, `oci:${l1}:v`])).code).toBe(0);
    const l2 = path.join(dir, 'fx-rekor');
    await fixtureLayout(l2, 'dir-img-cosign-key-rekor-valid', 'v');
    const pgRoot = path.join(dir, 'public-good.json');
    writeFileSync(pgRoot, JSON.stringify(publicGoodTrustedRoot()));
    const rekor = await verify([...keys, '--trusted-root', pgRoot, `oci:${l2}:v`, '--json']);
    expect(rekor.code, rekor.stderr).toBe(0);
    expect(JSON.parse(rekor.stdout)[0].optional.Bundle.Payload.logIndex).toBeGreaterThan(0);
    const l3 = path.join(dir, 'fx-modified');
    await fixtureLayout(l3, 'dir-img-cosign-modified-manifest', 'v');
    const mod = await verify([...keys, `oci:${l3}:v`]);
    expect(mod.code).toBe(1);
    expect(mod.stderr).toContain('DIGEST_MISMATCH');
  });

  it('verify-attestation --type: legacy .att (slsaprovenance) and bundle referrer (slsaprovenance1), with policy field checks', async () => {
    const ref = `${host}/acme/app:v1`;
    const r = await runVerifyCommand('verify-attestation', ['--key', keyA, '--type', 'slsaprovenance', ref, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const env = JSON.parse(lines[0]!) as { payloadType: string; payload: string };
    expect(env.payloadType).toBe('application/vnd.in-toto+json');
    expect(JSON.parse(Buffer.from(env.payload, 'base64').toString()).predicateType).toBe('https://slsa.dev/provenance/v0.2');

    const v1 = await runVerifyCommand('verify-attestation', ['--key', keyA, '--type', 'slsaprovenance1', ref, '--json']);
    expect(v1.code, v1.stderr).toBe(0);
    expect(JSON.parse(Buffer.from(JSON.parse(v1.stdout).payload, 'base64').toString()).predicateType).toBe('https://slsa.dev/provenance/v1');
    const any = await runVerifyCommand('verify-attestation', ['--key', keyA, ref, '--json']);
    expect(any.code, any.stderr).toBe(0);
    expect(any.stdout.trim().split('\n')).toHaveLength(2);

    const spdx = await runVerifyCommand('verify-attestation', ['--key', keyA, '--type', 'spdxjson', ref]);
    expect(spdx.code).toBe(1);
    expect(spdx.stderr).toMatch(/no valid spdxjson attestation .*none of that type found; 2 of other types/);
    const wrongKey = await runVerifyCommand('verify-attestation', ['--key', keyB, '--type', 'slsaprovenance', ref]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain(`attestation does not verify with the key ${keyB}`);
    const unsigned = await runVerifyCommand('verify-attestation', ['--key', keyA, '--type', 'slsaprovenance', `${host}/acme/unsigned:v1`]);
    expect(unsigned.code).toBe(1);

    const policy = (value: string) => {
      const f = path.join(dir, `att-policy-${value.length}.yaml`);
      writeFileSync(f, `policies:\n  - match: "${host}/acme/*"\n    attestations:\n      - type: slsaprovenance\n        signers: [{ key: keys/a.pub }]\n        fields:\n          predicate.buildType: ${value}\n          builder.id: https://ci.example/builder\n`);
      return f;
    };
    const good = await runVerifyCommand('verify-attestation', ['--policy', policy('https://example.com/build/v1'), ref]);
    expect(good.code, good.stderr).toBe(0);
    const bad = await runVerifyCommand('verify-attestation', ['--policy', policy('https://example.com/other'), ref]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('predicate.buildType is "https://example.com/build/v1", not "https://example.com/other"');
  });

  it('verify --policy --file over a mirror list: one image non-compliant → exit 1, JUnit 1 failure, report names why', async () => {
    const policy = path.join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      [
        'policies:',
        '  - name: mirrored',
        `    match: "${host}/mirror/*"`,
        '    signatures:',
        '      allOf: [{ key: keys/a.pub }]',
        '  - name: acme',
        `    match: ["${host}/acme/**"]`,
        '    signatures:',
        '      anyOf:',
        '        - key: keys/b.pub',
        '        - key: keys/a.pub',
        '    attestations:',
        '      - type: slsaprovenance',
        '        fields: { predicate.buildType: https://example.com/build/v1 }',
        '',
      ].join('\n'),
    );
    const list = path.join(dir, 'images.txt');
    writeFileSync(
      list,
      [
        '# the signature names upstream.example/acme/app: the list says that is where it came from',
        `upstream.example/acme/app:v1   ${host}/mirror/app`,
        `${host}/acme/app:v1`,
        `${host}/acme/unsigned:v1`,
        '',
      ].join('\n'),
    );
    const report = path.join(dir, 'policy-report.json');
    const junit = path.join(dir, 'policy.xml');
    const r = await verify(['--policy', policy, '--file', list, '--report', report, '--junit', junit]);
    expect(r.code, r.stderr).toBe(1);
    expectNoStack(r);
    expect(r.stderr).toMatch(new RegExp(`${host.replace(/\./g, '\\.')}/acme/unsigned:v1: no valid signature by any of key keys/b\\.pub, key keys/a\\.pub \\(none found\\)`));
    const rep = readReport(report);
    expect(rep.totals).toMatchObject({ images: 3, ok: 2, failed: 1 });
    expect(rep.images.map((i) => [i.reference, i.ok, i.policy])).toEqual([
      [`${host}/mirror/app`, true, 'mirrored'],
      [`${host}/acme/app:v1`, true, 'acme'],
      [`${host}/acme/unsigned:v1`, false, 'acme'],
    ]);
    expect(rep.images[2]!.failures.join('\n')).toContain('no valid signature by any of');
    expect(rep.images[2]!.failures.join('\n')).toContain('no valid slsaprovenance attestation');
    expect(rep.images[1]!.attestations.some((a) => a.valid && a.predicateType === 'https://slsa.dev/provenance/v0.2')).toBe(true);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuite name="airlock verify" tests="3" failures="1"/);
    expect(xml).toContain(`name="${host}/acme/unsigned:v1"`);

    // an image no policy entry matches fails too
    const other = await verify(['--policy', policy, `${host}/elsewhere/app:v1`]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`no entry of the policy ${policy} matches ${host}/elsewhere/app`);
  });

  it('usage and input errors: exit 2, one line, no stack trace', async () => {
    const badRef = await verify(['--key', keyA, 'Not A Ref']);
    expect(badRef.code).toBe(2);
    expect(badRef.stderr).toMatch(/invalid image reference "Not A Ref"/);
    expectNoStack(badRef);
    const noKeyFile = await verify(['--key', '/nonexistent/cosign.pub', `${host}/acme/app:v1`]);
    expect(noKeyFile.code).toBe(2);
    expect(noKeyFile.stderr).toContain('cannot read key file /nonexistent/cosign.pub');
    expectNoStack(noKeyFile);
    const notAKey = await verify(['--key', path.join(FIXTURES, 'fulcio_v1.crt.pem'), `${host}/acme/app:v1`]);
    expect(notAKey.code).toBe(2);
    expect(notAKey.stderr).toContain('fulcio_v1.crt.pem');
    const noTrust = await verify([`${host}/acme/app:v1`]);
    expect(noTrust.code).toBe(2);
    expect(noTrust.stderr).toContain('verify needs --key');
    const noRef = await verify(['--key', keyA]);
    expect(noRef.code).toBe(2);
    const badPolicy = path.join(dir, 'bad-policy.yaml');
    writeFileSync(badPolicy, 'policies:\n  - match: "**"\n    signatures:\n      allOf: [{ key: a.pub, identity: x }]\n');
    const bp = await verify(['--policy', badPolicy, `${host}/acme/app:v1`]);
    expect(bp.code).toBe(2);
    expect(bp.stderr).toContain('invalid policy at policies.0.signatures.allOf.0: a signer is either a key or a keyless identity, not both');
    expectNoStack(bp);
    const missingKeyInPolicy = path.join(dir, 'missing-key-policy.yaml');
    writeFileSync(missingKeyInPolicy, 'policies:\n  - match: "**"\n    signatures:\n      allOf: [{ key: nope.pub }]\n');
    const mk = await verify(['--policy', missingKeyInPolicy, `${host}/acme/app:v1`]);
    expect(mk.code).toBe(2);
    expect(mk.stderr).toContain('cannot read key file nope.pub');
    const badRewrite = await verify(['--key', keyA, '--identity-rewrite', 'nothing', `${host}/acme/app:v1`]);
    expect(badRewrite.code).toBe(2);
    // a missing image is a failed verification (exit 1), not a usage error
    const missing = await verify(['--key', keyA, `${host}/acme/app:nope`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/acme\/app:nope: manifest not found/);
    expectNoStack(missing);
  });

  it('GitLab CI gets a collapsible section', async () => {
    const r = await verify(['--key', keyA, `${host}/acme/app:v1`], { CI: 'true', GITLAB_CI: 'true' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\x1b\[0Ksection_start:\d+:airlock_1\r\x1b\[0Kairlock verify: 1 image/);
    expect(r.stderr).toMatch(/section_end:\d+:airlock_1/);
    const gh = await verify(['--key', keyB, `${host}/acme/app:v1`], { CI: 'true', GITHUB_ACTIONS: 'true' });
    expect(gh.code).toBe(1);
    expect(gh.stderr).toContain('::group::airlock verify: 1 image');
    expect(gh.stderr).toMatch(/::error::.*BAD_SIGNATURE/);
  });
});

describe('airlock verify-blob (sigstore-conformance, offline)', () => {
  let dir: string;
  const A = keyPair();
  const B = keyPair();
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-verify-blob-'));
    writeFileSync(path.join(dir, 'a.pub'), publicKeyToPem(A.publicKey));
    writeFileSync(path.join(dir, 'b.pub'), publicKeyToPem(B.publicKey));
    writeFileSync(path.join(dir, 'public-good.json'), JSON.stringify(publicGoodTrustedRoot()));
  });

  const caseArgs = (name: string): string[] => {
    const c = path.join(CONFORMANCE, name);
    const opt = (f: string) => (existsSync(path.join(c, f)) ? path.join(c, f) : undefined);
    const key = opt('key.pub');
    const trust = ['--trusted-root', opt('trusted_root.json') ?? path.join(dir, 'public-good.json')];
    const who = key
      ? ['--key', key]
      : [
          '--certificate-identity', opt('identity') ? readFileSync(opt('identity')!, 'utf8').trim() : DEFAULT_IDENTITY,
          '--certificate-oidc-issuer', opt('issuer') ? readFileSync(opt('issuer')!, 'utf8').trim() : DEFAULT_ISSUER,
        ];
    return [...who, ...trust, '--bundle', path.join(c, 'bundle.sigstore.json'), opt('artifact') ?? path.join(CONFORMANCE, 'a.txt')];
  };

  it.each(['happy-path-v0.3', 'happy-path-intoto-in-dsse-v3', 'managed-key-happy-path', 'rekor2-happy-path'])('%s verifies', async (name) => {
    const r = await runVerifyCommand('verify-blob', [...caseArgs(name), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Verified OK');
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true });
  });

  it('managed-key-wrong-key_fail: its key.pub is not a valid key: an input error (exit 2)', async () => {
    const r = await runVerifyCommand('verify-blob', caseArgs('managed-key-wrong-key_fail'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/key file .*key\.pub: the public key cannot be read/);
    expectNoStack(r);
  });

  it.each(['incorrect-public-key_fail', 'checkpoint-wrong-roothash_fail', 'dsse-mismatch-sig_fail', 'bundle-with-root-cert_fail', 'message-digest-mismatch_fail'])('%s is rejected (exit 1)', async (name) => {
    const r = await runVerifyCommand('verify-blob', caseArgs(name));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/verify-blob: .*: [A-Z_]+: /);
    expectNoStack(r);
  });

  it('keyless without --trusted-root uses the built-in public-good root', async () => {
    const c = path.join(CONFORMANCE, 'happy-path-v0.3');
    const r = await runVerifyCommand('verify-blob', ['--certificate-identity', DEFAULT_IDENTITY, '--certificate-oidc-issuer', DEFAULT_ISSUER, '--bundle', path.join(c, 'bundle.sigstore.json'), path.join(CONFORMANCE, 'a.txt')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('public-good');
    const wrong = await runVerifyCommand('verify-blob', ['--certificate-identity', 'someone@example.com', '--certificate-oidc-issuer', DEFAULT_ISSUER, '--bundle', path.join(c, 'bundle.sigstore.json'), path.join(CONFORMANCE, 'a.txt')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('CERTIFICATE_POLICY_MISMATCH');
  });

  it('--signature (base64) and a key bundle made by the cosign library', async () => {
    const file = path.join(dir, 'artifact.txt');
    writeFileSync(file, 'hello air gap\n');
    const sigFile = path.join(dir, 'artifact.sig');
    writeFileSync(sigFile, nodeSign('sha256', readFileSync(file), { key: A.privateKey, dsaEncoding: 'der' }).toString('base64'));
    expect((await runVerifyCommand('verify-blob', ['--key', path.join(dir, 'a.pub'), '--signature', sigFile, file])).code).toBe(0);
    expect((await runVerifyCommand('verify-blob', ['--key', path.join(dir, 'a.pub'), '--signature', readFileSync(sigFile, 'utf8'), file])).code).toBe(0);
    const wrong = await runVerifyCommand('verify-blob', ['--key', path.join(dir, 'b.pub'), '--signature', sigFile, file]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('signature does not verify with the key');
    const bundle = path.join(dir, 'artifact.sigstore.json');
    writeFileSync(bundle, JSON.stringify(buildKeyBlobBundle({ privateKey: A.privateKey, artifact: readFileSync(file) })));
    expect((await runVerifyCommand('verify-blob', ['--key', path.join(dir, 'a.pub'), '--bundle', bundle, file])).code).toBe(0);
    const other = path.join(dir, 'other.txt');
    writeFileSync(other, 'tampered\n');
    const tampered = await runVerifyCommand('verify-blob', ['--key', path.join(dir, 'a.pub'), '--bundle', bundle, other]);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain('DIGEST_MISMATCH');
    // usage: no key, no bundle, unreadable file
    expect((await runVerifyCommand('verify-blob', ['--bundle', bundle, file])).code).toBe(2);
    expect((await runVerifyCommand('verify-blob', ['--key', path.join(dir, 'a.pub'), file])).code).toBe(2);
    const missing = await runVerifyCommand('verify-blob', ['--key', path.join(dir, 'a.pub'), '--bundle', bundle, '/nonexistent/file']);
    expect(missing.code).toBe(2);
    expectNoStack(missing);
  });
});

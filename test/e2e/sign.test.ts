import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { checkDsse, checkSimpleSigning, cosignLayers } from '../helpers/cosign-verifier.js';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, type ImageLayout } from '../helpers/images.js';
import { rawRequest } from '../helpers/net.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startSigstoreServices, type SigstoreServices } from '../helpers/sigstore-services.js';

const EMPTY_ROOT = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };

/** Verify a key-signed Sigstore bundle with @sigstore/verify's own Verifier (no Airlock code). */
function sigstoreVerifyWithKey(bundleJson: unknown, publicKeyPem: string, artifact?: Buffer): void {
  const bundle = bundleFromJSON(bundleJson);
  const entity = toSignedEntity(bundle, artifact);
  const key = createPublicKey(publicKeyPem);
  const trust = toTrustMaterial(TrustedRoot.fromJSON(EMPTY_ROOT), () => ({ publicKey: key, validFor: () => true }));
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
}

async function referrerBundles(reg: TestRegistry, repo: string, digest: string): Promise<Array<{ artifactType?: string; bundle: unknown; annotations?: Record<string, string> }>> {
  const tag = `sha256-${digest.slice(7)}`;
  const idx = await rawRequest(`${reg.url}/v2/${repo}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
  expect(idx.status).toBe(200);
  const list = JSON.parse(idx.body.toString()) as { manifests: Array<{ digest: string; artifactType?: string }> };
  return Promise.all(
    list.manifests.map(async (d) => {
      const m = JSON.parse((await rawRequest(`${reg.url}/v2/${repo}/manifests/${d.digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).body.toString()) as {
        subject: { digest: string };
        layers: Array<{ digest: string }>;
        annotations?: Record<string, string>;
      };
      expect(m.subject.digest).toBe(digest);
      const blob = await rawRequest(`${reg.url}/v2/${repo}/blobs/${m.layers[0]!.digest}`);
      return { artifactType: d.artifactType, bundle: JSON.parse(blob.body.toString()), annotations: m.annotations };
    }),
  );
}

describe('airlock key / sign / attest / attach / sign-blob', () => {
  let reg: TestRegistry;
  let dst: TestRegistry;
  let images: ImageLayout;
  let dir: string;
  let digest: string;
  let pub: string;
  const env = { COSIGN_PASSWORD: 'correct horse' };

  beforeAll(async () => {
    [reg, dst] = await Promise.all([startRegistry(), startRegistry()]);
    images = await makeImages({ images: 2, layers: 1, layerMb: 0.05, multiarch: true, seed: 21 });
    digest = (await pushLayoutToRegistry(images.layoutDir, 'img-0', reg, 'acme/app', 'v1')).digest;
    await pushLayoutToRegistry(images.layoutDir, 'img-1', reg, 'acme/other', 'v1');
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-sign-'));
    const gen = await runCli(['key', 'generate', '--output-key-prefix', path.join(dir, 'cosign')], { env });
    expect(gen.code, gen.stderr).toBe(0);
    pub = readFileSync(path.join(dir, 'cosign.pub'), 'utf8');
  });
  afterAll(async () => {
    await Promise.all([reg?.stop(), dst?.stop(), images?.remove()]);
  });

  it('key generate writes cosign.key (0600, scrypt N=65536) and cosign.pub; --legacy the older label; no password is a usage error', async () => {
    const key = readFileSync(path.join(dir, 'cosign.key'), 'utf8');
    expect(key).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----/);
    const body = JSON.parse(Buffer.from(key.split('\n').slice(1, -2).join(''), 'base64').toString()) as { kdf: { params: { N: number } }; cipher: { name: string } };
    expect(body.kdf.params.N).toBe(65536);
    expect(body.cipher.name).toBe('nacl/secretbox');
    expect(statSync(path.join(dir, 'cosign.key')).mode & 0o777).toBe(0o600);
    expect(pub).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const legacy = await runCli(['key', 'generate', '--legacy', '--output-key-prefix', path.join(dir, 'old')], { env });
    expect(legacy.code).toBe(0);
    expect(readFileSync(path.join(dir, 'old.key'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----/);
    const again = await runCli(['key', 'generate', '--output-key-prefix', path.join(dir, 'cosign')], { env });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
    const nopw = await runCli(['key', 'generate', '--output-key-prefix', path.join(dir, 'nopw')]);
    expect(nopw.code).toBe(2);
    expect(nopw.stderr).toMatch(/COSIGN_PASSWORD/);
    expectNoStack(nopw);
  });

  it('sign writes cosign .sig layers that an independent verifier accepts; identical signatures are not duplicated', async () => {
    const r = await runCli(['sign', '--key', path.join(dir, 'cosign.key'), '-a', 'build=42', `${reg.host}/acme/app:v1`, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    let layers = await cosignLayers(reg.url, 'acme/app', digest, 'sig');
    expect(layers).toHaveLength(1);
    const checked = checkSimpleSigning(layers[0]!.blob, layers[0]!.layer, pub, digest);
    expect(checked.dockerReference).toBe(`${reg.host}/acme/app`);
    expect(checked.optional).toEqual({ build: '42' });
    // again with the same key and payload: kept as is
    const again = await runCli(['sign', '--key', path.join(dir, 'cosign.key'), '-a', 'build=42', `${reg.host}/acme/app:v1`], { env });
    expect(again.stderr).toMatch(/already in sha256-/);
    expect(await cosignLayers(reg.url, 'acme/app', digest, 'sig')).toHaveLength(1);
    // another key adds a second signature, the first is kept
    await runCli(['key', 'generate', '--output-key-prefix', path.join(dir, 'second')], { env });
    await runCli(['sign', '--key', path.join(dir, 'second.key'), `${reg.host}/acme/app:v1`], { env });
    layers = await cosignLayers(reg.url, 'acme/app', digest, 'sig');
    expect(layers).toHaveLength(2);
    expect(() => checkSimpleSigning(layers[0]!.blob, layers[0]!.layer, pub, digest)).not.toThrow();
    expect(() => checkSimpleSigning(layers[1]!.blob, layers[1]!.layer, pub, digest)).toThrow(/does not verify/);
    expect(() => checkSimpleSigning(layers[1]!.blob, layers[1]!.layer, readFileSync(path.join(dir, 'second.pub'), 'utf8'), digest)).not.toThrow();
  });

  it('--recursive signs each platform manifest; a wrong password is one clear line', async () => {
    const r = await runCli(['sign', '--recursive', '--key', path.join(dir, 'cosign.key'), `${reg.host}/acme/other:v1`, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { written: Array<{ digest: string }> };
    expect(out.written).toHaveLength(3);
    for (const w of out.written) {
      const [l] = await cosignLayers(reg.url, 'acme/other', w.digest, 'sig');
      checkSimpleSigning(l!.blob, l!.layer, pub, w.digest);
    }
    const bad = await runCli(['sign', '--key', path.join(dir, 'cosign.key'), `${reg.host}/acme/app:v1`], { env: { COSIGN_PASSWORD: 'nope' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/wrong password/);
    expectNoStack(bad);
  });

  it('--format bundle writes a Sigstore bundle referrer (fallback tag) that @sigstore/verify accepts', async () => {
    const r = await runCli(['sign', '--format', 'bundle', '--key', path.join(dir, 'cosign.key'), `${reg.host}/acme/app:v1`], { env });
    expect(r.code, r.stderr).toBe(0);
    const refs = await referrerBundles(reg, 'acme/app', digest);
    const b = refs.find((x) => x.artifactType === 'application/vnd.dev.sigstore.bundle.v0.3+json')!;
    expect(b).toBeDefined();
    expect(b.annotations?.['dev.sigstore.bundle.predicateType']).toBe('https://sigstore.dev/cosign/sign/v1');
    sigstoreVerifyWithKey(b.bundle, pub);
    const env2 = (b.bundle as { dsseEnvelope: { payload: string } }).dsseEnvelope;
    const statement = JSON.parse(Buffer.from(env2.payload, 'base64').toString()) as { subject: Array<{ digest: { sha256: string } }>; predicateType: string };
    expect(statement.subject[0]!.digest.sha256).toBe(digest.slice(7));
    expect(() => sigstoreVerifyWithKey(b.bundle, readFileSync(path.join(dir, 'second.pub'), 'utf8'))).toThrow();
  });

  it('attest writes a DSSE .att layer (legacy) and a bundle referrer; attach sbom writes the .sbom tag', async () => {
    const pred = path.join(dir, 'provenance.json');
    writeFileSync(pred, JSON.stringify({ buildDefinition: { buildType: 'https://airlock.test/build' } }));
    const r = await runCli(['attest', '--key', path.join(dir, 'cosign.key'), '--type', 'slsaprovenance1', '--predicate', pred, `${reg.host}/acme/app:v1`], { env });
    expect(r.code, r.stderr).toBe(0);
    const [att] = await cosignLayers(reg.url, 'acme/app', digest, 'att');
    expect(att!.layer.mediaType).toBe('application/vnd.dsse.envelope.v1+json');
    expect(att!.layer.annotations?.predicateType).toBe('https://slsa.dev/provenance/v1');
    const { payloadType, statement } = checkDsse(att!.blob, pub);
    expect(payloadType).toBe('application/vnd.in-toto+json');
    expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(statement.subject[0]!.digest.sha256).toBe(digest.slice(7));
    expect(statement.predicate).toEqual({ buildDefinition: { buildType: 'https://airlock.test/build' } });

    const rb = await runCli(['attest', '--format', 'bundle', '--key', path.join(dir, 'cosign.key'), '--type', 'cyclonedx', '--predicate', pred, `${reg.host}/acme/app:v1`], { env });
    expect(rb.code, rb.stderr).toBe(0);
    const refs = await referrerBundles(reg, 'acme/app', digest);
    const cdx = refs.find((x) => x.annotations?.['dev.sigstore.bundle.predicateType'] === 'https://cyclonedx.org/bom')!;
    sigstoreVerifyWithKey(cdx.bundle, pub);

    const sbom = path.join(dir, 'sbom.spdx.json');
    writeFileSync(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'app' }));
    const rs = await runCli(['attach', 'sbom', '--sbom', sbom, '--type', 'spdxjson', `${reg.host}/acme/app:v1`]);
    expect(rs.code, rs.stderr).toBe(0);
    const [s] = await cosignLayers(reg.url, 'acme/app', digest, 'sbom');
    expect(s!.layer.mediaType).toBe('text/spdx+json');
    expect(s!.blob.toString()).toBe(readFileSync(sbom, 'utf8'));
  });

  it('signatures travel with the image: copy to another registry keeps them verifiable', async () => {
    const r = await runCli(['copy', `${reg.host}/acme/app:v1`, `${dst.host}/mirror/app:v1`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { images: Array<{ referrers: number }> };
    expect(rep.images[0]!.referrers).toBeGreaterThanOrEqual(4); // .sig, .att, .sbom, 2 bundle referrers
    const layers = await cosignLayers(dst.url, 'mirror/app', digest, 'sig');
    expect(layers).toHaveLength(2);
    expect(checkSimpleSigning(layers[0]!.blob, layers[0]!.layer, pub, digest).dockerReference).toBe(`${reg.host}/acme/app`);
    const refs = await referrerBundles(dst, 'mirror/app', digest);
    expect(refs.length).toBe(2);

    // verify on the mirror: the signature names the upstream repository
    const pubFile = path.join(dir, 'cosign.pub');
    // (the bundle-form signature carries no repository name, so only the .sig layers are affected)
    const strict = await runCli(['verify', '--key', pubFile, `${dst.host}/mirror/app:v1`, '--report', path.join(dir, 'strict.json')]);
    expect(strict.code).toBe(0);
    expect(readFileSync(path.join(dir, 'strict.json'), 'utf8')).toMatch(/IDENTITY_MISMATCH/);
    const ok = await runCli(['verify', '--key', pubFile, '--identity-rewrite', `${reg.host}/acme=${dst.host}/mirror`, `${dst.host}/mirror/app:v1`, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const payloads = JSON.parse(ok.stdout) as Array<{ critical: { image: { 'docker-manifest-digest': string } } }>;
    expect(payloads.some((p) => p.critical.image['docker-manifest-digest'] === digest)).toBe(true);
  });

  it('a tampered signature is rejected', async () => {
    // Rewrite the mirror's .sig so its only layer carries another payload's signature.
    const tag = `sha256-${digest.slice(7)}.sig`;
    const m = JSON.parse((await rawRequest(`${dst.url}/v2/mirror/app/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).body.toString()) as {
      layers: Array<{ annotations: Record<string, string> }>;
    };
    const first = m.layers[0]!;
    first.annotations['dev.cosignproject.cosign/signature'] = Buffer.from('forged').toString('base64');
    m.layers = [first];
    const put = await rawRequest(`${dst.url}/v2/mirror/app/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: Buffer.from(JSON.stringify(m)) });
    expect(put.status).toBe(201);
    const r = await runCli(['verify', '--key', path.join(dir, 'cosign.pub'), '--ignore-identity', `${dst.host}/mirror/app:v1`, '--report', path.join(dir, 'tampered.json')]);
    // the bundle referrer still verifies: check the report says the .sig layer was rejected
    const report = readFileSync(path.join(dir, 'tampered.json'), 'utf8');
    expect(report).toMatch(/BAD_SIGNATURE/);
    expect([0, 1]).toContain(r.code);
  });

  it('sign-blob: a base64 signature node:crypto verifies, and a bundle @sigstore/verify accepts', async () => {
    const file = path.join(dir, 'media.tar');
    writeFileSync(file, Buffer.alloc(4096, 7));
    const r = await runCli(['sign-blob', '--key', path.join(dir, 'cosign.key'), '--bundle', path.join(dir, 'media.tar.sigstore.json'), file], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(cryptoVerify('sha256', readFileSync(file), createPublicKey(pub), Buffer.from(r.stdout.trim(), 'base64'))).toBe(true);
    sigstoreVerifyWithKey(JSON.parse(readFileSync(path.join(dir, 'media.tar.sigstore.json'), 'utf8')), pub, readFileSync(file));
  });

  describe('keyless (Fulcio and Rekor on loopback, never the public instances)', () => {
    let svc: SigstoreServices;
    beforeAll(async () => {
      svc = await startSigstoreServices();
    });
    afterAll(async () => svc?.close());

    it('sign --keyless writes a certificate bundle with a Rekor entry; a raw token in argv is refused', async () => {
      const tokenFile = path.join(dir, 'oidc-token');
      writeFileSync(tokenFile, svc.token);
      const refused = await runCli(['sign', '--keyless', '--identity-token', svc.token, '--fulcio-url', svc.fulcioURL, '--rekor-url', svc.rekorURL, `${reg.host}/acme/other:v1`]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/not the token itself/);
      expect(refused.stderr).not.toContain(svc.token);
      const r = await runCli(['sign', '--keyless', '--identity-token', `@${tokenFile}`, '--fulcio-url', svc.fulcioURL, '--rekor-url', svc.rekorURL, `${reg.host}/acme/other:v1`, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const d = (JSON.parse(r.stdout) as { written: Array<{ digest: string }> }).written[0]!.digest;
      const [b] = await referrerBundles(reg, 'acme/other', d);
      const bundle = bundleFromJSON(b!.bundle);
      expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
      const trust = toTrustMaterial(TrustedRoot.fromJSON(svc.trustedRoot));
      const signer = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 }).verify(toSignedEntity(bundle));
      expect(signer.identity?.subjectAlternativeName).toBe(svc.subject);
      // SIGSTORE_ID_TOKEN works too
      const viaEnv = await runCli(['sign', '--keyless', '--fulcio-url', svc.fulcioURL, '--rekor-url', svc.rekorURL, `${reg.host}/acme/app:v1`], { env: { SIGSTORE_ID_TOKEN: svc.token } });
      expect(viaEnv.code, viaEnv.stderr).toBe(0);

      // GitHub Actions: the token is requested from ACTIONS_ID_TOKEN_REQUEST_URL for audience sigstore
      const asked: string[] = [];
      const gh = createServer((req, res) => {
        asked.push(`${req.headers.authorization} ${req.url}`);
        const ok = req.headers.authorization === 'Bearer gh-request-token' && new URL(req.url!, 'http://x').searchParams.get('audience') === 'sigstore';
        res.writeHead(ok ? 200 : 403, { 'content-type': 'application/json' }).end(ok ? JSON.stringify({ value: svc.token }) : '{}');
      });
      await new Promise<void>((r) => gh.listen(0, '127.0.0.1', () => r()));
      try {
        const ghUrl = `http://127.0.0.1:${(gh.address() as AddressInfo).port}/token?api-version=2.0`;
        const viaGitHub = await runCli(['sign', '--keyless', '--fulcio-url', svc.fulcioURL, '--rekor-url', svc.rekorURL, `${reg.host}/acme/app:v1`], {
          env: { GITHUB_ACTIONS: 'true', ACTIONS_ID_TOKEN_REQUEST_URL: ghUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'gh-request-token' },
        });
        expect(viaGitHub.code, viaGitHub.stderr).toBe(0);
        expect(asked).toHaveLength(1);
        expect(viaGitHub.stderr).toContain('::group::');
        const denied = await runCli(['sign', '--keyless', '--fulcio-url', svc.fulcioURL, '--rekor-url', svc.rekorURL, `${reg.host}/acme/app:v1`], {
          env: { ACTIONS_ID_TOKEN_REQUEST_URL: ghUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong' },
        });
        expect(denied.code).toBe(1);
        expect(denied.stderr).toMatch(/id-token: write/);
      } finally {
        gh.close();
      }
    });
  });
});

/**
 * deploy-image --push-artifact: the rewritten manifests as a Flux OCI artifact in a real
 * docker-registry, pulled back and checked (media types, annotations, config, the layer unpacked
 * with GNU tar and compared with the manifests), reproducible, signed with --sign-key and verified
 * by `airlock verify`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { deployImage, startDeployEnv, type DeployEnv } from '../helpers/deploy-env.js';
import { rawRequest } from '../helpers/net.js';

const SHA = 'a'.repeat(40);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir, { recursive: true }).map(String).sort()) {
    const p = path.join(dir, f);
    if (statSync(p).isFile()) out[f] = readFileSync(p, 'utf8');
  }
  return out;
}

describe('deploy-image --push-artifact (Flux OCI artifact, real registry)', () => {
  let env: DeployEnv;
  let dir: string;
  let src: string;
  let key: string;
  const password = { COSIGN_PASSWORD: 'flux artifact key' };

  beforeAll(async () => {
    env = await startDeployEnv();
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-deploy-flux-'));
    src = path.join(dir, 'k8s');
    mkdirSync(path.join(src, 'base'), { recursive: true });
    writeFileSync(path.join(src, 'kustomization.yaml'), 'resources:\n  - base/deployment.yaml\n');
    writeFileSync(
      path.join(src, 'base', 'deployment.yaml'),
      '# the app\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.example/acme/app:1.4 # upstream name\n',
    );
    writeFileSync(path.join(src, 'README.md'), 'not YAML, packaged as is\n');
    symlinkSync('base/deployment.yaml', path.join(src, 'link.yaml'));
    const gen = await runCli(['key', 'generate', '--output-key-prefix', path.join(dir, 'flux')], { env: password });
    expect(gen.code, gen.stderr).toBe(0);
    key = path.join(dir, 'flux.key');
  });
  afterAll(async () => {
    await env?.stop();
  });

  const common = (out: string, ...rest: string[]) => [
    '--image', 'registry.example/acme/app:1.4',
    '--rewrite', `registry.example/acme=${env.host}/acme`,
    '--key', env.pubKey,
    '--manifests', src,
    '--out', out,
    '--push-artifact', `oci://${env.host}/deploy/app-manifests:1.4`,
    '--source', 'https://git.example/acme/app',
    '--revision', `main@sha1:${SHA}`,
    ...rest,
  ];

  async function pull(reference: string) {
    const m = await rawRequest(`http://${env.host}/v2/deploy/app-manifests/manifests/${reference}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(m.status).toBe(200);
    const manifest = JSON.parse(m.body.toString()) as { schemaVersion: number; mediaType: string; config: { mediaType: string; digest: string; size: number }; layers: Array<{ mediaType: string; digest: string; size: number }>; annotations: Record<string, string> };
    const blob = async (d: string) => (await rawRequest(`http://${env.host}/v2/deploy/app-manifests/blobs/${d}`)).body;
    return { raw: m.body, digest: sha256(m.body), manifest, config: await blob(manifest.config.digest), layer: await blob(manifest.layers[0]!.digest) };
  }

  it('pushes what flux push artifact pushes: media types, annotations, config; the layer unpacks to the rewritten manifests', async () => {
    const out = path.join(dir, 'out1');
    const report = path.join(dir, 'flux.json');
    const r = await deployImage(common(out, '--report', report, '--dotenv', path.join(dir, 'flux.env')), { SOURCE_DATE_EPOCH: '1700000000' });
    expectNoStack(r);
    expect(r.code, r.stderr).toBe(0);
    const got = await pull('1.4');
    expect(got.raw.toString()).toBe(JSON.stringify(got.manifest)); // compact, as Go marshals it
    expect(got.manifest).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.cncf.flux.config.v1+json', size: got.config.length, digest: sha256(got.config) },
      layers: [{ mediaType: 'application/vnd.cncf.flux.content.v1.tar+gzip', size: got.layer.length, digest: sha256(got.layer) }],
      annotations: {
        'org.opencontainers.image.created': '2023-11-14T22:13:20Z',
        'org.opencontainers.image.revision': `main@sha1:${SHA}`,
        'org.opencontainers.image.source': 'https://git.example/acme/app',
      },
    });
    expect(JSON.parse(got.config.toString())).toEqual({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: [sha256(gunzipSync(got.layer))] },
      config: {},
    });
    // GNU tar reads it: normalised headers, no symlink, the rewritten files.
    const tgz = path.join(dir, 'layer.tgz');
    writeFileSync(tgz, got.layer);
    const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvzf', tgz], { encoding: 'utf8' }).trim().split('\n');
    expect(listing.map((l) => l.replace(/\s+/g, ' ').replace(/ \d+ 1970/, ' N 1970'))).toEqual([
      '-rw-r--r-- 0/0 N 1970-01-01 00:00:00 README.md',
      'drwxr-xr-x 0/0 N 1970-01-01 00:00:00 base',
      '-rw-r--r-- 0/0 N 1970-01-01 00:00:00 base/deployment.yaml',
      '-rw-r--r-- 0/0 N 1970-01-01 00:00:00 kustomization.yaml',
    ]);
    const unpacked = path.join(dir, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', tgz, '-C', unpacked]);
    const outTree = tree(out);
    delete outTree['link.yaml'];
    expect(tree(unpacked)).toEqual(outTree);
    expect(tree(unpacked)['base/deployment.yaml']).toContain(`image: ${env.host}/acme/app:1.4@${env.appDigest} # upstream name\n`);
    // What to apply once: the OCIRepository by digest and its Kustomization.
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, any>);
    expect(docs.map((d) => `${d.apiVersion} ${d.kind}`)).toEqual(['source.toolkit.fluxcd.io/v1 OCIRepository', 'kustomize.toolkit.fluxcd.io/v1 Kustomization']);
    expect(docs[0]!.spec).toMatchObject({ url: `oci://${env.host}/deploy/app-manifests`, ref: { digest: got.digest }, secretRef: { name: 'app-manifests-registry' }, certSecretRef: { name: 'app-manifests-registry-ca' } });
    expect(docs[0]!.spec.verify).toBeUndefined();
    expect(docs[1]!.spec).toMatchObject({ sourceRef: { kind: 'OCIRepository', name: 'app-manifests' }, path: './', prune: true });
    const rep = JSON.parse(readFileSync(report, 'utf8')) as { artifact: { url: string; digest: string; layerDigest: string; pushed: boolean } };
    expect(rep.artifact).toMatchObject({ url: `oci://${env.host}/deploy/app-manifests@${got.digest}`, digest: got.digest, layerDigest: sha256(got.layer), pushed: true });
    expect(readFileSync(path.join(dir, 'flux.env'), 'utf8')).toContain(`AIRLOCK_ARTIFACT_URL=oci://${env.host}/deploy/app-manifests@${got.digest}\nAIRLOCK_ARTIFACT_DIGEST=${got.digest}\n`);
  });

  it('identical input gives an identical digest (layer always; manifest with SOURCE_DATE_EPOCH); -o json prints what flux prints', async () => {
    const a = await deployImage(common(path.join(dir, 'out2'), '-o', 'json'), { SOURCE_DATE_EPOCH: '1700000000' });
    expect(a.code, a.stderr).toBe(0);
    const first = await pull('1.4');
    const info = JSON.parse(a.stdout) as Record<string, string>;
    expect(a.stdout).toBe(`${JSON.stringify({ url: `oci://${env.host}/deploy/app-manifests@${first.digest}`, repository: `${env.host}/deploy/app-manifests`, tag: '1.4', digest: first.digest }, null, 2)}\n`);
    expect(info.digest).toBe(first.digest);
    // The same input again (the files written anew, with new times): the same digests.
    const b = await deployImage(common(path.join(dir, 'out3'), '-o', 'json'), { SOURCE_DATE_EPOCH: '1700000000' });
    expect(JSON.parse(b.stdout)).toEqual(info);
    // Without a fixed time only `created` differs: the layer is the same.
    const c = await deployImage(common(path.join(dir, 'out4'), '-o', 'json'));
    expect(c.code, c.stderr).toBe(0);
    const third = await pull('1.4');
    expect(third.manifest.layers[0]!.digest).toBe(first.manifest.layers[0]!.digest);
    expect(third.manifest.config.digest).toBe(first.manifest.config.digest);
  });

  it('--sign-key signs the artifact; airlock verify accepts it; the OCIRepository verifies with cosign', async () => {
    const r = await deployImage(common(path.join(dir, 'out5'), '--sign-key', key), { ...password, SOURCE_DATE_EPOCH: '1700000001' });
    expect(r.code, r.stderr).toBe(0);
    const got = await pull('1.4');
    expect(r.stderr).toContain(`✔ artifact signed: sha256-${got.digest.slice(7)}.sig`);
    const v = await runCli(['verify', '--key', path.join(dir, 'flux.pub'), `${env.host}/deploy/app-manifests:1.4`]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toContain('OK: 1 valid signature');
    const wrong = await runCli(['verify', '--key', env.pubKey, `${env.host}/deploy/app-manifests:1.4`]);
    expect(wrong.code).toBe(1);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, any>);
    expect(docs[0]!.spec.verify).toEqual({ provider: 'cosign', secretRef: { name: 'app-manifests-cosign-pub' } });
    expect(docs[0]!.spec.ref).toEqual({ digest: got.digest });
    // A wrong password is an input error, and nothing is half-signed.
    const bad = await deployImage(common(path.join(dir, 'out6'), '--sign-key', key), { COSIGN_PASSWORD: 'nope' });
    expect(bad.code).toBe(2);
    expectNoStack(bad);
  });

  it('unmapped images: a warning (listed in the report), or with --strict an error before any file is written; --dry-run pushes nothing', async () => {
    const m = path.join(dir, 'unmapped');
    mkdirSync(m);
    const text = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: app\n      image: registry.example/acme/app:1.4\n    - name: side\n      image: docker.io/library/redis:7.2\n';
    writeFileSync(path.join(m, 'pod.yaml'), text);
    const base = ['--image', 'registry.example/acme/app:1.4', '--rewrite', `registry.example/acme=${env.host}/acme`, '--key', env.pubKey, '--manifests', m];
    const strict = await deployImage([...base, '--strict']);
    expectNoStack(strict);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain('pod.yaml:10: Pod/p containers[side]: docker.io/library/redis:7.2 is not in the image list (it would be pulled from outside the air gap)');
    expect(strict.stderr).toContain('error: --strict: 1 image in');
    expect(readFileSync(path.join(m, 'pod.yaml'), 'utf8')).toBe(text);
    const report = path.join(dir, 'unmapped.json');
    const warn = await deployImage([...base, '--report', report]);
    expect(warn.code, warn.stderr).toBe(0);
    expect(warn.stderr).toContain('warning: pod.yaml:10: Pod/p containers[side]: docker.io/library/redis:7.2 is not in the image list');
    expect(readFileSync(path.join(m, 'pod.yaml'), 'utf8')).toBe(text.replace('registry.example/acme/app:1.4', `${env.host}/acme/app:1.4@${env.appDigest}`));
    const rep = JSON.parse(readFileSync(report, 'utf8')) as { manifests: { unmapped: Array<{ image: string }> }; warnings: string[] };
    expect(rep.manifests.unmapped.map((u) => u.image)).toEqual(['docker.io/library/redis:7.2']);
    // A dry run builds the artifact and names its digest, and pushes nothing.
    const dry = await deployImage(common(path.join(dir, 'dry-out'), '--dry-run', '--json').map((a) => (a.endsWith(':1.4') && a.startsWith('oci://') ? `oci://${env.host}/deploy/dry:1` : a)));
    expect(dry.code, dry.stderr).toBe(0);
    const d = JSON.parse(dry.stdout) as { dryRun: boolean; artifact: { pushed: boolean; digest: string } };
    expect(d.dryRun).toBe(true);
    expect(d.artifact.pushed).toBe(false);
    // The digest it names is the one a real run pushes (same time, same rewritten content).
    const real = await deployImage(common(path.join(dir, 'real-out'), '-o', 'json').map((a) => (a.endsWith(':1.4') && a.startsWith('oci://') ? `oci://${env.host}/deploy/dry:1` : a)), { SOURCE_DATE_EPOCH: '1700000000' });
    const dry2 = await deployImage(common(path.join(dir, 'dry-out2'), '--dry-run', '--json').map((a) => (a.endsWith(':1.4') && a.startsWith('oci://') ? `oci://${env.host}/deploy/dry:2` : a)), { SOURCE_DATE_EPOCH: '1700000000' });
    expect((JSON.parse(dry2.stdout) as typeof d).artifact.digest).toBe((JSON.parse(real.stdout) as { digest: string }).digest);
    expect((await rawRequest(`http://${env.host}/v2/deploy/dry/manifests/2`, { method: 'HEAD' })).status).toBe(404);
    expect(existsSync(path.join(dir, 'dry-out2'))).toBe(false);
  });

  it('one file, CI defaults for --source/--revision, and input errors (exit 2)', async () => {
    const file = path.join(dir, 'single.yaml');
    writeFileSync(file, `apiVersion: v1\nkind: Pod\nmetadata:\n  name: one\nspec:\n  containers:\n    - name: app\n      image: registry.example/acme/app:1.4\n`);
    const ci = { CI_PROJECT_URL: 'https://gitlab.example/acme/app', CI_COMMIT_REF_NAME: 'release-1.4', CI_COMMIT_SHA: 'b'.repeat(40) };
    const r = await deployImage(['--image', 'registry.example/acme/app:1.4', '--rewrite', `registry.example/acme=${env.host}/acme`, '--key', env.pubKey, '--manifests', file, '--out', path.join(dir, 'single-out'), '--push-artifact', `oci://${env.host}/deploy/app-manifests:single`], ci);
    expect(r.code, r.stderr).toBe(0);
    const got = await pull('single');
    expect(got.manifest.annotations['org.opencontainers.image.source']).toBe('https://gitlab.example/acme/app');
    expect(got.manifest.annotations['org.opencontainers.image.revision']).toBe(`release-1.4@sha1:${'b'.repeat(40)}`);
    const tgz = path.join(dir, 'single.tgz');
    writeFileSync(tgz, got.layer);
    expect(execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' })).toBe('single.yaml\n');

    const badRev = await deployImage(common(path.join(dir, 'bad'), '--revision', 'main'));
    expect(badRev.code).toBe(2);
    expect(badRev.stderr).toContain('error: --revision "main" is not a Flux revision');
    const noSource = await deployImage(['--image', `${env.host}/acme/app:1.4`, '--key', env.pubKey, '--manifests', src, '--push-artifact', `oci://${env.host}/x:1`, '--revision', `main@sha1:${SHA}`]);
    expect(noSource.code).toBe(2);
    expect(noSource.stderr).toContain('error: --push-artifact needs --source URL');
    const noTag = await deployImage(common(path.join(dir, 'bad2')).map((a) => (a.startsWith('oci://') ? `oci://${env.host}/deploy/app-manifests` : a)));
    expect(noTag.code).toBe(2);
    expect(noTag.stderr).toContain('give a tag (oci://HOST/REPO:TAG)');
  });
});

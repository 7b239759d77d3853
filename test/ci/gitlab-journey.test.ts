import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, repoRoot, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeTempDir } from '../helpers/tmp.js';
import { checkComponentInputs, componentRepo, read, runPipeline, writePipeline } from './gitlab-ci-local.js';

const BUNDLE = path.join(repoRoot, 'dist', 'airlock.cjs');
const PASSWORD = 'journey key password';

/**
 * The whole journey from pipelines, through the components generated for the later steps: on the
 * connected side bundle-create writes a signed image to "removable media"; on the air-gapped side
 * bundle-load pushes it under a new prefix, verify checks its signature offline, and deploy-image
 * pins the manifests to the digest, which a later job receives through dotenv.
 */
describe('GitLab components: bundle-create → bundle-load → verify → deploy-image (gitlab-ci-local)', () => {
  let src: TestRegistry;
  let dst: TestRegistry;
  let images: ImageLayout;
  let digest: string;

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    images = await makeImages({ images: 1, layers: 1, layerMb: 0.02, seed: 93 });
    digest = (await pushLayoutToRegistry(images.layoutDir, images.tags[0]!, src, 'acme/app', 'v1')).digest;
  });
  afterAll(async () => {
    await Promise.all([src?.stop(), dst?.stop(), images?.remove()]);
  });

  it('moves a signed image across the gap and deploys it by digest, every step a component', async () => {
    const keys = makeTempDir('journey-keys');
    const env = { COSIGN_PASSWORD: PASSWORD };
    expect((await runCli(['key', 'generate', '--output-key-prefix', path.join(keys, 'cosign')], { env })).code).toBe(0);
    const signed = await runCli(['sign', '--key', path.join(keys, 'cosign.key'), `${src.host}/acme/app:v1`], { env });
    expect(signed.code, signed.stderr).toBe(0);

    const media = path.join(makeTempDir('journey-media'), 'app.bundle');
    const bundleSha = createHash('sha256').update(readFileSync(BUNDLE)).digest('hex');
    const bundle = { bundle: BUNDLE, 'bundle-sha256': bundleSha };
    const repo = await componentRepo({
      'airlock.yaml': stringify({ images: [`${src.host}/acme/app:v1`] }),
      'cosign.pub': readFileSync(path.join(keys, 'cosign.pub'), 'utf8'),
      'k8s/app.yaml': `# the app, as the vendor ships it\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ${src.host}/acme/app:v1 # pinned by airlock\n`,
    });
    const pipeline = {
      include: [
        { component: repo.component('bundle-create'), inputs: { ...bundle, stage: 'connected', file: 'airlock.yaml', output: media } },
        { component: repo.component('bundle-load'), inputs: { ...bundle, stage: 'load', 'bundle-file': [media], to: `${dst.host}/mirror`, key: [] } },
        {
          component: repo.component('verify'),
          inputs: { ...bundle, stage: 'verify', image: [`${dst.host}/mirror/acme/app:v1`], key: ['cosign.pub'], 'identity-rewrite': [`${src.host}/acme=${dst.host}/mirror/acme`] },
        },
        {
          component: repo.component('deploy-image'),
          inputs: {
            ...bundle,
            stage: 'deploy',
            image: [`${src.host}/acme/app:v1`],
            rewrite: [`${src.host}=${dst.host}/mirror`],
            key: ['cosign.pub'],
            'identity-rewrite': [`${src.host}/acme=${dst.host}/mirror/acme`],
            manifests: 'k8s',
          },
        },
      ],
      stages: ['connected', 'load', 'verify', 'deploy', 'use'],
      'use-digest': {
        stage: 'use',
        needs: ['airlock-deploy-image'],
        script: ['echo "$AIRLOCK_IMAGE_APP" > deployed.txt'],
        artifacts: { paths: ['deployed.txt'] },
      },
    };
    const yaml = stringify(pipeline);
    expect(checkComponentInputs(yaml)).toEqual([]);
    writePipeline(repo, yaml);
    const r = await runPipeline(repo);
    expect(r.code, r.output).toBe(0);

    // The image crossed with its digest unchanged, and its signature verified after the move.
    const load = JSON.parse(read(repo, 'airlock-reports/bundle-load.json')) as { images: Array<{ destinationDigest?: string; status: string }> };
    expect(load.images.map((i) => i.destinationDigest)).toEqual([digest]);
    expect(read(repo, 'airlock-reports/verify.env')).toContain('AIRLOCK_VERIFIED=1\n');
    // deploy-image pinned the manifest to the private registry by digest; a later job got it.
    expect(read(repo, 'deployed.txt').trim()).toBe(`${dst.host}/mirror/acme/app:v1@${digest}`);
  });

  it('sync in 2 shards, merged by report-merge: every image exactly once; a second pipeline copies nothing', async () => {
    const bundleSha = createHash('sha256').update(readFileSync(BUNDLE)).digest('hex');
    const bundle = { bundle: BUNDLE, 'bundle-sha256': bundleSha };
    for (const t of ['v2', 'v3']) await pushLayoutToRegistry(images.layoutDir, images.tags[0]!, src, 'acme/app', t);
    const repo = await componentRepo({
      'sync.yaml': stringify({ version: 1, defaults: { to: `${dst.host}/synced` }, images: [{ repository: `${src.host}/acme/app`, tags: ['v1', 'v2', 'v3'] }] }),
    });
    const pipeline = {
      include: [
        { component: repo.component('sync'), inputs: { ...bundle, stage: 'sync', file: 'sync.yaml', parallel: 2 } },
        { component: repo.component('report-merge'), inputs: { ...bundle, stage: 'merge', needs: 'airlock-sync' } },
      ],
      stages: ['sync', 'merge'],
    };
    const yaml = stringify(pipeline);
    expect(checkComponentInputs(yaml)).toEqual([]);
    writePipeline(repo, yaml);
    const first = await runPipeline(repo);
    expect(first.code, first.output).toBe(0);
    type Merged = { totals: { images: number; failed: number }; images: Array<{ destination: string; status: string }> };
    const merged = JSON.parse(read(repo, 'airlock-merged/report.json')) as Merged;
    expect(merged.totals).toMatchObject({ images: 3, failed: 0 });
    expect(merged.images.map((i) => i.destination).sort()).toEqual(['v1', 'v2', 'v3'].map((t) => `${dst.host}/synced/acme/app:${t}`));
    expect(merged.images.map((i) => i.status)).toEqual(['copied', 'copied', 'copied']);
    const again = await runPipeline(repo);
    expect(again.code, again.output).toBe(0);
    const second = JSON.parse(read(repo, 'airlock-merged/report.json')) as Merged;
    expect(second.images.map((i) => i.status)).toEqual(['skipped', 'skipped', 'skipped']);
  });
});

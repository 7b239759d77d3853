import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, repoRoot, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeTempDir } from '../helpers/tmp.js';
import { checkComponentInputs, componentRepo, list, read, runPipeline, writePipeline, type ComponentRepo } from './gitlab-ci-local.js';

const BUNDLE = path.join(repoRoot, 'dist', 'airlock.cjs');
const PASSWORD = 'gitlab pipeline password';

describe('GitLab components in real pipelines (gitlab-ci-local, shell executor)', () => {
  let src: TestRegistry;
  let dst: TestRegistry;
  let images: ImageLayout;
  let bundleSha: string;
  const digests: string[] = [];

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    images = await makeImages({ images: 5, layers: 1, layerMb: 0.02, seed: 91 });
    for (const [i, tag] of images.tags.entries()) digests.push((await pushLayoutToRegistry(images.layoutDir, tag, src, `acme/img-${i}`, 'v1')).digest);
    bundleSha = createHash('sha256').update(readFileSync(BUNDLE)).digest('hex');
  });
  afterAll(async () => {
    await Promise.all([src?.stop(), dst?.stop(), images?.remove()]);
  });

  const bundleInputs = () => ({ bundle: BUNDLE, 'bundle-sha256': bundleSha });

  it('mirror in 3 shards + report-merge, then sign → verify; dotenv outputs reach a later job', async () => {
    const list5 = digests.map((_, i) => `${src.host}/acme/img-${i}:v1 ${dst.host}/acme/img-${i}:v1`).join('\n');
    const keys = makeTempDir('keys');
    const gen = await runCli(['key', 'generate', '--output-key-prefix', path.join(keys, 'cosign')], { env: { COSIGN_PASSWORD: PASSWORD } });
    expect(gen.code, gen.stderr).toBe(0);
    const repo: ComponentRepo = await componentRepo({
      'images.txt': `${list5}\n`,
      'cosign.key': readFileSync(path.join(keys, 'cosign.key'), 'utf8'),
      'cosign.pub': readFileSync(path.join(keys, 'cosign.pub'), 'utf8'),
    });
    const pipeline = {
      include: [
        { component: repo.component('mirror'), inputs: { ...bundleInputs(), stage: 'mirror', file: 'images.txt', parallel: 3 } },
        { component: repo.component('report-merge'), inputs: { ...bundleInputs(), stage: 'merge', needs: 'airlock-mirror' } },
        { component: repo.component('sign'), inputs: { ...bundleInputs(), stage: 'sign', images: [`${dst.host}/acme/img-0:v1`, `${dst.host}/acme/img-1:v1`], key: 'cosign.key' } },
        { component: repo.component('verify'), inputs: { ...bundleInputs(), stage: 'verify', image: [`${dst.host}/acme/img-0:v1`, `${dst.host}/acme/img-1:v1`], key: ['cosign.pub'] } },
      ],
      stages: ['mirror', 'merge', 'sign', 'verify', 'use'],
      'use-digests': {
        stage: 'use',
        needs: ['airlock-report-merge', 'airlock-verify'],
        script: ['echo "merged=$AIRLOCK_DIGEST_ACME_IMG_0_V1 images=$AIRLOCK_IMAGES verified=$AIRLOCK_VERIFIED" > used.txt'],
        artifacts: { paths: ['used.txt'] },
      },
    };
    const yaml = stringify(pipeline);
    expect(checkComponentInputs(yaml)).toEqual([]);
    writePipeline(repo, yaml);

    const r = await runPipeline(repo, ['--variable', `COSIGN_PASSWORD=${PASSWORD}`]);
    expect(r.code, r.output).toBe(0);
    // Three shards, disjoint, covering the list, balanced by count.
    const shardFiles = list(repo, 'airlock-reports').filter((f) => /^mirror-\d\.json$/.test(f));
    expect(shardFiles).toEqual(['mirror-1.json', 'mirror-2.json', 'mirror-3.json']);
    const shards = shardFiles.map((f) => JSON.parse(read(repo, `airlock-reports/${f}`)) as { images: { source: string; status: string }[] });
    expect(shards.map((sh) => sh.images.length).sort()).toEqual([1, 2, 2]);
    expect(shards.flatMap((sh) => sh.images.map((i) => i.source)).sort()).toEqual(digests.map((_, i) => `${src.host}/acme/img-${i}:v1`));
    for (const f of ['mirror-1.xml', 'mirror-2.xml', 'mirror-3.xml']) expect(read(repo, `airlock-reports/${f}`)).toMatch(/<testsuite /);

    // The merge: one JSON and one JUnit report of all five images, and their digests as dotenv.
    const merged = JSON.parse(read(repo, 'airlock-merged/report.json')) as { ok: boolean; command: string; images: { destination: string; destinationDigest: string }[]; totals: { images: number; failed: number } };
    expect(merged).toMatchObject({ ok: true, command: 'mirror', totals: { images: 5, failed: 0 } });
    const junit = read(repo, 'airlock-merged/report.xml');
    expect(junit.match(/<testcase /g)).toHaveLength(5);
    expect(junit).not.toMatch(/<failure/);
    const env = read(repo, 'airlock-merged/report.env');
    expect(env).toMatch(/^AIRLOCK_IMAGES=5\nAIRLOCK_FAILED=0\n/);
    for (const [i, d] of digests.entries()) expect(env).toContain(`AIRLOCK_DIGEST_ACME_IMG_${i}_V1=${d}\n`);
    for (const line of env.trimEnd().split('\n')) expect(line).toMatch(/^[A-Za-z0-9_]+=[^"'\s]+$/);

    // sign → verify: both signatures verify; the JUnit report and dotenv say so.
    const verifyXml = read(repo, 'airlock-reports/verify.xml');
    expect(verifyXml.match(/<testcase /g)).toHaveLength(2);
    expect(verifyXml).not.toMatch(/<failure/);
    expect(read(repo, 'airlock-reports/verify.env')).toContain(`AIRLOCK_VERIFIED=2\nAIRLOCK_FAILED=0\nAIRLOCK_DIGEST_ACME_IMG_0_V1=${digests[0]}\n`);
    const signed = JSON.parse(read(repo, 'airlock-reports/sign.json')) as { ok: boolean; written: { digest: string }[] };
    expect(signed.ok).toBe(true);
    expect(signed.written.map((w) => w.digest).sort()).toEqual([digests[0], digests[1]].sort());

    // A later job got the outputs through dotenv (needs:).
    expect(read(repo, 'used.txt')).toBe(`merged=${digests[0]} images=2 verified=2\n`);
  });

  it('a failing image fails its job (and the jobs after it do not run); its JUnit report names it', async () => {
    const repo = await componentRepo({ 'images.txt': `${src.host}/acme/img-0:v1 ${dst.host}/failing/img-0:v1\n${src.host}/acme/missing:v1 ${dst.host}/failing/missing:v1\n` });
    writePipeline(repo, {
      include: [{ component: repo.component('mirror'), inputs: { ...bundleInputs(), stage: 'mirror', file: 'images.txt' } }],
      stages: ['mirror', 'after'],
      after: { stage: 'after', script: ['touch after-ran'], artifacts: { paths: ['after-ran'] } },
    });
    const r = await runPipeline(repo);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/FAIL\s+airlock-mirror/);
    expect(r.output).toMatch(/1 image failed/);
    expect(list(repo, '.').includes('after-ran')).toBe(false);
    const xml = list(repo, 'airlock-reports').filter((f) => f.endsWith('.xml'));
    expect(xml).toHaveLength(1);
    const junit = read(repo, `airlock-reports/${xml[0]}`);
    expect(junit.match(/<testcase /g)).toHaveLength(2);
    expect(junit.match(/<failure /g)).toHaveLength(1);
    expect(junit).toMatch(/<testcase name="[^"]*acme\/missing:v1[^"]*"[^>]*>\s*<failure /);
  });

  it('the bundle from a URL (generic package registry, CI_JOB_TOKEN header) runs only with the pinned SHA-256', async () => {
    const seen: { url: string; token: string | undefined }[] = [];
    const body = readFileSync(BUNDLE);
    const server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', token: req.headers['job-token'] as string | undefined });
      if (req.url === '/api/v4/projects/7/packages/generic/airlock/0.1.0/airlock.cjs') res.writeHead(200).end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const url = `${base}/api/v4/projects/7/packages/generic/airlock/0.1.0/airlock.cjs`;
      const pipeline = (sha: string) => ({
        include: [{ component: '$CI_SERVER_FQDN/$CI_PROJECT_PATH/copy@SHA', inputs: { bundle: url, 'bundle-sha256': sha, source: `${src.host}/acme/img-2:v1`, destination: `${dst.host}/fetched/img-2:v1` } }],
      });
      const repo = await componentRepo({});
      const good = JSON.parse(JSON.stringify(pipeline(bundleSha)).replace('SHA', repo.sha)) as object;
      writePipeline(repo, good);
      const ok = await runPipeline(repo, ['--variable', 'CI_JOB_TOKEN=job-token-123']);
      expect(ok.code, ok.output).toBe(0);
      expect(seen).toEqual([{ url: '/api/v4/projects/7/packages/generic/airlock/0.1.0/airlock.cjs', token: 'job-token-123' }]);
      expect(read(repo, 'airlock-reports/copy.env')).toContain(`AIRLOCK_DIGEST=${digests[2]}\n`);

      const bad = await componentRepo({});
      writePipeline(bad, JSON.parse(JSON.stringify(pipeline('0'.repeat(64))).replace('SHA', bad.sha)) as object);
      const refused = await runPipeline(bad, ['--variable', 'CI_JOB_TOKEN=job-token-123']);
      expect(refused.code).not.toBe(0);
      expect(refused.output).toMatch(/\.airlock-bundle\.cjs: FAILED/);
      expect(list(bad, 'airlock-reports')).toEqual([]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('inputs are checked against the components\' spec: unknown names (our check, as GitLab), types, options and regex (gitlab-ci-local too)', async () => {
    const repo = await componentRepo({});
    const inc = (inputs: Record<string, unknown>) => stringify({ include: [{ component: repo.component('sign'), inputs: { images: ['r.example/a:1'], ...inputs } }] });
    expect(checkComponentInputs(inc({ key: 'cosign.key' }))).toEqual([]);
    expect(checkComponentInputs(inc({ keys: 'cosign.key' }))).toEqual(['sign: unknown input "keys"']);
    expect(checkComponentInputs(inc({ 'registry-password': 'x' }))).toEqual(['sign: unknown input "registry-password"']);
    expect(checkComponentInputs(inc({ recursive: 'yes' }))).toEqual(['sign: input "recursive" must be a boolean, got "yes"']);
    expect(checkComponentInputs(inc({ format: 'pgp' }))).toEqual(['sign: input "format": "pgp" is not one of ["legacy","bundle"]']);
    expect(checkComponentInputs(inc({ 'bundle-sha256': 'abc' }))[0]).toMatch(/does not match/);
    expect(checkComponentInputs(stringify({ include: [{ component: repo.component('sign'), inputs: {} }] }))).toEqual(['sign: required input "images" is missing']);
    writePipeline(repo, inc({ format: 'pgp' }));
    const r = await runPipeline(repo, ['--list']);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/`format` input: `pgp` cannot be used because it is not in the list of allowed options/);
  });
});

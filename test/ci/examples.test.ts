import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, repoRoot, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeTempDir } from '../helpers/tmp.js';
import { checkComponentInputs, componentRepo, read, runPipeline, writePipeline } from './gitlab-ci-local.js';
import { runAction, type ActionRun } from './github-runner.js';
import { runPipelineScript } from './jenkins/harness.js';

const PASSWORD = 'examples key password';
const example = (name: string) => readFileSync(path.join(repoRoot, 'examples', name), 'utf8');

describe('examples/: the connected-side workflow and the air-gapped pipelines, run', () => {
  let src: TestRegistry;
  let internal: TestRegistry;
  let images: ImageLayout;
  let digest: string;
  let keys: string;
  let media: string;

  beforeAll(async () => {
    [src, internal] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' })]);
    images = await makeImages({ images: 1, layers: 1, layerMb: 0.02, multiarch: true, seed: 33 });
    digest = (await pushLayoutToRegistry(images.layoutDir, 'img-0', src, 'acme/app', '1.4')).digest;
    keys = makeTempDir('keys');
    const env = { COSIGN_PASSWORD: PASSWORD };
    expect((await runCli(['key', 'generate', '--output-key-prefix', path.join(keys, 'release')], { env })).code).toBe(0);
    // What the connected side carries over: the image signed as ghcr.io/acme/app, in an OCI layout.
    const signed = await runCli(['sign', '--key', path.join(keys, 'release.key'), '--identity', 'ghcr.io/acme/app', `${src.host}/acme/app:1.4`], { env });
    expect(signed.code, signed.stderr).toBe(0);
    media = path.join(makeTempDir('media'), 'media');
    const copied = await runCli(['copy', `${src.host}/acme/app:1.4`, `oci:${media}:app-1.4`]);
    expect(copied.code, copied.stderr).toBe(0);
  });
  afterAll(async () => {
    await Promise.all([src?.stop(), internal?.stop(), images?.remove()]);
  });

  it('airgap.gitlab-ci.yml: copy from the OCI layout → verify → a deploy job gets the digest (gitlab-ci-local)', async () => {
    const repo = await componentRepo({ 'keys/release.pub': readFileSync(path.join(keys, 'release.pub'), 'utf8') }, { media });
    const text = example('airgap.gitlab-ci.yml');
    const pipeline = parse(text) as { include: { component: string; inputs: Record<string, unknown> }[] };
    // This instance's component project is the throwaway repo; the bundle is the one just built.
    for (const inc of pipeline.include) {
      inc.component = inc.component.replace(/^\$CI_SERVER_FQDN\/airlock\/components\/([a-z-]+)@0\.1\.0$/, (_, n: string) => repo.component(n));
      inc.inputs.bundle = path.join(repoRoot, 'dist', 'airlock.cjs');
    }
    const yaml = stringify(pipeline);
    expect(checkComponentInputs(yaml)).toEqual([]);
    writePipeline(repo, yaml);
    const r = await runPipeline(repo, ['--variable', `REGISTRY=${internal.host}`, '--variable', `AIRLOCK_REGISTRY=${internal.host}`, '--variable', `AIRLOCK_REGISTRY_USER=${internal.username}`, '--variable', `AIRLOCK_REGISTRY_PASSWORD=${internal.password}`]);
    expect(r.code, r.output).toBe(0);
    expect(read(repo, 'deployed.txt')).toBe(`${internal.host}/acme/app:1.4@${digest}\n`);
    expect(read(repo, 'airlock-reports/verify.xml')).not.toMatch(/<failure/);
    expect(JSON.parse(read(repo, 'airlock-reports/verify.json'))).toMatchObject({ ok: true, totals: { images: 1, ok: 1 } });
  });

  it('Jenkinsfile: the same import and verification through the shared library (Groovy harness)', async () => {
    const r = await runPipelineScript(example('Jenkinsfile'), {
      files: { 'keys/release.pub': readFileSync(path.join(keys, 'release.pub'), 'utf8') },
      dirs: { media },
      env: { REGISTRY: internal.host },
      credentials: { 'registry-internal': { username: internal.username, password: internal.password } },
    });
    expect(r.error, r.stderr).toBeNull();
    expect(r.violations).toEqual([]);
    expect(r.calls.filter((c) => c.step === 'stage').map((c) => c.args)).toEqual(['Import', 'Verify', 'Deploy']);
    expect(r.calls.find((c) => c.step === 'echo')?.args).toBe(`deploying AIRLOCK_REFERENCE=${internal.host}/acme/app:1.4@${digest}`);
    expect(JSON.parse(readFileSync(path.join(r.workspace, 'airlock-reports/verify.json'), 'utf8'))).toMatchObject({ ok: true });
  });

  it('github-connected.yml: mirror then sign the mirrored digests (the action run step by step as the runner would)', async () => {
    const workflow = parse(example('github-connected.yml')) as { jobs: { mirror: { steps: { id?: string; uses?: string; with?: Record<string, string>; run?: string; env?: Record<string, string> }[] } } };
    const work = makeTempDir('workspace');
    writeFileSync(path.join(work, 'images.txt'), `${src.host}/acme/app:1.4\n`);
    const runnerTemp = makeTempDir('runner');
    const ctx: Record<string, unknown> = {
      env: { REGISTRY: `${internal.host}/airgap` },
      vars: { REGISTRY_HOST: internal.host },
      github: { actor: internal.username },
      secrets: { GITHUB_TOKEN: internal.password, COSIGN_PRIVATE_KEY: readFileSync(path.join(keys, 'release.key'), 'utf8').trimEnd(), COSIGN_PASSWORD: PASSWORD },
      runner: { temp: runnerTemp },
      steps: {},
    };
    const expr = (v: string) =>
      v.replace(/\$\{\{\s*([a-zA-Z_.-]+)\s*\}\}/g, (_, p: string) => {
        const value = p.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], ctx);
        if (typeof value !== 'string') throw new Error(`expression ${p} has no value in the test's contexts`);
        return value;
      });
    const runs: ActionRun[] = [];
    for (const step of workflow.jobs.mirror.steps) {
      if (step.uses?.startsWith('actions/checkout')) continue;
      if (step.run) {
        const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expr(v)]));
        execFileSync('bash', ['--noprofile', '--norc', '-e', '-c', step.run], { cwd: work, env: { PATH: process.env.PATH, RUNNER_TEMP: runnerTemp, ...env } });
        continue;
      }
      expect(step.uses).toMatch(/^acme\/airlock@/);
      const inputs = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, expr(String(v))]));
      const r = await runAction(inputs, work);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      runs.push(r);
      if (step.id) (ctx.steps as Record<string, unknown>)[step.id] = { outputs: r.outputs };
    }
    expect(runs).toHaveLength(2);
    expect(runs[0]!.outputs.references).toBe(`${internal.host}/airgap/acme/app:1.4@${digest}`);
    // The mirrored image verifies with the release key: signed by digest, at its new name.
    const v = await runCli(['verify', '--key', path.join(keys, 'release.pub'), `${internal.host}/airgap/acme/app:1.4`], {
      env: { AIRLOCK_REGISTRY: internal.host, AIRLOCK_REGISTRY_USER: internal.username, AIRLOCK_REGISTRY_PASSWORD: internal.password },
    });
    expect(v.code, v.stderr).toBe(0);
  });
});

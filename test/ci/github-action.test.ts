import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, type ImageLayout } from '../helpers/images.js';
import { runAction } from './github-runner.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeTempDir } from '../helpers/tmp.js';

describe('GitHub action: node dist/action.cjs as the runner runs it', () => {
  let src: TestRegistry;
  let dst: TestRegistry;
  let images: ImageLayout;
  const digests: string[] = [];
  let work: string;
  const PASSWORD = 'action key password';

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' })]);
    images = await makeImages({ images: 2, layers: 1, layerMb: 0.02, seed: 55 });
    for (const [i, tag] of images.tags.entries()) digests.push((await pushLayoutToRegistry(images.layoutDir, tag, src, `acme/app-${i}`, 'v1')).digest);
    work = makeTempDir('workspace');
    const gen = await runCli(['key', 'generate', '--output-key-prefix', path.join(work, 'cosign')], { env: { COSIGN_PASSWORD: PASSWORD } });
    expect(gen.code, gen.stderr).toBe(0);
  });
  afterAll(async () => {
    await Promise.all([src?.stop(), dst?.stop(), images?.remove()]);
  });

  const login = () => ({ registry: dst.host, 'registry-user': dst.username!, 'registry-password': dst.password! });

  it('mirror → sign → verify: credentials masked, outputs in $GITHUB_OUTPUT heredocs, a summary table', async () => {
    writeFileSync(path.join(work, 'images.txt'), digests.map((_, i) => `${src.host}/acme/app-${i}:v1`).join('\n'));
    const mirror = await runAction({ step: 'mirror', file: 'images.txt', to: `${dst.host}/mirror`, 'dry-run': 'false', ...login() }, work);
    expect(mirror.code, mirror.stdout + mirror.stderr).toBe(0);
    expect(mirror.stdout).toContain(`::add-mask::${dst.password}`);
    expect(mirror.stdout).toContain(`::add-mask::${dst.username}`);
    expect(mirror.stdout.replaceAll(`::add-mask::${dst.password}`, '')).not.toContain(dst.password);
    expect(mirror.stdout).toMatch(/::group::Airlock mirror: inputs/);
    expect(mirror.outputs.images).toBe('2');
    expect(mirror.outputs.failed).toBe('0');
    expect(JSON.parse(mirror.outputs.digests!)).toEqual({ [`${dst.host}/mirror/acme/app-0:v1`]: digests[0], [`${dst.host}/mirror/acme/app-1:v1`]: digests[1] });
    expect(mirror.summary).toContain('<h3>Airlock mirror</h3>');
    expect(mirror.summary.match(/<tr><td>/g)).toHaveLength(2);
    expect(mirror.summary).toContain(digests[0]);

    const sign = await runAction({ step: 'sign', images: `${dst.host}/mirror/acme/app-0:v1\n${dst.host}/mirror/acme/app-1:v1`, key: 'cosign.key', 'cosign-password': PASSWORD, ...login() }, work);
    expect(sign.code, sign.stdout + sign.stderr).toBe(0);
    expect(sign.stdout).toContain(`::add-mask::${PASSWORD}`);
    expect(sign.summary.match(/✅ signature/g)).toHaveLength(2);

    const verify = await runAction({ step: 'verify', image: `["${dst.host}/mirror/acme/app-0:v1", "${dst.host}/mirror/acme/app-1:v1"]`, key: 'cosign.pub', ...login() }, work);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.outputs).toMatchObject({ images: '2', verified: '2', failed: '0' });
    expect(verify.summary.match(/✅ verified/g)).toHaveLength(2);
  });

  it('a failed copy fails the step with the one-line message (::error::) and still sets outputs', async () => {
    const r = await runAction({ step: 'copy', source: `${src.host}/acme/missing:v1`, destination: `${dst.host}/x/missing:v1`, ...login() }, work);
    expect(r.code).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^::error::airlock copy: 1 image failed: .*acme\/missing:v1 → .*x\/missing:v1: /);
    expect(r.outputs).toMatchObject({ images: '1', failed: '1' });
    expect(r.summary).toContain('❌ failed');
  });

  it('bad inputs fail before the step runs: YAML 1.2 booleans only, inputs of another step, an unknown step', async () => {
    const yes = await runAction({ step: 'copy', source: 'a.example/x:1', destination: 'b.example/x:1', 'dry-run': 'yes' }, work);
    expect(yes.code).toBe(1);
    expect(yes.stdout).toMatch(/::error::input dry-run must be true or false/);
    const other = await runAction({ step: 'sign', images: 'a.example/x:1', key: 'cosign.key', to: 'r.example/mirror' }, work);
    expect(other.code).toBe(1);
    expect(other.stdout).toMatch(/::error::input to is not an input of the sign step/);
    const unknown = await runAction({ step: 'nonsense' }, work);
    expect(unknown.stdout).toMatch(/::error::unknown step "nonsense": one of (\S+, )*copy, (\S+, )*mirror, (\S+, )*verify\b/);
  });
});

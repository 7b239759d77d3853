import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyReportSchema } from '@airlock/oci';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, skopeoCopy, skopeoInspect, type ImageLayout } from '../helpers/images.js';
import { rawRequest } from '../helpers/net.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'airlock-cli-'));

describe('airlock copy (CLI, real registries, skopeo interop)', () => {
  let reg: TestRegistry;
  let images: ImageLayout;

  beforeAll(async () => {
    reg = await startRegistry();
    images = await makeImages({ images: 2, layers: 2, layerMb: 0.1, sharedBaseMb: 0.2, multiarch: true, seed: 3 });
    await pushLayoutToRegistry(images.layoutDir, 'img-0', reg, 'src/app', 'v1');
  });
  afterAll(async () => {
    await Promise.all([reg?.stop(), images?.remove()]);
  });

  it('registry → layout that skopeo reads, byte-identical', async () => {
    const dir = tmp();
    const r = await runCli(['copy', `${reg.host}/src/app:v1`, `oci:${dir}:v1`]);
    expect(r.code, r.stderr).toBe(0);
    const ours = await skopeoInspect(`oci:${dir}:v1`, { raw: true });
    const orig = await skopeoInspect(`docker://${reg.host}/src/app:v1`, { raw: true });
    expect(ours).toBe(orig);
    // skopeo can also read every platform image out of it
    const cfg = await skopeoInspect(`oci:${dir}:v1`, { extraArgs: ['--override-arch', 'arm64'] });
    expect((cfg as { Architecture: string }).Architecture).toBe('arm64');
    expect(JSON.parse(readFileSync(path.join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    // nothing temporary left behind
    expect(readdirSync(path.join(dir, 'blobs', 'sha256')).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('layout written by skopeo → registry, digests preserved; several images per layout', async () => {
    const dir = tmp();
    await skopeoCopy(`docker://${reg.host}/src/app:v1`, `oci:${dir}:first`, ['--all', '--preserve-digests']);
    await skopeoCopy(`oci:${images.layoutDir}:img-1`, `oci:${dir}:second`, ['--all', '--preserve-digests']);
    const r1 = await runCli(['copy', `oci:${dir}:first`, `${reg.host}/from-layout/a:one`, '--json']);
    expect(r1.code, r1.stderr).toBe(0);
    const report = copyReportSchema.parse(JSON.parse(r1.stdout));
    expect(report.images[0]!.destinationDigest).toBe(report.images[0]!.sourceDigest);
    expect(await skopeoInspect(`docker://${reg.host}/from-layout/a:one`, { raw: true })).toBe(await skopeoInspect(`oci:${dir}:first`, { raw: true }));
    const r2 = await runCli(['copy', `oci:${dir}:second`, `${reg.host}/from-layout/b`]);
    expect(r2.code, r2.stderr).toBe(0);
    // default destination tag is the source tag
    expect(await skopeoInspect(`docker://${reg.host}/from-layout/b:second`, { raw: true })).toBe(await skopeoInspect(`oci:${dir}:second`, { raw: true }));
  });

  it('--platform picks one platform manifest', async () => {
    const r = await runCli(['copy', '--platform', 'linux/arm64', `${reg.host}/src/app:v1`, `${reg.host}/arm/app:v1`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = copyReportSchema.parse(JSON.parse(r.stdout));
    const index = JSON.parse(await skopeoInspect(`docker://${reg.host}/src/app:v1`, { raw: true }) as string) as { manifests: { digest: string; platform: { architecture: string } }[] };
    const arm = index.manifests.find((m) => m.platform.architecture === 'arm64')!;
    expect(rep.images[0]!.destinationDigest).toBe(arm.digest);
    expect(rep.images[0]!.platforms).toEqual(['linux/arm64']);
    const bad = await runCli(['copy', '--platform', 'linux/s390x', `${reg.host}/src/app:v1`, `${reg.host}/arm/app:v2`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('available platforms: linux/amd64, linux/arm64');
  });

  it('--platform on a single-platform image: copied when it is that platform, refused naming its platform otherwise', async () => {
    const single = await makeImages({ images: 1, layers: 1, layerMb: 0.01, seed: 8 });
    try {
      const dir = tmp();
      const bad = await runCli(['copy', '--platform', 'linux/arm64', `oci:${single.layoutDir}:img-0`, `oci:${dir}/arm:v1`]);
      expect(bad.code, bad.stderr).toBe(1);
      expect(bad.stderr).toMatch(/is a single-platform image for linux\/amd64, not linux\/arm64/);
      expect(bad.stderr).toContain('available platforms: linux/amd64');
      expectNoStack(bad);
      // nothing under the destination's name
      expect(readdirSync(dir)).toEqual([]);
      const ok = await runCli(['copy', '--platform', 'linux/amd64', '--json', `oci:${single.layoutDir}:img-0`, `oci:${dir}/amd:v1`]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(copyReportSchema.parse(JSON.parse(ok.stdout)).images[0]!.platforms).toEqual(['linux/amd64']);
    } finally {
      await single.remove();
    }
  });

  it('--dry-run writes nothing and says what it would copy', async () => {
    const r = await runCli(['copy', '--dry-run', '--json', `${reg.host}/src/app:v1`, `${reg.host}/dry/app:v1`]);
    expect(r.code, r.stderr).toBe(0);
    const rep = copyReportSchema.parse(JSON.parse(r.stdout));
    expect(rep.dryRun).toBe(true);
    expect(rep.images[0]!.status).toBe('planned');
    expect(rep.images[0]!.blobs.copied).toBeGreaterThan(0);
    const head = await rawRequest(`${reg.url}/v2/dry/app/manifests/v1`, { method: 'HEAD' });
    expect(head.status).toBe(404);
  });

  it('a re-run is a no-op', async () => {
    await runCli(['copy', `${reg.host}/src/app:v1`, `${reg.host}/again/app:v1`]);
    const r = await runCli(['copy', '--json', `${reg.host}/src/app:v1`, `${reg.host}/again/app:v1`]);
    const rep = copyReportSchema.parse(JSON.parse(r.stdout));
    expect(rep.images[0]!.status).toBe('skipped');
    expect(rep.totals.bytes).toBe(0);
  });

  it('bad input: one clear line, exit 2 or 1, no stack trace, nothing written', async () => {
    const malformed = await runCli(['copy', 'Not A Ref', `${reg.host}/x/y:1`]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/invalid image reference "Not A Ref"/);
    expectNoStack(malformed);

    const unknownHost = await runCli(['copy', '--retries', '0', 'registry.invalid/a/b:1', `${reg.host}/x/y:1`]);
    expect(unknownHost.code).toBe(1);
    expect(unknownHost.stderr).toMatch(/cannot resolve registry host "registry.invalid"/);
    expectNoStack(unknownHost);

    const missingTag = await runCli(['copy', `${reg.host}/src/app:nope`, `${reg.host}/x/y:1`]);
    expect(missingTag.code).toBe(1);
    expect(missingTag.stderr).toMatch(/src\/app:nope: manifest not found/);
    expectNoStack(missingTag);

    const noLayout = await runCli(['copy', 'oci:/nonexistent/dir:v1', `${reg.host}/x/y:1`]);
    expect(noLayout.code).toBe(2);
    expect(noLayout.stderr).toMatch(/OCI layout \/nonexistent\/dir: does not exist/);

    const badPlatform = await runCli(['copy', '--platform', 'linux', `${reg.host}/src/app:v1`, `${reg.host}/x/y:1`]);
    expect(badPlatform.code).toBe(2);
    const unknownOption = await runCli(['copy', '--frobnicate', 'a', 'b']);
    expect(unknownOption.code).toBe(2);
    expect((await rawRequest(`${reg.url}/v2/x/y/manifests/1`, { method: 'HEAD' })).status).toBe(404);
  });

  it('GitLab CI gets collapsible sections, plain CI gets no progress bar', async () => {
    const r = await runCli(['copy', `${reg.host}/src/app:v1`, `${reg.host}/ci/app:v1`], { env: { CI: 'true', GITLAB_CI: 'true' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\x1b\[0Ksection_start:\d+:airlock_1\r\x1b\[0Kairlock copy: 1 image/);
    expect(r.stderr).toMatch(/section_end:\d+:airlock_1/);
    const gh = await runCli(['copy', `${reg.host}/src/app:v1`, `${reg.host}/ci/app:v1`], { env: { CI: 'true', GITHUB_ACTIONS: 'true' } });
    expect(gh.stderr).toContain('::group::airlock copy');
    expect(gh.stderr).not.toContain('\r');
  });

  it('dist/copy.cjs runs the copy step alone', async () => {
    const r = await runCli([`${reg.host}/src/app:v1`, `${reg.host}/standalone/app:v1`], { bundle: 'copy.cjs' });
    expect(r.code, r.stderr).toBe(0);
    const help = await runCli(['--help'], { bundle: 'copy.cjs' });
    expect(help.stdout).toContain('Exit codes:');
    expect(help.stdout).toContain('AIRLOCK_REGISTRY_USER');
  });
});

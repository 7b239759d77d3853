/**
 * The whole journey the product exists for, with real parts at each step:
 * connected side: sign upstream images (legacy .sig and a bundle attestation), mirror them with
 * their signatures into an OCI layout (the removable medium);
 * air-gapped side: load the layout into the private registry under another prefix, verify the
 * signatures offline against the mirror list (rewritten identities) with a policy, and fail
 * closed on an image nobody signed.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyReportSchema } from '@airlock/oci';
import { runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, skopeoInspect, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

describe('air-gap journey: sign → mirror to media → load → verify offline', () => {
  let upstream: TestRegistry;
  let airgapped: TestRegistry;
  let images: ImageLayout;
  let dir: string;
  const env = { COSIGN_PASSWORD: 'journey' };

  beforeAll(async () => {
    [upstream, airgapped] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' })]);
    images = await makeImages({ images: 3, layers: 1, layerMb: 0.05, sharedBaseMb: 0.1, multiarch: true, seed: 41 });
    await Promise.all(images.tags.map((t) => pushLayoutToRegistry(images.layoutDir, t, upstream, `acme/${t}`, '1.0')));
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-journey-'));
  });
  afterAll(async () => {
    await Promise.all([upstream?.stop(), airgapped?.stop(), images?.remove()]);
  });

  it('carries signed images across and verifies them on the other side', async () => {
    const key = path.join(dir, 'release');
    expect((await runCli(['key', 'generate', '--output-key-prefix', key], { env })).code).toBe(0);
    // connected side: the release pipeline signs two of the three images
    for (const t of ['img-0', 'img-1']) {
      const s = await runCli(['sign', '--key', `${key}.key`, `${upstream.host}/acme/${t}:1.0`], { env });
      expect(s.code, s.stderr).toBe(0);
    }
    const pred = path.join(dir, 'prov.json');
    writeFileSync(pred, JSON.stringify({ buildDefinition: { buildType: 'https://acme.example/ci' } }));
    expect((await runCli(['attest', '--format', 'bundle', '--key', `${key}.key`, '--type', 'slsaprovenance1', '--predicate', pred, `${upstream.host}/acme/img-0:1.0`], { env })).code).toBe(0);

    // mirror onto the medium (one OCI layout, several images)
    const media = path.join(dir, 'media');
    const toMedia = path.join(dir, 'to-media.txt');
    writeFileSync(toMedia, images.tags.map((t) => `${upstream.host}/acme/${t}:1.0 oci:${media}:${t}`).join('\n'));
    const m1 = await runCli(['mirror', '--file', toMedia, '--json']);
    expect(m1.code, m1.stderr).toBe(0);
    expect(copyReportSchema.parse(JSON.parse(m1.stdout)).images.map((i) => i.referrers)).toEqual([2, 1, 0]);

    // air-gapped side: load into the private registry under its own prefix, with credentials from the environment
    const creds = { AIRLOCK_REGISTRY: airgapped.host, AIRLOCK_REGISTRY_USER: airgapped.username!, AIRLOCK_REGISTRY_PASSWORD: airgapped.password! };
    const load = path.join(dir, 'load.txt');
    writeFileSync(load, images.tags.map((t) => `oci:${media}:${t} ${airgapped.host}/mirror/acme/${t}:1.0`).join('\n'));
    const m2 = await runCli(['mirror', '--file', load, '--json', '--junit', path.join(dir, 'load.xml')], { env: creds });
    expect(m2.code, m2.stderr).toBe(0);
    const loaded = copyReportSchema.parse(JSON.parse(m2.stdout));
    for (const [i, t] of images.tags.entries()) {
      // the same digest upstream and in the private registry
      const up = await skopeoInspect(`docker://${upstream.host}/acme/${t}:1.0`, { raw: true });
      const down = await skopeoInspect(`docker://${airgapped.host}/mirror/acme/${t}:1.0`, { raw: true, creds: `${airgapped.username}:${airgapped.password}` });
      expect(down).toBe(up);
      expect(loaded.images[i]!.destinationDigest).toBe(loaded.images[i]!.sourceDigest);
    }

    // verify offline, against a policy, over the list of what was loaded
    writeFileSync(
      path.join(dir, 'policy.yaml'),
      [
        'policies:',
        `  - match: ["${airgapped.host}/mirror/acme/*"]`,
        '    signatures:',
        '      allOf: [{ key: release.pub }]',
        '    identity:',
        `      rewrite: ["${upstream.host}/acme=${airgapped.host}/mirror/acme"]`,
        '',
      ].join('\n'),
    );
    const verified = path.join(dir, 'verify.txt');
    writeFileSync(verified, images.tags.slice(0, 2).map((t) => `${airgapped.host}/mirror/acme/${t}:1.0`).join('\n'));
    const ok = await runCli(['verify', '--policy', path.join(dir, 'policy.yaml'), '--file', verified, '--junit', path.join(dir, 'verify.xml')], { env: creds });
    expect(ok.code, ok.stderr).toBe(0);
    const att = await runCli(['verify-attestation', '--key', `${key}.pub`, '--type', 'slsaprovenance1', `${airgapped.host}/mirror/acme/img-0:1.0`], { env: creds });
    expect(att.code, att.stderr).toBe(0);

    // the unsigned image is refused: exit 1, named in the JUnit report
    writeFileSync(verified, images.tags.map((t) => `${airgapped.host}/mirror/acme/${t}:1.0`).join('\n'));
    const bad = await runCli(['verify', '--policy', path.join(dir, 'policy.yaml'), '--file', verified, '--junit', path.join(dir, 'verify.xml')], { env: creds });
    expect(bad.code).toBe(1);
    expect(readFileSync(path.join(dir, 'verify.xml'), 'utf8')).toMatch(/failures="1"/);
    expect(bad.stderr).toContain('img-2');
  });
});

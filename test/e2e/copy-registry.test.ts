import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLocation, runTransfers, type Registries } from '@airlock/oci';
import { makeImages, pushLayoutToRegistry, skopeoCopy, skopeoInspect, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { registriesFor } from '../helpers/lib.js';

describe('registry to registry copy', () => {
  let src: TestRegistry;
  let dst: TestRegistry;
  let images: ImageLayout;
  let multi: ImageLayout;
  let regs: Registries;

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    [images, multi] = await Promise.all([
      makeImages({ images: 2, layers: 2, layerMb: 0.2, sharedBaseMb: 0.5 }),
      makeImages({ images: 1, layers: 2, layerMb: 0.1, multiarch: true, seed: 7 }),
    ]);
    await pushLayoutToRegistry(images.layoutDir, 'img-0', src, 'app/one', 'v1');
    await pushLayoutToRegistry(images.layoutDir, 'img-1', src, 'app/two', 'v1');
    await pushLayoutToRegistry(multi.layoutDir, 'img-0', src, 'app/multi', 'v1');
    regs = registriesFor([src, dst]);
  });
  afterAll(async () => {
    await regs?.close();
    await Promise.all([src?.stop(), dst?.stop(), images?.remove(), multi?.remove()]);
  });

  it('copies a multi-platform index byte-identical to what skopeo copy --all produces', async () => {
    const [r] = await runTransfers([{ source: parseLocation(`${src.host}/app/multi:v1`), destination: parseLocation(`${dst.host}/mirror/multi:v1`) }], { registries: regs });
    expect(r!.error).toBeUndefined();
    expect(r!.status).toBe('copied');
    expect(r!.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    await skopeoCopy(`docker://${src.host}/app/multi:v1`, `docker://${dst.host}/skopeo/multi:v1`, ['--all', '--preserve-digests']);
    const ours = await skopeoInspect(`docker://${dst.host}/mirror/multi:v1`, { raw: true });
    const theirs = await skopeoInspect(`docker://${dst.host}/skopeo/multi:v1`, { raw: true });
    const orig = await skopeoInspect(`docker://${src.host}/app/multi:v1`, { raw: true });
    expect(ours).toBe(orig);
    expect(ours).toBe(theirs);
    expect(r!.sourceDigest).toBe(r!.destinationDigest);
  });

  it('skips an image already at the destination, and mounts blobs shared across repositories', async () => {
    const jobs = [
      { source: parseLocation(`${src.host}/app/one:v1`), destination: parseLocation(`${dst.host}/m/one:v1`) },
    ];
    const [first] = await runTransfers(jobs, { registries: regs });
    expect(first!.status).toBe('copied');
    expect(first!.blobs.copied).toBe(4); // config + base + 2 layers
    const [again] = await runTransfers(jobs, { registries: regs });
    expect(again!.status).toBe('skipped');
    expect(again!.bytes).toBe(0);
    // app/two shares the base layer with app/one, already in m/one on the destination.
    const [two] = await runTransfers(
      [
        { source: parseLocation(`${dst.host}/m/one:v1`), destination: parseLocation(`${dst.host}/m/one-copy:v1`) },
        { source: parseLocation(`${src.host}/app/two:v1`), destination: parseLocation(`${dst.host}/m/two:v1`) },
      ],
      { registries: regs },
    );
    expect(two!.blobs.mounted).toBe(4);
    expect(two!.blobs.copied).toBe(0);
  });

  it('reports a missing tag as a failed image without stopping the others', async () => {
    const results = await runTransfers(
      [
        { source: parseLocation(`${src.host}/app/one:nope`), destination: parseLocation(`${dst.host}/x/nope:v1`) },
        { source: parseLocation(`${src.host}/app/two:v1`), destination: parseLocation(`${dst.host}/x/two:v1`) },
      ],
      { registries: regs },
    );
    expect(results[0]!.status).toBe('failed');
    expect(results[0]!.error!.code).toBe('NOT_FOUND');
    expect(results[0]!.error!.message).toContain('app/one:nope');
    expect(results[1]!.status).toBe('copied');
  });

  it('a destination pinned by digest must match the source, or nothing is written', async () => {
    const head = await regs.client(src.host).headManifest('app/one', 'v1');
    const ok = await runTransfers([{ source: parseLocation(`${src.host}/app/one:v1`), destination: parseLocation(`${dst.host}/pinned/one@${head!.digest}`, { defaultTag: false }) }], { registries: regs });
    expect(ok[0]!.status, ok[0]!.error?.message).toBe('copied');
    const wrong = `sha256:${'0'.repeat(64)}`;
    const bad = await runTransfers([{ source: parseLocation(`${src.host}/app/two:v1`), destination: parseLocation(`${dst.host}/pinned/two@${wrong}`, { defaultTag: false }) }], { registries: regs });
    expect(bad[0]!.status).toBe('failed');
    expect(bad[0]!.error!.code).toBe('DIGEST_MISMATCH');
    expect(bad[0]!.blobs.copied).toBe(0);
    expect(await regs.client(dst.host).listTags('pinned/two')).toEqual([]);
  });
});

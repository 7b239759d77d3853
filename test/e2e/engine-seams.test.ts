import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DefaultCredentials,
  LayoutRepo,
  parseLocation,
  Registries,
  RegistryRepo,
  runTransfers,
  Transport,
  openSink,
  openSource,
  type ContentSink,
} from '@airlock/oci';
import { makeImages, type ImageLayout } from '../helpers/images.js';
import { makeTempDir } from '../helpers/tmp.js';

const registries = new Registries(new Transport({ retry: { retries: 0 } }), new DefaultCredentials());

describe('engine seams: one switch opens endpoints, the engine finishes every sink it opened', () => {
  let images: ImageLayout;
  beforeAll(async () => {
    images = await makeImages({ images: 3, layers: 1, layerMb: 0.01, seed: 5 });
  });
  afterAll(() => images.remove());

  it('openSource/openSink choose the endpoint by location kind', async () => {
    const src = await openSource(parseLocation(`oci:${images.layoutDir}:img-0`), { registries });
    expect(src).toBeInstanceOf(LayoutRepo);
    const dst = await openSink(parseLocation('127.0.0.1:1/a/b:1'), { registries });
    expect(dst).toBeInstanceOf(RegistryRepo);
    // Capabilities are declared on the interface, not found by duck typing.
    const sink: ContentSink = dst;
    expect(typeof sink.listTags).toBe('function');
    expect(typeof sink.referrers).toBe('function');
  });

  it('closes each sink once after its images; a failed close fails exactly the images sent to it', async () => {
    const good = makeTempDir('seams-good');
    const bad = makeTempDir('seams-bad');
    const closed: string[] = [];
    const proto = LayoutRepo.prototype;
    const original = proto.close;
    proto.close = async function (this: LayoutRepo) {
      await original.call(this);
      closed.push(path.resolve(this.layout.dir));
      if (path.resolve(this.layout.dir) === path.resolve(bad)) throw new Error('ENOSPC: no space left on device');
    };
    try {
      const jobs = images.tags.map((t, i) => ({
        source: parseLocation(`oci:${images.layoutDir}:${t}`),
        destination: parseLocation(`oci:${i === 1 ? bad : good}:${t}`),
      }));
      const results = await runTransfers(jobs, { registries, concurrency: 2 });
      expect(results.map((r) => r.status)).toEqual(['copied', 'failed', 'copied']);
      expect(results[1]!.error?.message).toMatch(/finishing oci:.*failed: ENOSPC/);
      // One writer per layout, closed once each (two images share `good`).
      expect(closed.sort()).toEqual([path.resolve(bad), path.resolve(good)].sort());
      const index = JSON.parse(readFileSync(path.join(good, 'index.json'), 'utf8')) as { manifests: unknown[] };
      expect(index.manifests).toHaveLength(2);
    } finally {
      proto.close = original;
    }
    expect(existsSync(path.join(good, 'oci-layout'))).toBe(true);
  });
});

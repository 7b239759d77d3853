import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { makeImages, skopeoInspect, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

// Loopback registries may be reached over plain HTTP without asking (as docker and crane do). Any
// other host is HTTPS with verified certificates unless --insecure-registry names it. This suite
// runs a real registry over plain HTTP on the machine's first non-loopback IPv4 address.

function nonLoopbackIPv4(): string | undefined {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

const address = nonLoopbackIPv4();

describe.skipIf(!address)(`--insecure-registry for a plain-HTTP registry on ${address ?? '(no non-loopback address)'}`, () => {
  let remote: TestRegistry;
  let images: ImageLayout;

  beforeAll(async () => {
    remote = await startRegistry({ bindAddress: address! });
    images = await makeImages({ images: 1, layers: 1, layerMb: 0.05, sharedBaseMb: 0.05, seed: 11 });
  });
  afterAll(async () => {
    await remote?.stop();
    await images?.remove();
  });

  it('is refused without the flag (HTTPS is required), with one line saying how to allow it; nothing is written', async () => {
    const src = `oci:${images.layoutDir}:img-0`;
    for (const extra of [[], ['--insecure-registry', '127.0.0.1:1']]) {
      const r = await runCli(['copy', '--retries', '0', ...extra, src, `${remote.host}/plain/app:v1`]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(remote.host);
      expect(r.stderr).toContain('--insecure-registry');
      expectNoStack(r);
    }
    const tags = await fetch(`http://${remote.host}/v2/plain/app/tags/list`);
    expect(tags.status).toBe(404);
  });

  it('works over plain HTTP for the host the flag names, digests preserved', async () => {
    const r = await runCli(['copy', '--insecure-registry', remote.host, '--json', `oci:${images.layoutDir}:img-0`, `${remote.host}/plain/app:v1`]);
    expect(r.code, r.stderr).toBe(0);
    const raw = await skopeoInspect(`docker://${remote.host}/plain/app:v1`, { raw: true });
    const digest = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
    const index = JSON.parse(readFileSync(path.join(images.layoutDir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(digest).toBe(index.manifests[0]!.digest);
    expect((JSON.parse(r.stdout) as { images: { destinationDigest: string }[] }).images[0]!.destinationDigest).toBe(digest);
  });
});

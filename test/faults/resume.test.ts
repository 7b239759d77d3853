import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyReportSchema, parseLocation, runTransfers } from '@airlock/oci';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../helpers/fault-proxy.js';
import { makeImages, repoRoot, type ImageLayout } from '../helpers/images.js';
import { registriesFor } from '../helpers/lib.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { imageProblem, rehashStorage } from '../helpers/storage.js';

/**
 * Interrupted without warning (SIGKILL) in the middle of a 15-image mirror, then run again: the
 * re-run completes with every digest correct and sends again NOTHING that had already arrived —
 * no blob upload (monolithic PUT ?digest=, or PATCH of a session closed with that digest) for a
 * blob the repository already held, tagged or not. What each repository held before the re-run is
 * read from the registry's storage (`repositories/<repo>/_layers`), what was sent from the proxy.
 */

const IMAGES = 15;

/** (repository, digest) pairs the registry links: the blobs each repository holds. */
function heldBlobs(reg: TestRegistry): Set<string> {
  const root = path.join(reg.dir, 'data', 'docker', 'registry', 'v2', 'repositories');
  const held = new Set<string>();
  const walk = (dir: string, repo: string[]) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name === '_layers') {
        const blobs = path.join(dir, '_layers', 'sha256');
        if (existsSync(blobs)) for (const hex of readdirSync(blobs)) if (existsSync(path.join(blobs, hex, 'link'))) held.add(`${repo.join('/')}@sha256:${hex}`);
      } else if (!e.name.startsWith('_')) walk(path.join(dir, e.name), [...repo, e.name]);
    }
  };
  walk(root, []);
  return held;
}

/** The blob uploads seen by the proxy, as (repository, digest) pairs: PUT ?digest= and the PATCHes of that session. */
function uploads(requests: ProxiedRequest[]): { pair: string; method: string }[] {
  const session = (p: string) => /\/blobs\/uploads\/([^/?]+)/.exec(p)?.[1];
  const digestOf = new Map<string, string>();
  const out: { pair: string; method: string }[] = [];
  for (const r of requests) {
    const m = /^\/v2\/(.+)\/blobs\/uploads\/[^?]+\?.*digest=(sha256(?::|%3A)[a-f0-9]{64})/.exec(r.path);
    if (r.method === 'PUT' && m) {
      const pair = `${m[1]}@${decodeURIComponent(m[2]!)}`;
      digestOf.set(session(r.path)!, pair);
      if (r.forwarded > 0 || Number.isNaN(r.forwarded)) out.push({ pair, method: 'PUT' });
      else out.push({ pair, method: 'PUT (close)' });
    }
  }
  for (const r of requests) if (r.method === 'PATCH' && r.forwarded > 0) out.push({ pair: digestOf.get(session(r.path) ?? '') ?? `unknown session ${r.path}`, method: 'PATCH' });
  return out;
}

describe('SIGKILL in the middle of a mirror, then the same mirror again', () => {
  let src: TestRegistry;
  let dst: TestRegistry;
  let proxy: FaultProxy;
  let layout: ImageLayout;
  const expected = new Map<string, string>();

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    // A distant destination (20 ms per request) so that the kill lands with images in flight.
    proxy = await startFaultProxy({ upstream: dst.host, latencyMs: 20 });
    layout = await makeImages({ images: IMAGES, layers: 2, layerMb: 0.2, sharedBaseMb: 0.2, seed: 15 });
    const index = JSON.parse(readFileSync(path.join(layout.layoutDir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    for (const m of index.manifests) expected.set(m.annotations['org.opencontainers.image.ref.name']!, m.digest);
    const regs = registriesFor([src]);
    const seeded = await runTransfers(
      layout.tags.map((t) => ({ source: parseLocation(`oci:${layout.layoutDir}:${t}`), destination: parseLocation(`${src.host}/src/${t}:v1`) })),
      { registries: regs },
    );
    await regs.close();
    expect(seeded.every((r) => r.status === 'copied')).toBe(true);
  });
  afterAll(async () => {
    await Promise.all([proxy?.close(), src?.stop(), dst?.stop(), layout?.remove()]);
  });

  it('the re-run completes, every digest correct, and re-sends zero blobs that had arrived', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'airlock-resume-'));
    const list = path.join(d, 'images.txt');
    writeFileSync(list, layout.tags.map((t) => `${src.host}/src/${t}:v1 ${proxy.host}/mirror/${t}:v1`).join('\n'));
    const args = ['mirror', '--file', list, '--concurrency', '4', '--report', path.join(d, 'report.json'), '--junit', path.join(d, 'junit.xml')];

    // Run, and kill -9 once 6 of the 15 images (40 %) are done.
    const killed = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; done: number }>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'airlock.cjs'), ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_CONFIG: '/nonexistent-airlock-test' } });
      let done = 0;
      child.stderr.on('data', (b: Buffer) => {
        done += (b.toString().match(/^✔ /gm) ?? []).length;
        if (done >= 6 && child.exitCode === null) child.kill('SIGKILL');
      });
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, done }));
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.done).toBeLessThan(IMAGES);
    // Killed without a chance to write anything: no report at all (never a partial one).
    expect(existsSync(path.join(d, 'report.json'))).toBe(false);

    const before = heldBlobs(dst);
    const tagged = layout.tags.filter((t) => existsSync(path.join(dst.dir, 'data', 'docker', 'registry', 'v2', 'repositories', 'mirror', t, '_manifests', 'tags', 'v1')));
    // The interruption left repositories holding blobs without their tag: the case a re-run must not redo.
    const untaggedWithBlobs = layout.tags.filter((t) => !tagged.includes(t) && [...before].some((p) => p.startsWith(`mirror/${t}@`)));
    expect(untaggedWithBlobs.length, `tagged: ${tagged.join(',')}`).toBeGreaterThan(0);

    proxy.requests.length = 0;
    const again = await runCli(args);
    expectNoStack(again);
    expect(again.code, again.stderr).toBe(0);
    const report = copyReportSchema.parse(JSON.parse(readFileSync(path.join(d, 'report.json'), 'utf8')));
    expect(report.images.filter((i) => i.status === 'skipped').length).toBeGreaterThanOrEqual(tagged.length);
    for (const t of layout.tags) expect(await imageProblem(dst, `mirror/${t}`, 'v1', expected.get(t)!), t).toBeUndefined();
    expect((await rehashStorage(dst)).corrupt).toEqual([]);

    const sent = uploads(proxy.requests).filter((u) => u.method !== 'PUT (close)');
    const resent = sent.filter((u) => before.has(u.pair));
    expect(resent).toEqual([]);
    // Nor a blob that had arrived in another repository of the run (the shared base): mounted.
    const digestsBefore = new Set([...before].map((p) => p.split('@')[1]));
    expect(sent.filter((u) => digestsBefore.has(u.pair.split('@')[1]))).toEqual([]);
    expect(report.totals.blobs.mounted).toBeGreaterThan(0);
    // Something was left to do, and it was done.
    expect(sent.length).toBeGreaterThan(0);
  });
});

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyReportSchema } from '@airlock/oci';
import { expectNoStack, runCli, type CliResult } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, repoRoot, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startSlowProxy, type SlowProxy } from '../helpers/slow-proxy.js';
import { makeTempDir } from '../helpers/tmp.js';

/**
 * SIGINT and SIGTERM in the middle of a copy: a registry behind a proxy that trickles blob bodies
 * keeps the copy mid-blob; the signal must cancel it, write the summary and the reports marking the
 * interruption, exit 130/143, and leave no partial layout under the final name and no temp file.
 */

const REGISTRY_PASSWORD = 'sig-S3cret-registry-pw-5521';

interface Running {
  done: Promise<CliResult & { ms: number }>;
  kill(sig: NodeJS.Signals): void;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}, cwd = repoRoot): Running {
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'airlock.cjs'), ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_CONFIG: '/nonexistent-airlock-test', ...env },
    cwd,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const began = Date.now();
  let signalled = 0;
  const done = new Promise<CliResult & { ms: number }>((resolve) =>
    child.on('close', (code, sig) => resolve({ code: code ?? (sig ? -1 : -2), stdout, stderr, ms: Date.now() - (signalled || began) })),
  );
  // A hung child must not hang the suite.
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void done.then(() => clearTimeout(guard));
  return {
    done,
    kill: (sig) => {
      signalled ||= Date.now();
      child.kill(sig);
    },
  };
}

/** Every path below `dir` whose name marks it temporary. */
function temps(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      if (n.name.includes('.tmp-')) out.push(path.join(d, n.name));
      if (n.isDirectory()) walk(path.join(d, n.name));
    }
  };
  walk(dir);
  return out;
}

describe('SIGINT/SIGTERM mid-copy', () => {
  let reg: TestRegistry;
  let proxy: SlowProxy;
  let images: ImageLayout;

  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd' });
    images = await makeImages({ images: 2, layers: 2, layerMb: 0.3, seed: 11 });
    // skopeo pushes with the registry's credentials; the proxy passes them through.
    await pushLayoutToRegistry(images.layoutDir, 'img-0', reg, 'src/a', 'v1');
    await pushLayoutToRegistry(images.layoutDir, 'img-1', reg, 'src/b', 'v1');
  }, 120_000);
  afterAll(async () => {
    await Promise.all([reg?.stop(), images?.remove(), proxy?.close()]);
  });

  const creds = () => ({ AIRLOCK_REGISTRY: proxy.host, AIRLOCK_REGISTRY_USER: reg.username!, AIRLOCK_REGISTRY_PASSWORD: reg.password!, COSIGN_PASSWORD: REGISTRY_PASSWORD });

  it('SIGINT during copy → layout: exit 130, reports mark it INTERRUPTED, no layout under the final name, no temp file', async () => {
    proxy = await startSlowProxy(reg.host, { bytesPerTick: 2048, tickMs: 100 });
    const work = makeTempDir('sigint');
    const dst = path.join(work, 'media', 'layout');
    const report = path.join(work, 'reports', 'copy.json');
    const junit = path.join(work, 'reports', 'copy.xml');
    const run = start(['copy', `${proxy.host}/src/a:v1`, `oci:${dst}:v1`, '--report', report, '--junit', junit], creds());
    await proxy.blobStarted;
    await new Promise((r) => setTimeout(r, 300));
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.ms, 'cancelled promptly, not after the blobs finished').toBeLessThan(15_000);
    expectNoStack(r);
    expect(r.stderr).toMatch(/SIGINT received: stopping/);
    expect(r.stderr).toMatch(/0\/1 images ok/);
    expect(r.stderr).toMatch(/interrupted by SIGINT: 1 image not finished/);
    const rep = copyReportSchema.parse(JSON.parse(readFileSync(report, 'utf8')));
    expect(rep.ok).toBe(false);
    expect(rep.images[0]!.status).toBe('failed');
    expect(rep.images[0]!.error).toMatchObject({ code: 'INTERRUPTED', message: 'interrupted by SIGINT before it finished' });
    expect(readFileSync(junit, 'utf8')).toMatch(/<failure message="interrupted by SIGINT before it finished"/);
    // The new layout was never renamed into place: no directory without index.json under its name.
    expect(existsSync(dst)).toBe(false);
    expect(temps(work)).toEqual([]);
    // The secret never shows.
    expect(r.stderr + r.stdout + readFileSync(report, 'utf8')).not.toContain(reg.password!);

    // Run again without the throttle: it completes, into the same place.
    const again = await runCli(['copy', `${reg.host}/src/a:v1`, `oci:${dst}:v1`], { env: { AIRLOCK_REGISTRY: reg.host, AIRLOCK_REGISTRY_USER: reg.username!, AIRLOCK_REGISTRY_PASSWORD: reg.password! } });
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(path.join(dst, 'index.json'))).toBe(true);
    expect(temps(work)).toEqual([]);
    await proxy.close();
  });

  it('SIGTERM during mirror → registry and into an existing layout: exit 143, finished images kept, the rest INTERRUPTED', async () => {
    proxy = await startSlowProxy(reg.host, { bytesPerTick: 2048, tickMs: 100 });
    const work = makeTempDir('sigterm');
    // An existing layout already holding one image: written in place, it must stay a valid layout.
    const dst = path.join(work, 'layout');
    const first = await runCli(['copy', `${reg.host}/src/b:v1`, `oci:${dst}:kept`], { env: { AIRLOCK_REGISTRY: reg.host, AIRLOCK_REGISTRY_USER: reg.username!, AIRLOCK_REGISTRY_PASSWORD: reg.password! } });
    expect(first.code, first.stderr).toBe(0);
    const list = path.join(work, 'list.txt');
    // The third image fails on its own (no such tag) before the signal: it keeps its own error.
    writeFileSync(list, `${proxy.host}/src/a:v1 oci:${dst}:new\n${proxy.host}/src/b:v1 ${proxy.host}/mirror/b:v1\n${proxy.host}/src/missing:v9 ${proxy.host}/mirror/m:v1\n`);
    const report = path.join(work, 'mirror.json');
    const junit = path.join(work, 'mirror.xml');
    const run = start(['mirror', '-f', list, '--report', report, '--junit', junit, '--concurrency', '3'], creds());
    await proxy.blobStarted;
    await new Promise((r) => setTimeout(r, 300));
    run.kill('SIGTERM');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(143);
    expectNoStack(r);
    expect(r.stderr).toMatch(/interrupted by SIGTERM: \d images? not finished/);
    const rep = copyReportSchema.parse(JSON.parse(readFileSync(report, 'utf8')));
    expect(rep.images).toHaveLength(3);
    for (const img of rep.images.slice(0, 2)) if (img.status === 'failed') expect(img.error?.code).toBe('INTERRUPTED');
    expect(rep.images.some((i) => i.error?.code === 'INTERRUPTED')).toBe(true);
    expect(rep.images[2]!.error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/missing:v9: manifest not found/) });
    expect(readFileSync(junit, 'utf8')).toMatch(/interrupted by SIGTERM before it finished/);
    // The layout is whole: index.json lists what it held (and nothing half-written); no temp files.
    const index = JSON.parse(readFileSync(path.join(dst, 'index.json'), 'utf8')) as { manifests: { annotations?: Record<string, string> }[] };
    expect(index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'])).toContain('kept');
    expect(temps(work)).toEqual([]);
    await proxy.close();
  });

  it('SIGTERM during verify: exit 143, the image being checked is INTERRUPTED in the reports, not failed by its rule', async () => {
    const work = makeTempDir('sigverify');
    const direct = { AIRLOCK_REGISTRY: reg.host, AIRLOCK_REGISTRY_USER: reg.username!, AIRLOCK_REGISTRY_PASSWORD: reg.password!, COSIGN_PASSWORD: REGISTRY_PASSWORD };
    const key = path.join(work, 'k');
    expect((await runCli(['key', 'generate', '--output-key-prefix', key], { env: direct })).code).toBe(0);
    const signed = await runCli(['sign', '--key', `${key}.key`, `${reg.host}/src/b:v1`], { env: direct });
    expect(signed.code, signed.stderr).toBe(0);
    // The signature's payload blob trickles through the proxy: the check is mid-way when the signal comes.
    proxy = await startSlowProxy(reg.host, { bytesPerTick: 16, tickMs: 200 });
    const report = path.join(work, 'verify.json');
    const junit = path.join(work, 'verify.xml');
    const run = start(['verify', '--key', `${key}.pub`, `${proxy.host}/src/b:v1`, '--report', report, '--junit', junit], creds());
    await proxy.blobStarted;
    await new Promise((r) => setTimeout(r, 300));
    run.kill('SIGTERM');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(143);
    expectNoStack(r);
    expect(r.stderr).toMatch(/interrupted by SIGTERM: 1 image not verified \(marked INTERRUPTED in the reports\)/);
    const rep = JSON.parse(readFileSync(report, 'utf8')) as { ok: boolean; images: { ok: boolean; failures: string[]; error?: { code: string; message: string } }[] };
    expect(rep.ok).toBe(false);
    expect(rep.images[0]!.error).toMatchObject({ code: 'INTERRUPTED', message: 'interrupted by SIGTERM before it finished' });
    expect(rep.images[0]!.failures).toEqual(['interrupted by SIGTERM before it finished']);
    expect(readFileSync(junit, 'utf8')).toMatch(/interrupted by SIGTERM before it finished/);
    await proxy.close();
    // Without the throttle the same check passes: the signature was never the problem.
    const again = await runCli(['verify', '--key', `${key}.pub`, `${reg.host}/src/b:v1`], { env: direct });
    expect(again.code, again.stderr).toBe(0);
  });

  it('a second signal exits at once, removing the temp files it was writing', async () => {
    proxy = await startSlowProxy(reg.host, { bytesPerTick: 1024, tickMs: 200 });
    const work = makeTempDir('sig2');
    const dst = path.join(work, 'layout');
    const run = start(['copy', `${proxy.host}/src/a:v1`, `oci:${dst}:v1`], creds());
    await proxy.blobStarted;
    run.kill('SIGINT');
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.ms).toBeLessThan(10_000);
    expectNoStack(r);
    expect(existsSync(dst)).toBe(false);
    expect(temps(work)).toEqual([]);
    await proxy.close();
  });

  it('a writer opening a layout reclaims stale temp files of dead writers, never a live one', async () => {
    const work = makeTempDir('reclaim');
    const dst = path.join(work, 'layout');
    const env = { AIRLOCK_REGISTRY: reg.host, AIRLOCK_REGISTRY_USER: reg.username!, AIRLOCK_REGISTRY_PASSWORD: reg.password! };
    expect((await runCli(['copy', `${reg.host}/src/b:v1`, `oci:${dst}:b`], { env })).code).toBe(0);
    // A process that has exited: its PID names the dead writer.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 4);
    const blobs = path.join(dst, 'blobs', 'sha256');
    const old = new Date(Date.now() - 2 * 3600 * 1000);
    const file = (p: string, mtime = old) => {
      writeFileSync(p, 'partial');
      utimesSync(p, mtime, mtime);
      return p;
    };
    const staleDead = file(path.join(blobs, `${'a'.repeat(64)}.tmp-${dead}-${host}-0123456789ab`));
    const staleIndex = file(path.join(dst, `index.json.tmp-${dead}-${host}-0123456789ab`));
    const staleOldFormat = file(path.join(blobs, `${'b'.repeat(64)}.tmp-0123456789ab`));
    // This test process is alive: its temp file is another live writer's.
    const live = file(path.join(blobs, `${'c'.repeat(64)}.tmp-${process.pid}-${host}-0123456789ab`));
    // Another host's (a shared directory): its writer cannot be asked, and it is recent.
    const otherHost = file(path.join(blobs, `${'d'.repeat(64)}.tmp-${dead}-${host === 'ffff' ? 'eeee' : 'ffff'}-0123456789ab`), new Date());
    const recentOldFormat = file(path.join(blobs, `${'e'.repeat(64)}.tmp-abcdef012345`), new Date());
    // A staging directory of a new layout whose writer died.
    mkdirSync(path.join(work, `.fresh.tmp-${dead}-${host}-0123456789ab`, 'blobs', 'sha256'), { recursive: true });
    const staleStaging = path.join(work, `.fresh.tmp-${dead}-${host}-0123456789ab`);
    utimesSync(staleStaging, old, old);

    expect((await runCli(['copy', `${reg.host}/src/a:v1`, `oci:${dst}:a`], { env })).code).toBe(0);
    expect((await runCli(['copy', `${reg.host}/src/a:v1`, `oci:${path.join(work, 'fresh')}:a`], { env })).code).toBe(0);
    for (const p of [staleDead, staleIndex, staleOldFormat, staleStaging]) expect(existsSync(p), p).toBe(false);
    for (const p of [live, otherHost, recentOldFormat]) expect(existsSync(p), p).toBe(true);
    expect(existsSync(path.join(work, 'fresh', 'index.json'))).toBe(true);
  });
});

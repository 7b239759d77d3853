/**
 * An interrupted load resumes: `bundle load` is SIGKILLed after the registry has stored two blobs
 * (a counting proxy in front of a real docker-registry sees the uploads complete), and the re-run
 * uploads exactly the blobs that are missing, never one the registry already has.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeImages, repoRoot, skopeoInspect, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

interface Upload {
  digest: string;
  status: number;
}

/** A loopback HTTP proxy to the registry that records every completed blob upload (PUT ?digest=). */
async function countingProxy(target: TestRegistry, onUpload: (u: Upload, all: Upload[]) => void) {
  const uploads: Upload[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const up = http.request({ host: '127.0.0.1', port: Number(target.host.split(':')[1]), method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (r) => {
      const digest = url.searchParams.get('digest');
      const isBlobPut = req.method === 'PUT' && /\/blobs\/uploads\//.test(url.pathname) && digest;
      if (isBlobPut) {
        const u = { digest: digest!, status: r.statusCode ?? 0 };
        uploads.push(u);
        onUpload(u, uploads);
      }
      // Location headers name the registry: keep the client talking to the proxy.
      const headers = { ...r.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`http://${target.host}`, '');
      res.writeHead(r.statusCode ?? 502, headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, uploads, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('airlock bundle load: killed halfway, a re-run pushes only what is missing', () => {
  let registry: TestRegistry;
  let images: ImageLayout;
  let dir: string;
  let bundle: string;

  beforeAll(async () => {
    registry = await startRegistry();
    images = await makeImages({ images: 1, layers: 6, layerMb: 0.5, seed: 9 });
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-bundle-resume-'));
    writeFileSync(path.join(dir, 'airlock.yaml'), `images:\n  - source: oci:${images.layoutDir}:img-0\n    destination: registry.example.com/acme/app:1.0\n`);
    bundle = path.join(dir, 'b.tar');
    const c = await runCli(['bundle', 'create', '-f', path.join(dir, 'airlock.yaml'), '-o', bundle]);
    expect(c.code, c.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([registry?.stop(), images?.remove()]);
  });

  it('resumes', async () => {
    let child: ChildProcess | undefined;
    const proxy = await countingProxy(registry, (u, all) => {
      if (u.status === 201 && all.filter((x) => x.status === 201).length === 2) child?.kill('SIGKILL');
    });
    try {
      const args = [path.join(repoRoot, 'dist', 'airlock.cjs'), 'bundle', 'load', bundle, '--to', `${proxy.host}/mirror`, '--concurrency', '1'];
      const env = { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_CONFIG: '/nonexistent-airlock-test' };
      const killed = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child = spawn(process.execPath, args, { env, stdio: 'ignore' });
        child.on('exit', (code, signal) => resolve({ code, signal }));
      });
      expect(killed.signal).toBe('SIGKILL');
      const first = proxy.uploads.filter((u) => u.status === 201).map((u) => u.digest);
      expect(first).toHaveLength(2);
      proxy.uploads.length = 0;

      const again = await runCli(['bundle', 'load', bundle, '--to', `${proxy.host}/mirror`, '--concurrency', '1', '--json']);
      expect(again.code, again.stderr).toBe(0);
      const second = proxy.uploads.map((u) => u.digest);
      // config + 6 layers = 7 blobs: the 2 stored before the kill are not sent again
      expect(second).toHaveLength(7 - 2);
      expect(second.filter((d) => first.includes(d))).toEqual([]);
      expect(await skopeoInspect(`docker://${registry.host}/mirror/acme/app:1.0`, { raw: true })).toBe(await skopeoInspect(`oci:${images.layoutDir}:img-0`, { raw: true }));
    } finally {
      child?.kill('SIGKILL');
      await proxy.close();
    }
  });
});

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyReportSchema } from '@airlock/oci';
import { expectNoStack, type CliResult } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { repoRoot } from '../helpers/images.js';
import { buildImage, pushRaw, type BuiltManifest } from '../helpers/oci-server.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * Every way a copy can fail ends the same way: exit code 1, the summary printed with the failure
 * named, and the --report and --junit files written, naming it too. One table, real registries,
 * real file systems:
 *
 * - disk full: the layout is on a 256 KiB tmpfs (ENOSPC) — needs root to mount, as here;
 * - permission denied: the layout's blobs directory is immutable (`chattr +i`: root ignores modes)
 *   or, for a non-root user, read-only (`chmod a-w`);
 * - registry refusing: an htpasswd registry given the wrong password (401);
 * - network gone: the destination stops answering (its port closed) after the first image;
 * - digest mismatch: every read of a layer comes back with a byte flipped.
 *
 * Interrupted (SIGKILL) runs cannot write anything themselves: test/faults/resume.test.ts checks
 * that nothing partial is left and that the re-run finishes without sending anything twice.
 */

const ENV = { AIRLOCK_RETRY_BASE_MS: '2', AIRLOCK_RETRY_MAX_MS: '20' };
const isRoot = process.getuid?.() === 0;

interface Run extends CliResult {
  dir: string;
}

/** Run the CLI with --report/--junit in a fresh dir; `onLine` sees stderr lines as they come. */
function runWithReports(args: string[], env: Record<string, string> = {}, onLine?: (line: string) => void, retries = 2): Promise<Run> {
  const dir = mkdtempSync(path.join(tmpdir(), 'airlock-kinds-'));
  const full = [...args, '--retries', String(retries), '--report', path.join(dir, 'report.json'), '--junit', path.join(dir, 'junit.xml')];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'airlock.cjs'), ...full], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_CONFIG: '/nonexistent-airlock-test', REGISTRY_AUTH_FILE: '/nonexistent-airlock-test/auth.json', ...ENV, ...env },
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop()!;
      for (const l of lines) onLine?.(l);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, dir }));
  });
}

interface Case {
  name: string;
  /** Prepare the fault; returns the arguments (without reports) and what to undo afterwards. */
  setup(): Promise<{ args: string[]; env?: Record<string, string>; onLine?: (line: string) => void; undo?: () => Promise<void> | void; retries?: number }>;
  code: string;
  message: RegExp;
  hint?: RegExp;
  /** How many of the images fail (default: all). */
  failed?: (n: number) => boolean;
}

describe('failure kinds: exit 1, summary and reports, whatever failed', () => {
  let src: TestRegistry;
  let auth: TestRegistry;
  let dst: TestRegistry;
  const undo: Array<() => Promise<void> | void> = [];
  const images: BuiltManifest[] = [];

  beforeAll(async () => {
    [src, auth, dst] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' }), startRegistry()]);
    for (let i = 0; i < 4; i++) {
      // img0's layers are larger than the socket buffers: a source read left unconsumed (the disk
      // filled up under it) then holds its connection open, which once kept the run from ending.
      const img = buildImage(`kinds-${i}`, { layers: 2, layerSize: i === 0 ? 4 * 1024 * 1024 : 300 * 1024 });
      images.push(img);
      await pushRaw(src.url, `src/img${i}`, img, 'v1');
    }
  });
  afterAll(async () => {
    for (const u of undo.reverse()) await u();
    await Promise.all([src?.stop(), auth?.stop(), dst?.stop()]);
  });

  const layoutDir = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'airlock-kinds-layout-'));
    undo.push(() => rmSync(d, { recursive: true, force: true }));
    return d;
  };

  const cases: Case[] = [
    {
      name: 'disk full (ENOSPC on a 256 KiB tmpfs)',
      async setup() {
        const mnt = layoutDir();
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
        return { args: ['copy', `${src.host}/src/img0:v1`, `oci:${mnt}/layout:v1`], undo: () => execFileSync('umount', [mnt]) };
      },
      code: 'LAYOUT',
      message: /: writing blob sha256:[a-f0-9]{64} failed: ENOSPC \(no space left on device\)$/,
      hint: /disk is full/,
    },
    {
      name: 'permission denied (the layout’s blobs directory cannot be written)',
      async setup() {
        const dir = path.join(layoutDir(), 'layout');
        const blobs = path.join(dir, 'blobs', 'sha256');
        mkdirSync(blobs, { recursive: true });
        writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
        if (isRoot) execFileSync('chattr', ['+i', blobs]);
        else execFileSync('chmod', ['a-w', blobs]);
        const restore = () => (isRoot ? execFileSync('chattr', ['-i', blobs]) : execFileSync('chmod', ['u+w', blobs]));
        return { args: ['copy', `${src.host}/src/img1:v1`, `oci:${dir}:v1`], undo: restore };
      },
      code: 'LAYOUT',
      message: /: writing blob sha256:[a-f0-9]{64} failed: (EPERM|EACCES) \((operation not permitted|permission denied)\)$/,
      hint: /not writable|refuses writes/,
    },
    {
      name: 'registry refusing (401: wrong password)',
      async setup() {
        return {
          args: ['copy', `${src.host}/src/img2:v1`, `${auth.host}/dst/img2:v1`],
          env: { AIRLOCK_REGISTRY: auth.host, AIRLOCK_REGISTRY_USER: auth.username!, AIRLOCK_REGISTRY_PASSWORD: 'not-the-password' },
        };
      },
      code: 'UNAUTHORIZED',
      message: /^127\.0\.0\.1:\d+ rejected the credentials$/,
      hint: /check the user and password/,
    },
    {
      name: 'network gone (the destination’s port closes after the first image)',
      async setup() {
        const proxy: FaultProxy = await startFaultProxy({ upstream: dst.host, latencyMs: 40 });
        undo.push(() => proxy.close());
        const d = mkdtempSync(path.join(tmpdir(), 'airlock-kinds-list-'));
        const list = path.join(d, 'images.txt');
        writeFileSync(list, images.map((_, i) => `${src.host}/src/img${i}:v1 ${proxy.host}/gone/img${i}:v1`).join('\n'));
        return {
          args: ['mirror', '--file', list, '--concurrency', '1'],
          onLine: (l) => {
            if (l.startsWith('✔ ')) void proxy.close();
          },
        };
      },
      code: 'NETWORK',
      message: /ECONNREFUSED/,
      failed: (n) => n >= 1 && n < 4,
    },
    {
      // The symptom reported first: exit 0 with no summary and no report behind such a proxy.
      name: 'registry overloaded (30 % of its answers are 503, no retries allowed)',
      async setup() {
        const proxy = await startFaultProxy({ upstream: dst.host, rates: { error: 0.3 }, seed: 30 });
        undo.push(() => proxy.close());
        const d = mkdtempSync(path.join(tmpdir(), 'airlock-kinds-list-'));
        const list = path.join(d, 'images.txt');
        writeFileSync(list, images.map((_, i) => `${src.host}/src/img${i}:v1 ${proxy.host}/busy/img${i}:v1`).join('\n'));
        return { args: ['mirror', '--file', list], retries: 0 };
      },
      code: 'REGISTRY',
      message: /: HTTP 50[023](: UNAVAILABLE: injected by the fault proxy)?$/,
      hint: /try again, or raise --retries/,
      failed: (n) => n >= 1,
    },
    {
      name: 'digest mismatch (a byte flipped in every read of the layers)',
      async setup() {
        const proxy = await startFaultProxy({ upstream: src.host, rates: { flip: 1 }, only: (r) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.path) });
        undo.push(() => proxy.close());
        return { args: ['copy', `${proxy.host}/src/img3:v1`, `${dst.host}/mismatch/img3:v1`] };
      },
      code: 'DIGEST_MISMATCH',
      message: /^127\.0\.0\.1:\d+\/src\/img3@sha256:[a-f0-9]{64}: content digest sha256:[a-f0-9]{64} does not match sha256:[a-f0-9]{64} \(fetched 3 times\)$/,
      hint: /corrupted or tampered/,
    },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (name, c) => {
    if (name.startsWith('disk full') && !isRoot) throw new Error('mounting a tmpfs needs root; run this suite as root (as CI does)');
    const s = await c.setup();
    if (s.undo) undo.push(s.undo);
    const r = await runWithReports(s.args, s.env, s.onLine, s.retries);
    expectNoStack(r);
    expect(r.code, r.stderr).toBe(1);

    const report = copyReportSchema.parse(JSON.parse(readFileSync(path.join(r.dir, 'report.json'), 'utf8')));
    const failed = report.images.filter((i) => i.status === 'failed');
    expect(c.failed ? c.failed(failed.length) : failed.length === report.images.length, JSON.stringify(report.images.map((i) => i.status))).toBe(true);
    expect(report.ok).toBe(false);
    expect(report.totals.failed).toBe(failed.length);
    for (const f of failed) {
      expect(f.error?.code, f.error?.message).toBe(c.code);
      expect(f.error!.message).toMatch(c.message);
      if (c.hint) expect(f.error!.hint).toMatch(c.hint);
      // The summary names it, with the same words as the report.
      expect(r.stderr).toContain(`✘ ${f.source} → ${f.destination}: ${f.error!.message}`);
    }
    expect(r.stderr).toMatch(new RegExp(`${report.images.length - failed.length}/${report.images.length} images ok .* in `));
    expect(r.stderr).toContain(`${failed.length} image${failed.length === 1 ? '' : 's'} failed:`);

    const junit = readFileSync(path.join(r.dir, 'junit.xml'), 'utf8');
    expect(junit).toContain(`failures="${failed.length}"`);
    expect((junit.match(/<failure message=/g) ?? []).length).toBe(failed.length);
    expect(existsSync(path.join(r.dir, 'junit.xml'))).toBe(true);
  });
});

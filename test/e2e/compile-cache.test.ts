import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/images.js';
import { makeTempDir } from '../helpers/tmp.js';

// Every dist bundle starts through scripts/compile-cache.cjs: its program is compiled with a V8
// code cache from an earlier run. These runs use the real bundles.

const MAGIC = Buffer.from('AIRLOCK-V8-CACHE-2\n');

function cacheDir(): string {
  const dir = makeTempDir('ccache');
  chmodSync(dir, 0o700);
  return dir;
}

function cacheFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.bin')).map((f) => path.join(dir, f));
}

function checksumValid(file: string): boolean {
  const data = readFileSync(file);
  const rest = data.subarray(MAGIC.length + 32);
  return data.subarray(0, MAGIC.length).equals(MAGIC) && rest.length > 0 && createHash('sha256').update(rest).digest().equals(data.subarray(MAGIC.length, MAGIC.length + 32));
}

/** The commands whose code the cache holds (its first line after the checksum). */
function cachedCommands(file: string): string[] {
  const rest = readFileSync(file).subarray(MAGIC.length + 32);
  return rest.subarray(0, rest.indexOf(10)).toString().split(',');
}

describe('bundles start with a V8 code cache', () => {
  it('the first run of a command writes its checksummed cache, later runs use it; each command has its own', async () => {
    const dir = cacheDir();
    const env = { AIRLOCK_COMPILE_CACHE: dir };
    const first = await runCli(['--version'], { env });
    expect(first.code).toBe(0);
    const files = cacheFiles(dir);
    expect(files).toHaveLength(1);
    const file = files[0]!;
    expect(path.basename(file)).toMatch(/^airlock-[0-9a-f]{24}-default\.bin$/);
    expect(checksumValid(file)).toBe(true);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(cachedCommands(file)).toEqual(['default']);

    // A cache that was used is left alone; a rejected one would be replaced (renamed into place).
    const ino = statSync(file).ino;
    expect((await runCli(['--version'], { env })).stdout.trim()).toBe(first.stdout.trim());
    expect(statSync(file).ino).toBe(ino);

    // Another command writes its own cache once, and leaves the first one alone: a start does not
    // load the code of commands it does not run.
    const mirror = await runCli(['mirror', '--help'], { env });
    expect(mirror.code).toBe(0);
    expect(mirror.stdout).toMatch(/Usage: airlock mirror/);
    expect(statSync(file).ino).toBe(ino);
    const mirrorFile = cacheFiles(dir).find((f) => f !== file)!;
    expect(path.basename(mirrorFile)).toBe(path.basename(file).replace(/-default\.bin$/, '-mirror.bin'));
    expect(checksumValid(mirrorFile)).toBe(true);
    expect(cachedCommands(mirrorFile)).toEqual(['mirror']);
    const mirrorIno = statSync(mirrorFile).ino;
    expect((await runCli(['mirror', '--help'], { env })).code).toBe(0);
    expect(statSync(mirrorFile).ino).toBe(mirrorIno);
    expect(cacheFiles(dir)).toHaveLength(2);

    // Each bundle has its own caches.
    expect((await runCli(['--help'], { env, bundle: 'copy.cjs' })).code).toBe(0);
    expect(cacheFiles(dir).map((f) => path.basename(f).replace(/-.*/, '')).sort()).toEqual(['airlock', 'airlock', 'copy']);
  });

  it('at most 24 commands of one build keep a cache (a positional word is not a command)', async () => {
    const dir = cacheDir();
    const env = { AIRLOCK_COMPILE_CACHE: dir };
    expect((await runCli(['--version'], { env })).code).toBe(0);
    const [file] = cacheFiles(dir);
    const prefix = path.basename(file!).replace(/default\.bin$/, '');
    // Other builds' caches do not count: a build whose key begins with a letter included.
    for (let i = 0; i < 30; i++) writeFileSync(path.join(dir, `airlock-${'e'.repeat(24)}-other${i}.bin`), 'x');
    await runCli(['mirror', '--help'], { env });
    expect(cacheFiles(dir).some((f) => f.endsWith(`${prefix}mirror.bin`))).toBe(true);
    for (let i = 0; i < 22; i++) writeFileSync(path.join(dir, `${prefix}word${i}.bin`), 'x');
    await runCli(['verify', '--help'], { env });
    expect(cacheFiles(dir).filter((f) => path.basename(f).startsWith(prefix))).toHaveLength(24);
    expect(cacheFiles(dir).some((f) => f.endsWith('-verify.bin'))).toBe(false);
  });

  it('a copy of the same bundle elsewhere has its own cache, and its stack traces name its own file', () => {
    const dir = cacheDir();
    const work = makeTempDir('ccpath');
    const require = createRequire(import.meta.url);
    const { bundleText } = require(path.join(repoRoot, 'scripts/compile-cache.cjs')) as { bundleText: (name: string, program: string, note: string) => string };
    const text = bundleText('where', 'process.stdout.write(new Error("x").stack.split("\\n")[1]);\n', 'test');
    const files = ['a', 'b'].map((d) => {
      mkdirSync(path.join(work, d));
      writeFileSync(path.join(work, d, 'where.cjs'), text);
      return path.join(work, d, 'where.cjs');
    });
    const env = { PATH: process.env.PATH, AIRLOCK_COMPILE_CACHE: dir };
    const at = (f: string) => execFileSync(process.execPath, [f], { env, encoding: 'utf8' });
    expect(at(files[0]!)).toContain(files[0]);
    expect(at(files[0]!)).toContain(files[0]); // from the cache
    expect(at(files[1]!)).toContain(files[1]);
    expect(cacheFiles(dir)).toHaveLength(2);
  });

  it('a corrupted cache is detected by its checksum and replaced; V8 is never handed it', async () => {
    const dir = cacheDir();
    const env = { AIRLOCK_COMPILE_CACHE: dir };
    expect((await runCli(['--version'], { env })).code).toBe(0);
    const file = cacheFiles(dir)[0]!;
    const data = readFileSync(file);
    // Flip bytes in the middle of the code: V8 itself would abort the process on this.
    for (let i = Math.floor(data.length / 2); i < Math.floor(data.length / 2) + 256; i++) data[i]! ^= 0x5a;
    writeFileSync(file, data);
    const ino = statSync(file).ino;

    const r = await runCli(['--version'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(statSync(file).ino).not.toBe(ino);
    expect(checksumValid(file)).toBe(true);

    // A truncated or foreign file is ignored the same way.
    writeFileSync(file, 'not a cache');
    expect((await runCli(['--version'], { env })).code).toBe(0);
    expect(checksumValid(file)).toBe(true);
  });

  it('writing a cache removes those of the same bundle not written for 30 days, and nothing else', async () => {
    const dir = cacheDir();
    const old = new Date(Date.now() - 40 * 24 * 3600 * 1000);
    const files = {
      oldBuild: `airlock-${'a'.repeat(24)}.bin`,
      oldCommand: `airlock-${'e'.repeat(24)}-mirror.bin`,
      oldTmp: `airlock-${'b'.repeat(24)}.bin.4242.tmp`,
      recentBuild: `airlock-${'c'.repeat(24)}.bin`,
      otherBundle: `copy-${'d'.repeat(24)}.bin`,
      notOurs: 'notes.txt',
    };
    for (const f of Object.values(files)) {
      writeFileSync(path.join(dir, f), 'x');
      if (f !== files.recentBuild) utimesSync(path.join(dir, f), old, old);
    }
    expect((await runCli(['--version'], { env: { AIRLOCK_COMPILE_CACHE: dir } })).code).toBe(0);
    const left = readdirSync(dir);
    expect(left).not.toContain(files.oldBuild);
    expect(left).not.toContain(files.oldCommand);
    expect(left).not.toContain(files.oldTmp);
    expect(left).toEqual(expect.arrayContaining([files.recentBuild, files.otherBundle, files.notOurs]));
    expect(cacheFiles(dir).filter((f) => path.basename(f).startsWith('airlock-') && checksumValid(f))).toHaveLength(1);
  });

  it('a directory others can write to is not used, and AIRLOCK_COMPILE_CACHE=off writes nothing', async () => {
    const shared = cacheDir();
    chmodSync(shared, 0o777);
    const r = await runCli(['--version'], { env: { AIRLOCK_COMPILE_CACHE: shared } });
    expect(r.code).toBe(0);
    expect(cacheFiles(shared)).toEqual([]);

    const tmp = cacheDir();
    const off = await runCli(['--version'], { env: { AIRLOCK_COMPILE_CACHE: 'off', TMPDIR: tmp } });
    expect(off.code).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
    // By default the cache goes to a per-user directory in TMPDIR, private to the user.
    expect((await runCli(['--version'], { env: { TMPDIR: tmp } })).code).toBe(0);
    const [sub] = readdirSync(tmp);
    expect(sub).toMatch(/^airlock-compile-cache-/);
    expect(statSync(path.join(tmp, sub!)).mode & 0o777).toBe(0o700);
    expect(cacheFiles(path.join(tmp, sub!))).toHaveLength(1);
  });

  it('a damaged bundle says so in one line (exit 2) instead of running part of a program', async () => {
    const dir = makeTempDir('bundle');
    const whole = readFileSync(path.join(repoRoot, 'dist', 'copy.cjs'));
    const cases: Record<string, Buffer> = {
      truncated: whole.subarray(0, Math.floor(whole.length * 0.7)),
      'bit flip': Buffer.from(whole),
      'no program': Buffer.from(whole.toString('latin1').replace('\n//@airlock-program\n', '\n//\n'), 'latin1'),
    };
    cases['bit flip']![whole.length - 5000]! ^= 0x01;
    for (const [what, bytes] of Object.entries(cases)) {
      writeFileSync(path.join(dir, 'copy.cjs'), bytes);
      const r = await runCli(['--help'], { bundle: path.join(dir, 'copy.cjs') });
      expect(r.code, what).toBe(2);
      expect(r.stderr.trim(), what).toMatch(/^error: .*copy\.cjs is damaged \(.+\); copy it again/);
      expect(r.stdout, what).toBe('');
      expectNoStack(r);
    }
    // The same file, undamaged, runs from anywhere.
    copyFileSync(path.join(repoRoot, 'dist', 'copy.cjs'), path.join(dir, 'copy.cjs'));
    expect((await runCli(['--help'], { bundle: path.join(dir, 'copy.cjs') })).code).toBe(0);
  });

  it('start-up never hangs: any trouble with the cache directory or file falls back to a plain start at once', async () => {
    /** Run `airlock --version` with a hard deadline: a hang is killed and reported, not waited for. */
    const version = (env: NodeJS.ProcessEnv) =>
      new Promise<{ code: number | null; stdout: string; ms: number }>((resolve) => {
        const started = Date.now();
        const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'airlock.cjs'), '--version'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 8000, killSignal: 'SIGKILL' });
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.on('close', (code) => resolve({ code, stdout, ms: Date.now() - started }));
      });
    const dir = cacheDir();
    writeFileSync(path.join(dir, 'a-file'), 'x');
    const cases: Record<string, string> = {
      // Node 20's recursive mkdirSync spins at 100 % CPU forever on these
      'under /proc': '/proc/x',
      'deep under /proc': '/proc/self/nonexistent/a/b',
      'under /sys': '/sys/airlock-cache',
      'a regular file': path.join(dir, 'a-file'),
      'under a regular file': path.join(dir, 'a-file', 'sub'),
      '/dev/null': '/dev/null',
    };
    const results = await Promise.all(Object.entries(cases).map(async ([what, setting]) => [what, await version({ AIRLOCK_COMPILE_CACHE: setting })] as const));
    for (const [what, r] of results) {
      expect(r.code, `${what}: exit ${String(r.code)} after ${r.ms} ms`).toBe(0);
      expect(r.stdout.trim(), what).toMatch(/^\d+\.\d+\.\d+$/);
    }
    // A deep directory that does not exist yet is created (private to the user) and used.
    const deep = path.join(dir, 'x', 'y', 'z');
    expect((await version({ AIRLOCK_COMPILE_CACHE: deep })).code).toBe(0);
    expect(cacheFiles(deep)).toHaveLength(1);
    // A FIFO (or anything not a regular file) where the cache file should be is not read: reading it would block.
    const file = cacheFiles(deep)[0]!;
    rmSync(file);
    execFileSync('mkfifo', [file]);
    const fifo = await version({ AIRLOCK_COMPILE_CACHE: deep });
    expect(fifo.code, `FIFO: exit ${String(fifo.code)} after ${fifo.ms} ms`).toBe(0);
  });
});

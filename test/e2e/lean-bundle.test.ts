import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/images.js';
import { makeTempDir } from '../helpers/tmp.js';

// scripts/lean.mjs: what the bundles leave out or load late, so that every CI job starts sooner.
// These run the real dist bundles.

const dist = (f: string) => path.join(repoRoot, 'dist', f);

/** The built-in modules a bundle run loads (Node's own module list, read at exit). */
function builtinsLoadedBy(args: string[]): string[] {
  const dir = makeTempDir('lean');
  const hook = path.join(dir, 'modules.cjs');
  const out = path.join(dir, 'modules.txt');
  writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)).join('\\n')));\n`);
  execFileSync(process.execPath, ['-r', hook, ...args], { env: { PATH: process.env.PATH, AIRLOCK_COMPILE_CACHE: 'off' }, encoding: 'utf8' });
  return readFileSync(out, 'utf8').split('\n');
}

describe('lean bundles', () => {
  it('a start loads neither http2, child_process nor zlib; a run that needs zlib gets it on first use', () => {
    const version = builtinsLoadedBy([dist('airlock.cjs'), '--version']);
    expect(version).toContain('net'); // the list is read as it should be
    for (const m of ['http2', 'child_process', 'zlib']) expect(version, m).not.toContain(m);
    // `copy --help` loads the whole copy step (registry client, docker archives, credential helpers).
    const help = builtinsLoadedBy([dist('airlock.cjs'), 'copy', '--help']);
    for (const m of ['http2', 'child_process', 'zlib']) expect(help, m).not.toContain(m);
  });

  it('a late-loaded built-in behaves as the module itself: calls, `in`, keys', async () => {
    const { lazyBuiltins } = (await import(path.join(repoRoot, 'scripts/lean.mjs'))) as { lazyBuiltins: (p: string) => string };
    const program = lazyBuiltins('"use strict";var z=require("node:zlib");module.exports={gz:(b)=>z.gzipSync(b),has:"gzipSync" in z,keys:Object.keys(z).length,loadedAtStart:loaded()};');
    expect(program).toContain('__airlockLazy("node:zlib")');
    const seen: string[] = [];
    const req = createRequire(import.meta.url);
    const mod = { exports: {} as { gz: (b: Buffer) => Buffer; has: boolean; keys: number; loadedAtStart: boolean } };
    runInNewContext(program, { module: mod, require: (id: string) => (seen.push(id), req(id)), loaded: () => seen.length > 0 });
    expect(mod.exports.has).toBe(true);
    expect(mod.exports.keys).toBeGreaterThan(10);
    expect(gunzipSync(mod.exports.gz(Buffer.from('air'))).toString()).toBe('air');
    expect(seen).toEqual(['node:zlib']); // once, however often it is used
  });

  it("zod's other locales and iconv-lite are not in the bundles, nor in their SBOM", () => {
    const bundle = readFileSync(dist('airlock.cjs'), 'utf8');
    // zod's German message (the bundle escapes non-ASCII as \xNN) and iconv-lite's code page tables;
    // zod's English one stays.
    for (const s of ['Ung\\xFCltige Eingabe', 'windows1251']) expect(bundle, s).not.toContain(s);
    expect(bundle).toContain('Invalid input');
    const spdx = JSON.parse(readFileSync(dist('airlock.spdx.json'), 'utf8')) as { packages: { name: string }[] };
    const names = spdx.packages.map((p) => p.name);
    expect(names).toContain('zod');
    expect(names).not.toContain('iconv-lite');
  });
});

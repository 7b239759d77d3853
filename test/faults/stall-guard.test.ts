import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyReportSchema } from '@airlock/oci';
import { makeImages, repoRoot, type ImageLayout } from '../helpers/images.js';

/**
 * The last line of defence in copy/mirror: if Node runs out of work while the run is still pending
 * (a promise nobody will settle — the way a failed copy once exited 0 with no summary), the run
 * fails instead: exit 1, the summary, the report. A real bug cannot be summoned on demand, so a
 * small program runs the real `executeTransfers` with the layout sink patched to never answer:
 * a blob write that never settles (the images are failed), then a sink close that never settles
 * (the run itself never returns; every image is failed, even one that reported copied).
 */

const ENTRY = `
import { LayoutRepo, parseLocation } from '@airlock/oci';
import { transferFlags } from '@airlock/step-kit';
import { executeTransfers } from './packages/copy/src/run.ts';
const [mode, src, dst, report] = process.argv.slice(2);
if (mode === 'blob') LayoutRepo.prototype.pushBlob = () => new Promise(() => {});
if (mode === 'close') LayoutRepo.prototype.close = () => new Promise(() => {});
const code = await executeTransfers('copy', [{ source: parseLocation(src), destination: parseLocation(dst, { defaultTag: false }) }], transferFlags({ report }));
process.exitCode = code;
`;

describe('a run that would stall with nothing left to wait for', () => {
  let work: string;
  let program: string;
  let images: ImageLayout;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'airlock-stall-'));
    program = path.join(work, 'stall.mjs');
    const result = await build({
      stdin: { contents: ENTRY, resolveDir: repoRoot, loader: 'ts', sourcefile: 'stall-entry.ts' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    writeFileSync(program, result.outputFiles[0]!.text);
    images = await makeImages({ images: 1, layers: 1, layerMb: 0.05, seed: 3 });
  });
  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await images?.remove();
  });

  it.each([
    ['a blob write that never settles', 'blob'],
    ['a destination that never finishes closing', 'close'],
  ])('%s: exit 1, the summary and the report name it', (_name, mode) => {
    const out = path.join(work, mode);
    const report = path.join(work, `${mode}.json`);
    const r = spawnSync(process.execPath, [program, mode, `oci:${images.layoutDir}:img-0`, `oci:${out}:v1`, report], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/0\/1 images ok .* in /);
    expect(r.stderr).toMatch(/1 image failed:\n.*the copy stopped making progress/);
    expect(existsSync(report)).toBe(true);
    const rep = copyReportSchema.parse(JSON.parse(readFileSync(report, 'utf8')));
    expect(rep.ok).toBe(false);
    expect(rep.images.map((i) => [i.status, i.error?.code])).toEqual([['failed', 'ABORTED']]);
  });
});

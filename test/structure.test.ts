import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/images.js';

/** The package boundaries the CI-wrapper generator and the bundles rely on. */
const packagesDir = path.join(repoRoot, 'packages');
/** Step packages: those declaring an `./inputs` entry (step-kit declares the shared definitions). */
const STEPS = readdirSync(packagesDir).filter((p) => {
  if (p === 'step-kit') return false;
  const pkg = JSON.parse(readFileSync(path.join(packagesDir, p, 'package.json'), 'utf8')) as { exports?: Record<string, string> };
  return !!pkg.exports?.['./inputs'];
});

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const importsOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm)].map((m) => m[1]!);

describe('package boundaries', () => {
  it('no package imports past another package’s declared entry points', () => {
    const bad: string[] = [];
    for (const pkg of readdirSync(packagesDir)) {
      for (const f of sources(path.join(packagesDir, pkg, 'src'))) {
        for (const spec of importsOf(f)) if (/^@airlock\/[^/]+\/src\//.test(spec)) bad.push(`${path.relative(repoRoot, f)}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('no step package imports another step package (shared code lives in a library package)', () => {
    const bad: string[] = [];
    for (const step of STEPS) {
      for (const f of sources(path.join(packagesDir, step, 'src'))) {
        for (const spec of importsOf(f)) {
          const m = /^@airlock\/([^/]+)/.exec(spec);
          if (m && STEPS.includes(m[1]!) && m[1] !== step) bad.push(`${path.relative(repoRoot, f)}: ${spec}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('every step declares ./inputs, and its inputs module imports only definitions', () => {
    expect(STEPS).toEqual(expect.arrayContaining(['copy', 'sign', 'verify']));
    for (const step of STEPS) {
      const pkg = JSON.parse(readFileSync(path.join(packagesDir, step, 'package.json'), 'utf8')) as { exports?: Record<string, string> };
      expect(pkg.exports?.['./inputs'], step).toBe('./src/inputs.ts');
      const specs = importsOf(path.join(packagesDir, step, 'src', 'inputs.ts'));
      expect(specs.every((s) => s === '@airlock/step-kit/inputs' || s.startsWith('./')), `${step}: ${specs.join(', ')}`).toBe(true);
    }
    expect(importsOf(path.join(packagesDir, 'step-kit', 'src', 'defs.ts'))).toEqual([]);
  });
});

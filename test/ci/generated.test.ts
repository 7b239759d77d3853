import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/images.js';
import { makeTempDir } from '../helpers/tmp.js';
import { copyStep, mirrorStep, reportMergeStep } from '@airlock/copy';
import { signStep } from '@airlock/sign/inputs';
import { verifyStep } from '@airlock/verify/inputs';

const REGENERATE = 'the generated CI wrappers are stale: run node scripts/generate-wrappers.mjs and commit the result';

describe('generated CI wrappers', () => {
  const out = makeTempDir('generated');
  const written = execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'generate-wrappers.mjs'), '--out', out], { encoding: 'utf8' }).trim().split('\n');

  it('every committed generated file is what the generator writes from the StepDefs now (templates, vars, action.yml, dist/action.cjs)', () => {
    expect(written).toEqual(expect.arrayContaining(['action.yml', 'dist/action.cjs', 'gitlab-templates/README.md', 'gitlab-templates/.gitlab-ci.yml', 'jenkins/vars/airlockCopy.groovy', 'gitlab-templates/templates/verify.yml']));
    const stale = written.filter((rel) => readFileSync(path.join(out, rel), 'utf8') !== readFileSync(path.join(repoRoot, rel), 'utf8'));
    expect(stale, REGENERATE).toEqual([]);
  });

  it('no generated file is left over from a step that is gone', () => {
    const dirs = ['gitlab-templates/templates', 'jenkins/vars'];
    const committed = dirs.flatMap((d) => readdirSync(path.join(repoRoot, d)).map((f) => `${d}/${f}`)).filter((f) => !f.endsWith('airlockExecute.groovy'));
    expect(committed.sort(), REGENERATE).toEqual(written.filter((f) => dirs.some((d) => f.startsWith(`${d}/`))).sort());
  });

  it('each component declares exactly its step\'s wrapper inputs (plus job-prefix, stage, job-image, bundle, bundle-sha256), and action.yml their union and outputs', () => {
    const steps = { copy: copyStep, mirror: mirrorStep, 'report-merge': reportMergeStep, sign: signStep, verify: verifyStep };
    const fixed = new Set(['report', 'json-out', 'junit', 'dotenv', 'shard']);
    const action = parse(readFileSync(path.join(repoRoot, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown>; outputs: Record<string, unknown>; runs: Record<string, string> };
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/action.cjs' });
    for (const [name, step] of Object.entries(steps)) {
      const spec = parse(readFileSync(path.join(repoRoot, 'gitlab-templates/templates', `${name}.yml`), 'utf8').split(/^---$/m)[0]!) as { spec: { inputs: Record<string, unknown>; description?: unknown } };
      expect(spec.spec.description).toBeUndefined();
      const own = step.inputs.filter((i) => !i.secret && !i.cliOnly && !fixed.has(i.name)).map((i) => i.name);
      const extra = ['job-prefix', 'stage', 'job-image', 'bundle', 'bundle-sha256', ...(['mirror', 'sync'].includes(name) ? ['parallel'] : []), ...(name === 'report-merge' ? ['needs'] : [])];
      expect(Object.keys(spec.spec.inputs).sort()).toEqual([...extra, ...own].sort());
      for (const i of step.inputs.filter((x) => !x.cliOnly && !['shard', 'dotenv'].includes(x.name))) expect(action.inputs, i.name).toHaveProperty([i.name]);
      for (const o of step.outputs ?? []) expect(action.outputs).toHaveProperty([o.name]);
    }
    expect(Object.keys(action.inputs)).toContain('dry-run');
  });
});

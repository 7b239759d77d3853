import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/images.js';
import { makeTempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';

/** The pinned gitlab-ci-local (npm devDependency, exactly 4.73.0: later ones crash on Node 20). */
export const GCL = path.join(repoRoot, 'node_modules', 'gitlab-ci-local', 'dist', 'index.js');

export interface ComponentRepo {
  dir: string;
  sha: string;
  /** `$CI_SERVER_FQDN/$CI_PROJECT_PATH/<name>@<HEAD sha>`: the only form gitlab-ci-local resolves locally. */
  component(name: string): string;
}

function git(dir: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(requireTool('git'), args, { cwd: dir, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }, (err, stdout, stderr) =>
      err ? reject(new Error(`git ${args.join(' ')}: ${stderr}`)) : resolve(stdout.trim()),
    ),
  );
}

/**
 * A throwaway git repository holding the generated components (templates/ at its root, as a
 * component project has them) and the given files, with an `origin` remote and one commit.
 */
export async function componentRepo(files: Record<string, string>, dirs: Record<string, string> = {}): Promise<ComponentRepo> {
  requireTool('rsync');
  const dir = makeTempDir('gitlab');
  cpSync(path.join(repoRoot, 'gitlab-templates', 'templates'), path.join(dir, 'templates'), { recursive: true });
  cpSync(path.join(repoRoot, 'gitlab-templates', 'README.md'), path.join(dir, 'README.md'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  for (const [name, from] of Object.entries(dirs)) cpSync(from, path.join(dir, name), { recursive: true });
  await git(dir, ['init', '-q', '-b', 'main']);
  await git(dir, ['remote', 'add', 'origin', 'https://gitlab.airlock.test/airlock/components.git']);
  await git(dir, ['add', '-A']);
  await git(dir, ['commit', '-qm', 'components']);
  const sha = await git(dir, ['rev-parse', 'HEAD']);
  return { dir, sha, component: (name) => `$CI_SERVER_FQDN/$CI_PROJECT_PATH/${name}@${sha}` };
}

/** Commit the pipeline file (gitlab-ci-local reads the working tree, but keep HEAD honest). */
export function writePipeline(repo: ComponentRepo, pipeline: unknown): void {
  writeFileSync(path.join(repo.dir, '.gitlab-ci.yml'), typeof pipeline === 'string' ? pipeline : JSON.stringify(pipeline, null, 2));
}

export interface GclResult {
  code: number;
  output: string;
}

/** Run the pipeline with the shell executor, each job in its own directory (parallel shards). */
export function runPipeline(repo: ComponentRepo, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<GclResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [GCL, '--force-shell-executor', '--shell-isolation', '--no-color', '--timestamps=false', ...args],
      { cwd: repo.dir, env: { PATH: process.env.PATH, HOME: repo.dir, DOCKER_CONFIG: '/nonexistent-airlock-test', ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

/** A file the pipeline left in the repository (artifacts are copied back to the source). */
export function read(repo: ComponentRepo, rel: string): string {
  return readFileSync(path.join(repo.dir, rel), 'utf8');
}
export function exists(repo: ComponentRepo, rel: string): boolean {
  return existsSync(path.join(repo.dir, rel));
}
export function list(repo: ComponentRepo, rel: string): string[] {
  return existsSync(path.join(repo.dir, rel)) ? readdirSync(path.join(repo.dir, rel)).sort() : [];
}

type SpecInput = { type?: string; default?: unknown; options?: unknown[]; regex?: string };

/**
 * Check a pipeline's `include: component:` inputs against the components' `spec: inputs`, as GitLab
 * does and gitlab-ci-local does not: an unknown input, a missing required one, a wrong type, a value
 * outside `options` or not matching `regex` is an error. Returns the errors (none: valid).
 */
export function checkComponentInputs(pipelineYaml: string, templatesDir = path.join(repoRoot, 'gitlab-templates', 'templates')): string[] {
  const doc = parse(pipelineYaml) as { include?: Array<{ component?: string; inputs?: Record<string, unknown> }> };
  const errors: string[] = [];
  for (const inc of doc.include ?? []) {
    if (!inc.component) continue;
    const name = /\/([a-z0-9-]+)@[^/]+$/.exec(inc.component)?.[1];
    const file = path.join(templatesDir, `${name}.yml`);
    if (!name || !existsSync(file)) {
      errors.push(`${inc.component}: no such component`);
      continue;
    }
    const spec = (parse(readFileSync(file, 'utf8').split(/^---$/m)[0]!) as { spec: { inputs: Record<string, SpecInput> } }).spec.inputs;
    const given = inc.inputs ?? {};
    for (const [k, v] of Object.entries(given)) {
      const s = spec[k];
      if (!s) {
        errors.push(`${name}: unknown input "${k}"`);
        continue;
      }
      const type = s.type ?? 'string';
      const actual = Array.isArray(v) ? 'array' : typeof v;
      if (actual !== type) errors.push(`${name}: input "${k}" must be a ${type}, got ${JSON.stringify(v)}`);
      if (s.options && !(Array.isArray(v) ? v : [v]).every((x) => s.options!.includes(x))) errors.push(`${name}: input "${k}": ${JSON.stringify(v)} is not one of ${JSON.stringify(s.options)}`);
      if (s.regex && !new RegExp(s.regex).test(String(v))) errors.push(`${name}: input "${k}": "${String(v)}" does not match ${s.regex}`);
    }
    for (const [k, s] of Object.entries(spec)) if (s.default === undefined && !(k in given)) errors.push(`${name}: required input "${k}" is missing`);
  }
  return errors;
}

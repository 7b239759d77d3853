import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../helpers/images.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { requireTool } from '../../helpers/tools.js';

export const JAVA_HOME = process.env.JAVA_HOME ?? '/usr/lib/jvm/java-17-openjdk-amd64';

export interface Call {
  step: string;
  args: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}
export interface HarnessResult {
  calls: Call[];
  violations: string[];
  error: string | null;
  workspace: string;
  stderr: string;
}

/**
 * Run a pipeline script against the shared library (jenkins/vars) in the Groovy harness, with
 * Debian's groovy. `files` are written into a fresh workspace first.
 */
export function runPipelineScript(script: string, opts: { credentials?: Record<string, unknown>; files?: Record<string, string>; dirs?: Record<string, string>; env?: NodeJS.ProcessEnv } = {}): Promise<HarnessResult> {
  const groovy = requireTool('groovy');
  const dir = makeTempDir('jenkins');
  const workspace = path.join(dir, 'workspace');
  mkdirSync(workspace);
  for (const [name, text] of Object.entries(opts.files ?? {})) {
    mkdirSync(path.dirname(path.join(workspace, name)), { recursive: true });
    writeFileSync(path.join(workspace, name), text);
  }
  for (const [name, from] of Object.entries(opts.dirs ?? {})) cpSync(from, path.join(workspace, name), { recursive: true });
  writeFileSync(path.join(dir, 'pipeline.groovy'), script);
  writeFileSync(path.join(dir, 'credentials.json'), JSON.stringify(opts.credentials ?? {}));
  const result = path.join(dir, 'result.json');
  return new Promise((resolve, reject) => {
    execFile(
      groovy,
      [path.join(repoRoot, 'test/ci/jenkins/harness.groovy'), path.join(repoRoot, 'jenkins/vars'), workspace, path.join(dir, 'pipeline.groovy'), path.join(dir, 'credentials.json'), path.join(repoRoot, 'dist/airlock.cjs'), result],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, JAVA_HOME, DOCKER_CONFIG: '/nonexistent-airlock-test', REGISTRY_AUTH_FILE: '/nonexistent-airlock-test/auth.json', ...opts.env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 240_000,
      },
      (err, _stdout, stderr) => {
        if (err) return reject(new Error(`the Groovy harness failed: ${stderr}`));
        const parsed = JSON.parse(readFileSync(result, 'utf8')) as Omit<HarnessResult, 'workspace' | 'stderr'>;
        resolve({ ...parsed, workspace, stderr });
      },
    );
  });
}

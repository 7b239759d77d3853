import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/images.js';
import { makeTempDir } from '../helpers/tmp.js';

const action = parse(readFileSync(path.join(repoRoot, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }>; runs: { main: string } };

/** $GITHUB_OUTPUT as the runner reads it: `name<<DELIMITER` … `DELIMITER` blocks (and name=value lines). */
export function parseGithubOutput(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const end = lines.indexOf(delim!, i + 1);
      if (end < 0) throw new Error(`unterminated output ${name}`);
      out[name!] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return out;
}

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Run dist/action.cjs as the runner does: INPUT_<NAME> (hyphens kept), action.yml defaults filled in. */
export function runAction(inputs: Record<string, string>, cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<ActionRun> {
  const dir = makeTempDir('action');
  const outputFile = path.join(dir, 'output');
  const summaryFile = path.join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_CONFIG: '/nonexistent-airlock-test', REGISTRY_AUTH_FILE: '/nonexistent-airlock-test/auth.json', GITHUB_ACTIONS: 'true', CI: 'true', RUNNER_TEMP: dir, GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: summaryFile, ...extraEnv };
  for (const [name, def] of Object.entries(action.inputs)) env[`INPUT_${name.toUpperCase()}`] = def.default ?? '';
  for (const [name, value] of Object.entries(inputs)) {
    if (!(name in action.inputs)) throw new Error(`action.yml has no input ${name}`);
    env[`INPUT_${name.toUpperCase()}`] = value;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, action.runs.main)], { env, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, outputs: parseGithubOutput(readFileSync(outputFile, 'utf8')), summary: readFileSync(summaryFile, 'utf8') }));
  });
}


import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './images.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a dist bundle (default dist/airlock.cjs) with plain node, as an air-gapped runner would. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; bundle?: string; cwd?: string; input?: string } = {}): Promise<CliResult> {
  const bundle = path.resolve(repoRoot, 'dist', opts.bundle ?? 'airlock.cjs');
  // A clean environment: no CI variables or credentials of the machine leak in.
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_CONFIG: '/nonexistent-airlock-test', REGISTRY_AUTH_FILE: '/nonexistent-airlock-test/auth.json' };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], { env: { ...base, ...opts.env }, cwd: opts.cwd ?? repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** No stack trace, ever, in what a user sees. */
export function expectNoStack(r: CliResult): void {
  const all = r.stdout + r.stderr;
  if (/\n\s+at .+\(.+:\d+:\d+\)/.test(all) || /node:internal/.test(all)) {
    throw new Error(`output contains a stack trace:\n${all}`);
  }
}

import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** Debian package that provides each external tool the real-registry tests use. */
const PACKAGES: Record<string, string> = {
  'docker-registry': 'docker-registry',
  skopeo: 'skopeo',
  htpasswd: 'apache2-utils',
  openssl: 'openssl',
  python3: 'python3',
  git: 'git',
  rsync: 'rsync',
  groovy: 'groovy',
};

/** Absolute path of `name` on PATH, or undefined. */
export function findTool(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/**
 * Returns the absolute path of a required binary, or throws. Real-registry tests never skip
 * silently: a missing tool is a broken test machine.
 */
export function requireTool(name: string): string {
  const found = findTool(name);
  if (found) return found;
  const pkg = PACKAGES[name] ?? name;
  throw new Error(
    `tool ${name} is missing: run npm run test:all (which installs the test tools) ` +
      `or apt-get install -y ${pkg}`,
  );
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Hides the value of credential flags (`--creds u:p`, `--dest-creds=u:p`, ...) in messages. */
function redact(args: readonly string[]): string[] {
  return args.map((a, i) => {
    if (/^--[\w-]*creds=/.test(a)) return a.replace(/=.*/, '=***');
    const prev = args[i - 1];
    if (prev !== undefined && /^--[\w-]*creds$/.test(prev)) return '***';
    return a;
  });
}

/**
 * Runs a required tool to completion. Rejects with its exit status and stderr when it fails,
 * with credentials redacted from the command line shown.
 */
export function run(
  tool: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const bin = requireTool(tool);
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err) {
          const status = err.killed ? `killed by ${err.signal ?? 'timeout'}` : `exit ${String(err.code)}`;
          reject(new Error(`${tool} ${redact(args).join(' ')} failed (${status}):\n${stderr || err.message}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

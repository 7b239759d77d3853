import { spawn } from 'node:child_process';

/** Variables never handed to --on-failure-exec: registry and signing secrets, tokens, passwords. */
const SECRET = /(_TOKEN|_PASSWORD|_PASS|_SECRET|_CREDENTIALS|_AUTH|_KEY)$|^(AIRLOCK_REGISTRY_PASSWORD|AIRLOCK_REGISTRY_USER|COSIGN_PASSWORD|DOCKER_AUTH_CONFIG|SIGSTORE_ID_TOKEN|ACTIONS_ID_TOKEN_REQUEST_TOKEN|ACTIONS_ID_TOKEN_REQUEST_URL)$/i;

/** The environment for the hook: the caller's, without secrets (and without the variables sync.yaml names). */
export function hookEnv(env: NodeJS.ProcessEnv, alsoStrip: readonly string[], extra: Record<string, string>): NodeJS.ProcessEnv {
  const strip = new Set(alsoStrip);
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !SECRET.test(k) && !strip.has(k)) out[k] = v;
  return { ...out, ...extra };
}

/**
 * Run `--on-failure-exec CMD` through /bin/sh with the report path as `$1` (appended as the last
 * argument when CMD does not use `$1`/`$@`/`$AIRLOCK_SYNC_REPORT` itself) and in AIRLOCK_SYNC_REPORT.
 * Resolves its exit code (127 when it could not start).
 */
export function runHook(cmd: string, reportPath: string, env: NodeJS.ProcessEnv, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const script = /\$(1|@|\{1\}|\{@\}|AIRLOCK_SYNC_REPORT|\{AIRLOCK_SYNC_REPORT\})/.test(cmd) ? cmd : `${cmd} "$1"`;
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', script, 'airlock-sync-hook', reportPath], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => out.write(d));
    child.stderr.on('data', (d: Buffer) => err.write(d));
    child.on('error', () => resolve(127));
    child.on('close', (code) => resolve(code ?? 1));
  });
}

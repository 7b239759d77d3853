import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { AirlockError } from '@airlock/oci';
import { readEncryptedPrivateKey, isAirlockCosignError, type CosignKeyPair } from '@airlock/cosign';

/** The key password: --password-file, else COSIGN_PASSWORD (cosign's variable). Never argv. */
export async function keyPassword(opts: { passwordFile?: string }, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (opts.passwordFile) {
    try {
      return (await readFile(opts.passwordFile, 'utf8')).replace(/\r?\n$/, '');
    } catch {
      throw new AirlockError('BAD_INPUT', `cannot read password file ${opts.passwordFile}`, { hint: 'check the path given to --password-file' });
    }
  }
  if (env.COSIGN_PASSWORD !== undefined) return env.COSIGN_PASSWORD;
  throw new AirlockError('USAGE', 'no key password given', { hint: 'set COSIGN_PASSWORD (an empty value means no password) or use --password-file FILE' });
}

/** Read and decrypt a cosign private key, with errors a user can act on. */
export async function loadPrivateKey(file: string, password: string): Promise<CosignKeyPair> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch {
    throw new AirlockError('BAD_INPUT', `cannot read key file ${file}`, { hint: 'check the path given to --key' });
  }
  try {
    return await readEncryptedPrivateKey(pem, password);
  } catch (e) {
    throw cosignToAirlock(e, `key ${file}`);
  }
}

/** Map a cosign library error to the CLI's typed error (wrong password, malformed key = input errors). */
export function cosignToAirlock(e: unknown, what: string): AirlockError {
  if (e instanceof AirlockError) return e;
  if (isAirlockCosignError(e)) {
    return new AirlockError('BAD_INPUT', `${what}: ${e.message}`, { ...(e.hint ? { hint: e.hint } : {}), cause: e });
  }
  return new AirlockError('BAD_INPUT', `${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

const githubTokenSchema = z.object({ value: z.string().min(1) });

/**
 * The OIDC identity token for keyless signing, from (first match):
 * `--identity-token @FILE` or `env:NAME`; `SIGSTORE_ID_TOKEN` (what GitLab `id_tokens` are usually
 * named); GitHub Actions' `ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
 * A raw token on the command line is refused: argv is visible to every process on the runner.
 */
export async function identityToken(spec: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (spec) {
    if (spec.startsWith('@')) {
      try {
        return (await readFile(spec.slice(1), 'utf8')).trim();
      } catch {
        throw new AirlockError('BAD_INPUT', `cannot read identity token file ${spec.slice(1)}`);
      }
    }
    if (spec.startsWith('env:')) {
      const v = env[spec.slice(4)];
      if (!v) throw new AirlockError('BAD_INPUT', `environment variable ${spec.slice(4)} (--identity-token) is empty`, { hint: 'in GitLab, declare it under id_tokens with aud: sigstore' });
      return v.trim();
    }
    throw new AirlockError('USAGE', '--identity-token takes @FILE or env:NAME, not the token itself', { hint: 'tokens on the command line are visible to every process on the runner' });
  }
  if (env.SIGSTORE_ID_TOKEN) return env.SIGSTORE_ID_TOKEN.trim();
  if (env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
    const url = new URL(env.ACTIONS_ID_TOKEN_REQUEST_URL);
    url.searchParams.set('audience', 'sigstore');
    const res = await fetch(url, { headers: { authorization: `Bearer ${env.ACTIONS_ID_TOKEN_REQUEST_TOKEN}`, accept: 'application/json' } });
    const text = await res.text();
    if (res.status !== 200) throw new AirlockError('UNAUTHORIZED', `GitHub Actions refused an OIDC token (HTTP ${res.status})`, { hint: 'grant the job "permissions: id-token: write"' });
    return githubTokenSchema.parse(JSON.parse(text)).value;
  }
  throw new AirlockError('USAGE', 'keyless signing needs an OIDC identity token', {
    hint: 'set SIGSTORE_ID_TOKEN (GitLab: id_tokens with aud: sigstore), run in GitHub Actions with id-token: write, or pass --identity-token @FILE',
  });
}

import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { AirlockError, shorten } from '@airlock/oci';
import { readEncryptedPrivateKey, isAirlockCosignError, type CosignKeyPair } from '@airlock/cosign';

/** The key password: --password-file, else COSIGN_PASSWORD (cosign's variable). Never argv. */
export async function keyPassword(opts: { passwordFile?: string }, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (opts.passwordFile) {
    try {
      return (await readFile(opts.passwordFile, 'utf8')).replace(/\r?\n$/, '');
    } catch {
      throw new AirlockError('BAD_INPUT', `cannot read password file ${shorten(opts.passwordFile)}`, { hint: 'check the path given to --password-file' });
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
    throw new AirlockError('BAD_INPUT', `cannot read key file ${shorten(file)}`, { hint: 'check the path given to --key' });
  }
  try {
    return await readEncryptedPrivateKey(pem, password);
  } catch (e) {
    throw notAPrivateKey(file, pem) ?? cosignToAirlock(e, `key ${shorten(file)}`);
  }
}

/**
 * The cosign library speaks of its own functions (importKeyPair); the CLI user runs commands.
 * Hints are told in the CLI's words.
 */
export function cliHint(hint: string): string {
  return hint
    .replace(/`cosign import-key-pair` \(or importKeyPair\)/g, '`airlock key import --key FILE` (or cosign import-key-pair)')
    .replace(/\bimportKeyPair\b/g, '`airlock key import --key FILE`')
    .replace(/\bgenerateKeyPair\b/g, '`airlock key generate`');
}

/** Map a cosign library error to the CLI's typed error (wrong password, malformed key = input errors). */
export function cosignToAirlock(e: unknown, what: string): AirlockError {
  if (e instanceof AirlockError) return e;
  if (isAirlockCosignError(e)) {
    return new AirlockError('BAD_INPUT', `${what}: ${e.message}`, { ...(e.hint ? { hint: cliHint(e.hint) } : {}), cause: e });
  }
  return new AirlockError('BAD_INPUT', `${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** A key file that is not a cosign private key, said in the CLI's words (a public key, a plain PEM key, a certificate). */
function notAPrivateKey(file: string, pem: string): AirlockError | undefined {
  const type = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  const importIt = `import a plain PEM private key first: airlock key import --key ${shorten(file, 100)}`;
  if (type === 'PUBLIC KEY' || type === 'RSA PUBLIC KEY') {
    return new AirlockError('BAD_INPUT', `key ${shorten(file)} is a public key, not a cosign private key`, { hint: 'sign with the private half (cosign.key); the .pub file is for airlock verify --key' });
  }
  if (type === 'CERTIFICATE') return new AirlockError('BAD_INPUT', `key ${shorten(file)} is a certificate, not a cosign private key`, { hint: `sign with a cosign private key (cosign.key, from airlock key generate), or sign --keyless` });
  if (type === 'PRIVATE KEY' || type === 'EC PRIVATE KEY' || type === 'RSA PRIVATE KEY') {
    return new AirlockError('BAD_INPUT', `key ${shorten(file)} is a plain PEM private key, not an encrypted cosign key`, { hint: importIt });
  }
  return undefined;
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
        throw new AirlockError('BAD_INPUT', `cannot read identity token file ${shorten(spec.slice(1))}`, { hint: 'check the path after --identity-token @' });
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

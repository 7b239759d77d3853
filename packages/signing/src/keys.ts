import { access, readFile, unlink, writeFile } from 'node:fs/promises';
import { generateKeyPair, importKeyPair } from '@airlock/cosign';
import { AirlockError, shorten } from '@airlock/oci';
import { checkOutputFile } from '@airlock/step-kit';
import { cosignToAirlock } from './secrets.js';

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/**
 * Check, before a key is made, that PREFIX.key and PREFIX.pub can be written: the directory
 * exists and is writable, neither is a directory, and neither exists unless forced.
 */
export async function checkKeyOutputs(prefix: string, force: boolean): Promise<{ key: string; pub: string }> {
  const key = `${prefix}.key`;
  const pub = `${prefix}.pub`;
  if (prefix.trim() === '' || /\/$/.test(prefix)) {
    throw new AirlockError('USAGE', `--output-key-prefix ${JSON.stringify(shorten(prefix, 100))} names no file`, { hint: 'give a path prefix such as keys/release (writes keys/release.key and keys/release.pub)' });
  }
  for (const f of [key, pub]) {
    checkOutputFile(f, { flag: '--output-key-prefix' });
    if (!force && (await exists(f))) throw new AirlockError('USAGE', `${shorten(f)} already exists`, { hint: 'choose another --output-key-prefix or pass --force' });
  }
  return { key, pub };
}

/** Write PREFIX.key (mode 0600) and PREFIX.pub, refusing to overwrite unless forced; never one without the other. */
export async function writeKeyPair(prefix: string, pair: { privateKeyPem: string; publicKeyPem: string }, force: boolean): Promise<{ key: string; pub: string }> {
  const { key, pub } = await checkKeyOutputs(prefix, force);
  try {
    await writeFile(key, pair.privateKeyPem, { mode: 0o600 });
    await writeFile(pub, pair.publicKeyPem, { mode: 0o644 });
  } catch (e) {
    await Promise.all([unlink(key), unlink(pub)].map((p) => p.catch(() => undefined)));
    throw new AirlockError('IO', `cannot write the key pair ${shorten(prefix)}.key/.pub: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'check the directory, its permissions and free space' });
  }
  return { key, pub };
}

export async function generateKeys(opts: { prefix: string; legacy: boolean; force: boolean; password: string }): Promise<{ key: string; pub: string }> {
  const pair = await generateKeyPair({ password: opts.password, legacy: opts.legacy });
  return writeKeyPair(opts.prefix, pair, opts.force);
}

export async function importKeys(opts: { file: string; prefix: string; legacy: boolean; force: boolean; password: string }): Promise<{ key: string; pub: string }> {
  let pem: string;
  try {
    pem = await readFile(opts.file, 'utf8');
  } catch {
    throw new AirlockError('BAD_INPUT', `cannot read ${shorten(opts.file)}`, { hint: 'check the path given to --key (a PEM private key)' });
  }
  const type = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  if (type === 'PUBLIC KEY' || type === 'RSA PUBLIC KEY' || type === 'CERTIFICATE') {
    throw new AirlockError('BAD_INPUT', `${shorten(opts.file)} is a ${type === 'CERTIFICATE' ? 'certificate' : 'public key'}, not a private key`, { hint: 'key import takes the plain PEM private key (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)' });
  }
  if (type?.startsWith('ENCRYPTED ') && type !== 'ENCRYPTED PRIVATE KEY') {
    throw new AirlockError('BAD_INPUT', `${shorten(opts.file)} is already a cosign key`, { hint: 'use it as it is: airlock sign --key FILE' });
  }
  let pair;
  try {
    pair = await importKeyPair(pem, { password: opts.password, legacy: opts.legacy });
  } catch (e) {
    throw cosignToAirlock(e, shorten(opts.file));
  }
  return writeKeyPair(opts.prefix, pair, opts.force);
}

import { access, readFile, writeFile } from 'node:fs/promises';
import { generateKeyPair, importKeyPair } from '@airlock/cosign';
import { AirlockError } from '@airlock/oci';
import { cosignToAirlock } from './secrets.js';

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/** Write PREFIX.key (mode 0600) and PREFIX.pub, refusing to overwrite unless forced. */
export async function writeKeyPair(prefix: string, pair: { privateKeyPem: string; publicKeyPem: string }, force: boolean): Promise<{ key: string; pub: string }> {
  const key = `${prefix}.key`;
  const pub = `${prefix}.pub`;
  if (!force) {
    for (const f of [key, pub]) {
      if (await exists(f)) throw new AirlockError('USAGE', `${f} already exists`, { hint: 'choose another --output-key-prefix or pass --force' });
    }
  }
  await writeFile(key, pair.privateKeyPem, { mode: 0o600 });
  await writeFile(pub, pair.publicKeyPem, { mode: 0o644 });
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
    throw new AirlockError('BAD_INPUT', `cannot read ${opts.file}`, { hint: 'check the path given to --key' });
  }
  let pair;
  try {
    pair = await importKeyPair(pem, { password: opts.password, legacy: opts.legacy });
  } catch (e) {
    throw cosignToAirlock(e, opts.file);
  }
  return writeKeyPair(opts.prefix, pair, opts.force);
}

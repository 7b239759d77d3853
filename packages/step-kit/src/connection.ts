import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { AirlockError, DefaultCredentials, quote, Registries, shorten, Transport, type TransportOptions } from '@airlock/oci';
import { interruptSignal } from './interrupt.js';

/** How to reach registries: the options every registry-facing step shares. */
export interface ConnectionFlags {
  insecureRegistries: string[];
  caFiles: string[];
  certsDirs: string[];
  retries: number;
}

export const listOption = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

const HOST_PORT = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;

/** `--insecure-registry HOST[:PORT]`: a host as references name it, nothing else. */
export function checkInsecureRegistry(v: string): string {
  if (HOST_PORT.test(v)) return v;
  const bare = v.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  const hint = bare !== v && HOST_PORT.test(bare) ? `write the host alone: --insecure-registry ${bare}` : 'write HOST or HOST:PORT, e.g. --insecure-registry registry.local:5000';
  throw new AirlockError('USAGE', `--insecure-registry ${quote(v)} is not a registry host`, { hint });
}

/** `--ca-file FILE`: readable, and PEM certificates that parse. */
export function checkCaFile(file: string): string {
  let text: string;
  try {
    if (statSync(file).isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new AirlockError('BAD_INPUT', `cannot read --ca-file ${shorten(file)}: ${code === 'EISDIR' ? 'it is a directory' : code}`, {
      hint: code === 'EISDIR' ? 'for a directory of certificates use --certs-dir' : 'check the path given to --ca-file (a PEM CA certificate)',
    });
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const notPem = () => new AirlockError('BAD_INPUT', `--ca-file ${shorten(file)} holds no PEM certificate`, { hint: 'give a PEM file (-----BEGIN CERTIFICATE-----), e.g. the registry CA\'s ca.crt' });
  if (!blocks.length) throw notPem();
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch {
      throw new AirlockError('BAD_INPUT', `--ca-file ${shorten(file)}: a certificate in it cannot be read`, { hint: 'the file is damaged; fetch the CA certificate again' });
    }
  }
  return file;
}

/** `--certs-dir DIR`: an existing directory. */
export function checkCertsDir(dir: string): string {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    throw new AirlockError('BAD_INPUT', `--certs-dir ${shorten(dir)} does not exist (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`, { hint: 'give a certs.d-style directory: DIR/HOST[:PORT]/ca.crt' });
  }
  if (!isDir) throw new AirlockError('BAD_INPUT', `--certs-dir ${shorten(dir)} is not a directory`, { hint: 'give a certs.d-style directory (DIR/HOST[:PORT]/ca.crt); a single CA file goes to --ca-file' });
  return dir;
}

/** Parse and check the connection options: every problem is an input error before any work. */
export function connectionFlags(o: Record<string, unknown>): ConnectionFlags {
  return {
    insecureRegistries: listOption(o.insecureRegistry).map(checkInsecureRegistry),
    caFiles: listOption(o.caFile).map(checkCaFile),
    certsDirs: listOption(o.certsDir).map(checkCertsDir),
    retries: Number(o.retries ?? 5),
  };
}

/**
 * Check, before any work, that the credential sources Airlock would read (DOCKER_AUTH_CONFIG,
 * docker config.json, containers auth.json) are readable: a broken one is an input error (exit 2)
 * instead of every image failing on it. Call it when a registry will be contacted.
 */
export function checkCredentialSources(env: NodeJS.ProcessEnv = process.env): void {
  new DefaultCredentials(env).check();
}

/** Registries with the standard credential chain (environment, docker config, helpers). */
export function registriesFrom(f: ConnectionFlags, extra: Partial<TransportOptions> = {}): Registries {
  const transport = new Transport({
    insecureHosts: f.insecureRegistries,
    caFiles: f.caFiles,
    certsDirs: f.certsDirs,
    retry: { retries: f.retries },
    userAgent: 'airlock/0.1',
    // SIGINT/SIGTERM cancels every request in flight (and every body being streamed).
    signal: interruptSignal(),
    ...extra,
  });
  return new Registries(transport, new DefaultCredentials());
}

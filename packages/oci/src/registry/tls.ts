import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';

/** TLS material for one registry host, as docker and podman lay it out under certs.d. */
export interface HostTls {
  ca?: string[];
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
}

export const DEFAULT_CERTS_DIRS = ['/etc/docker/certs.d', '/etc/containers/certs.d'];

function readIf(path: string): string | undefined {
  try {
    return statSync(path).isFile() ? readFileSync(path, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}

/** Where TLS material for one host comes from: the files `tlsForHost` reads, in the order it reads them. */
export interface HostTlsFiles {
  /** CA files: certs.d `*.crt` (each certs directory, `HOST:PORT/` then `HOST/`), then each `--ca-file`. Readable files only. */
  caFiles: { path: string; from: 'certs.d' | 'ca-file' }[];
  clientCert?: string;
  clientKey?: string;
  /** The certs.d folders looked at (existing or not), for messages saying where a CA could go. */
  searched: string[];
}

const isFile = (path: string): boolean => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/**
 * The files holding CA and client certificates for HOST: `DIR/HOST/` in each certs directory
 * (`*.crt` are CAs, `client.cert` + `client.key` a client pair — docker's convention), plus any
 * `--ca-file`.
 */
export function tlsFilesForHost(host: string, opts: { certsDirs: string[]; caFiles: string[] }): HostTlsFiles {
  const out: HostTlsFiles = { caFiles: [], searched: [] };
  for (const root of opts.certsDirs) {
    // docker names the folder host:port; a folder without the port also applies.
    for (const name of new Set([host, host.replace(/:\d+$/, '')])) {
      const dir = join(root, name);
      out.searched.push(dir);
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        continue;
      }
      for (const f of entries.sort()) if (f.endsWith('.crt') && isFile(join(dir, f))) out.caFiles.push({ path: join(dir, f), from: 'certs.d' });
      if (!out.clientCert && isFile(join(dir, 'client.cert'))) out.clientCert = join(dir, 'client.cert');
      if (!out.clientKey && isFile(join(dir, 'client.key'))) out.clientKey = join(dir, 'client.key');
    }
  }
  for (const f of opts.caFiles) if (isFile(f)) out.caFiles.push({ path: f, from: 'ca-file' });
  return out;
}

/**
 * Collect CA and client certificates for HOST (see `tlsFilesForHost`). CAs are added to Node's
 * bundled roots, never replacing them.
 */
export function tlsForHost(host: string, opts: { certsDirs: string[]; caFiles: string[]; insecure: boolean }): HostTls {
  const files = tlsFilesForHost(host, opts);
  const extraCa = files.caFiles.map((f) => readIf(f.path)).filter((pem): pem is string => !!pem);
  const cert = files.clientCert ? readIf(files.clientCert) : undefined;
  const key = files.clientKey ? readIf(files.clientKey) : undefined;
  return {
    ...(extraCa.length ? { ca: [...rootCertificates, ...extraCa] } : {}),
    ...(cert && key ? { cert, key } : {}),
    rejectUnauthorized: !opts.insecure,
  };
}

const LOOPBACK_RE = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i;

/** Loopback registries may speak plain HTTP without being marked insecure, as docker and crane allow. */
export function isLoopback(host: string): boolean {
  return LOOPBACK_RE.test(host);
}

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

/**
 * Collect CA and client certificates for HOST from `DIR/HOST/` in each certs directory
 * (`*.crt` are CAs, `client.cert` + `client.key` a client pair — docker's convention), plus any
 * `--ca-file`. CAs are added to Node's bundled roots, never replacing them.
 */
export function tlsForHost(host: string, opts: { certsDirs: string[]; caFiles: string[]; insecure: boolean }): HostTls {
  const extraCa: string[] = [];
  let cert: string | undefined;
  let key: string | undefined;
  for (const root of opts.certsDirs) {
    // docker names the folder host:port; a folder without the port also applies.
    for (const name of new Set([host, host.replace(/:\d+$/, '')])) {
      const dir = join(root, name);
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        continue;
      }
      for (const f of entries.sort()) {
        if (f.endsWith('.crt')) {
          const pem = readIf(join(dir, f));
          if (pem) extraCa.push(pem);
        }
      }
      cert ??= readIf(join(dir, 'client.cert'));
      key ??= readIf(join(dir, 'client.key'));
    }
  }
  for (const f of opts.caFiles) {
    const pem = readIf(f);
    if (pem) extraCa.push(pem);
  }
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

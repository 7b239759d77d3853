import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { DEFAULT_CERTS_DIRS, tlsFilesForHost } from '@airlock/oci';

/** One place CA certificates came from, as the user would name it. */
export interface CaSource {
  /** e.g. `/etc/docker/certs.d/HOST/ca.crt`, `--ca-file ./corp.crt`, `Node's bundled root CAs`. */
  label: string;
  certs: X509Certificate[];
}

export interface TlsMaterial {
  /** In the order the transport adds them (certs.d, then --ca-file), then the default store. */
  sources: CaSource[];
  /** certs.d folders looked at for this host. */
  searched: string[];
  /** --ca-file arguments that are not readable files (the transport ignores them silently). */
  missingCaFiles: string[];
  /** NODE_EXTRA_CA_CERTS, when set but not used because a CA file applies (Node's rule). */
  ignoredExtraCa?: string;
  clientCert?: string;
  clientKey?: string;
}

/** Split a PEM bundle into certificates; what does not parse is left out. */
export function parsePemBundle(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const block of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    try {
      out.push(new X509Certificate(block));
    } catch {
      /* not a certificate */
    }
  }
  return out;
}

const readOr = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

/**
 * The CA files that apply to `host`, as the transport finds them (certs.d under --certs-dir and the
 * default directories, then --ca-file). Node ignores NODE_EXTRA_CA_CERTS once any CA is passed
 * explicitly, so it counts only when none is.
 */
export function caSourcesFor(host: string, opts: { certsDirs: string[]; caFiles: string[] }, env: NodeJS.ProcessEnv): TlsMaterial {
  const files = tlsFilesForHost(host, { certsDirs: [...opts.certsDirs, ...DEFAULT_CERTS_DIRS], caFiles: opts.caFiles });
  const sources: CaSource[] = files.caFiles.map((f) => ({
    label: f.from === 'ca-file' ? `--ca-file ${f.path}` : f.path,
    certs: parsePemBundle(readOr(f.path)),
  }));
  if (!sources.length && env.NODE_EXTRA_CA_CERTS) sources.push({ label: `NODE_EXTRA_CA_CERTS=${env.NODE_EXTRA_CA_CERTS}`, certs: parsePemBundle(readOr(env.NODE_EXTRA_CA_CERTS)) });
  sources.push({ label: "Node's bundled root CAs", certs: [] }); // parsed only when needed (see trustedBy)
  const given = new Set(files.caFiles.filter((f) => f.from === 'ca-file').map((f) => f.path));
  return {
    sources,
    ...(files.caFiles.length && env.NODE_EXTRA_CA_CERTS ? { ignoredExtraCa: env.NODE_EXTRA_CA_CERTS } : {}),
    searched: files.searched,
    missingCaFiles: opts.caFiles.filter((f) => !given.has(f)),
    ...(files.clientCert ? { clientCert: files.clientCert } : {}),
    ...(files.clientKey ? { clientKey: files.clientKey } : {}),
  };
}

let bundled: X509Certificate[] | undefined;
const certsOf = (s: CaSource): X509Certificate[] => (s.certs.length || !s.label.startsWith("Node's") ? s.certs : (bundled ??= rootCertificates.flatMap(parsePemBundle)));

/** Whether `ca` is `cert` itself or signed it. */
function anchors(ca: X509Certificate, cert: X509Certificate): boolean {
  if (ca.fingerprint256 === cert.fingerprint256) return true;
  try {
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** The source holding a CA that anchors the presented chain (leaf first), and that CA's subject. */
export function trustedBy(chain: X509Certificate[], sources: CaSource[]): { source: CaSource; ca: X509Certificate } | undefined {
  for (const source of sources) {
    for (const ca of certsOf(source)) {
      if (chain.some((c) => anchors(ca, c))) return { source, ca };
    }
  }
  return undefined;
}

/** What a CA file holds, short: its CA names, or how many when it is a whole bundle. */
export function describeSource(s: CaSource): string {
  if (!s.certs.length) return 'no certificate in it';
  if (s.certs.length > 3) return `${s.certs.length} certificates`;
  return s.certs.map((c) => shortName(c.subject)).join(', ');
}

/** `CN=Airlock Test CA` from an X.509 subject/issuer (`CN=…\nO=…`), else the whole name on one line. */
export function shortName(dn: string): string {
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(dn)?.[1];
  return cn ? `CN=${cn}` : dn.replace(/\n/g, ', ');
}

import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { DEFAULT_CERTS_DIRS, tlsForHost } from '@airlock/oci';
import { type CheckResult, fail, pass, warn } from '../model.js';
import { describeSource, shortName, trustedBy, type TlsMaterial } from './ca-sources.js';
import type { ProxyRoute } from './proxy.js';
import { openSocket } from './tcp.js';

export interface CertInfo {
  subject: string;
  issuer: string;
  subjectAltName?: string;
  validFrom: Date;
  validTo: Date;
  fingerprint256: string;
}

/** What a TLS handshake showed, gathered at the I/O edge; judged by `tlsChecks`. */
export type TlsObservation =
  | {
      kind: 'tls';
      protocol: string;
      /** Presented chain, leaf first. */
      chain: CertInfo[];
      /** OpenSSL's verdict (with the same CAs as the transport), e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE. */
      authorizationError?: string;
      /** Node's host name check (checkServerIdentity) message, when the certificate does not name the host. */
      hostnameError?: string;
      /** Where the CA anchoring the chain came from, and its subject. */
      trustedBy?: { label: string; ca: string };
    }
  | { kind: 'plain-http' }
  | { kind: 'error'; code: string; message: string };

const certInfo = (c: X509Certificate): CertInfo => ({
  subject: shortName(c.subject),
  issuer: shortName(c.issuer),
  ...(c.subjectAltName ? { subjectAltName: c.subjectAltName } : {}),
  validFrom: new Date(c.validFrom),
  validTo: new Date(c.validTo),
  fingerprint256: c.fingerprint256,
});

function presentedChain(socket: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let cur: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cur?.raw && !seen.has(cur.fingerprint256)) {
    seen.add(cur.fingerprint256);
    out.push(new X509Certificate(cur.raw));
    cur = cur.issuerCertificate;
  }
  return out;
}

const isPlainHttp = (e: NodeJS.ErrnoException): boolean =>
  ['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'EPROTO'].includes(e.code ?? '') ||
  /wrong version number|packet length too long|http request/i.test(e.message);

/**
 * Handshake with the registry using exactly the CAs and client certificate the transport would
 * (certs.d, --ca-file), never rejecting, so that every problem can be seen and named.
 */
export async function probeTls(t: { host: string; hostname: string; port: number }, material: TlsMaterial, opts: { certsDirs: string[]; caFiles: string[]; timeoutMs: number; via?: ProxyRoute }): Promise<TlsObservation> {
  const { rejectUnauthorized: _r, ...tls } = tlsForHost(t.host, { certsDirs: [...opts.certsDirs, ...DEFAULT_CERTS_DIRS], caFiles: opts.caFiles, insecure: false });
  let raw;
  try {
    raw = await openSocket(t.hostname, t.port, opts.timeoutMs, opts.via);
  } catch (e) {
    return { kind: 'error', code: (e as { code?: string }).code ?? 'ERROR', message: (e as Error).message };
  }
  return new Promise((resolve) => {
    const socket = connect({ ...tls, socket: raw, rejectUnauthorized: false, ...(isIP(t.hostname) ? {} : { servername: t.hostname }) });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ kind: 'error', code: 'TIMEOUT', message: `no TLS answer within ${Math.round(opts.timeoutMs / 1000)} s` });
    }, opts.timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const chain = presentedChain(socket);
      const leaf = socket.getPeerCertificate();
      const identity = checkServerIdentity(t.hostname, leaf);
      const anchor = trustedBy(chain, material.sources);
      resolve({
        kind: 'tls',
        protocol: socket.getProtocol() ?? 'TLS',
        chain: chain.map(certInfo),
        ...(socket.authorized ? {} : { authorizationError: String(socket.authorizationError) }),
        ...(identity ? { hostnameError: identity.message } : {}),
        ...(anchor ? { trustedBy: { label: anchor.source.label, ca: shortName(anchor.ca.subject) } } : {}),
      });
      socket.destroy();
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(isPlainHttp(e) ? { kind: 'plain-http' } : { kind: 'error', code: e.code ?? 'ERROR', message: e.message });
    });
  });
}

export interface TlsContext {
  host: string;
  hostname: string;
  /** --insecure-registry names this host: the transport accepts any certificate, or plain HTTP. */
  insecure: boolean;
  loopback: boolean;
  material: TlsMaterial;
  /** --certs-dir arguments: the first is where the fix suggests putting a CA. */
  certsDirs: string[];
  now: Date;
}

/** Certificates expiring within this many days are a warning. */
export const EXPIRY_WARN_DAYS = 14;

const CHAIN_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'INVALID_CA',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
]);

const day = 24 * 3600 * 1000;
const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/** Where the fix tells the user to put the registry's CA: the first --certs-dir, else docker's certs.d. */
export function caPathFor(ctx: Pick<TlsContext, 'host' | 'certsDirs'>): string {
  return `${ctx.certsDirs[0] ?? '/etc/docker/certs.d'}/${ctx.host}/ca.crt`;
}

/** A TLS problem: a failure, or a warning where --insecure-registry makes the transport accept it anyway. */
function problem(ctx: TlsContext, id: string, title: string, detail: string, fix: string): CheckResult {
  if (!ctx.insecure) return fail(id, title, detail, fix);
  return warn(id, title, `${detail}; accepted because of --insecure-registry ${ctx.host}`, `fix the certificate and drop --insecure-registry: ${fix}`);
}

function chainCheck(o: Extract<TlsObservation, { kind: 'tls' }>, ctx: TlsContext): CheckResult {
  const id = 'tls.chain';
  const title = 'TLS chain';
  const leaf = o.chain[0]!;
  const top = o.chain[o.chain.length - 1]!;
  const chainError = o.authorizationError && CHAIN_ERRORS.has(o.authorizationError) ? o.authorizationError : undefined;
  // OpenSSL reports one error: a host name mismatch is only checked after the chain verified; after an
  // expiry, whether a known CA anchors the chain is looked up here.
  const trusted = !o.authorizationError || o.authorizationError === 'ERR_TLS_CERT_ALTNAME_INVALID' || (!chainError && o.trustedBy);
  if (trusted) {
    const by = o.trustedBy ? `${o.trustedBy.label} (${o.trustedBy.ca})` : 'the default CA store';
    return pass(id, title, `${o.protocol}; ${leaf.subject} issued by ${leaf.issuer}; trusted via ${by}`);
  }
  const own = ctx.material.sources.filter((s) => !s.label.startsWith("Node's"));
  const tried = own.length ? `tried ${own.map((s) => `${s.label} (${describeSource(s)})`).join('; ')} and Node's bundled roots` : `no CA file for ${ctx.host} (looked in ${ctx.material.searched.join(', ')}; no --ca-file)`;
  const missing = ctx.material.missingCaFiles.length ? `; --ca-file ${ctx.material.missingCaFiles.join(', ')} is not a readable file` : '';
  const ignored = ctx.material.ignoredExtraCa ? `; NODE_EXTRA_CA_CERTS=${ctx.material.ignoredExtraCa} is not read once a CA file applies (Node's rule)` : '';
  const systemStore = ctx.material.sources.some((s) => s.label.startsWith('NODE_EXTRA_CA_CERTS')) ? '' : ' (Node does not read the system store that update-ca-certificates fills)';
  const selfSent = top.subject === top.issuer ? ` The server sent its root (${top.subject}, SHA-256 ${top.fingerprint256}): trust it only after comparing that fingerprint with what the registry's administrators publish.` : '';
  return problem(
    ctx,
    id,
    title,
    `not trusted (${chainError ?? 'no known CA signed it'}): ${leaf.subject} is issued by ${top.subject === top.issuer ? top.subject : top.issuer}; ${tried}${missing}${ignored}`,
    `save the CA certificate that issued it (${top.subject === top.issuer ? top.subject : top.issuer}) as ${caPathFor(ctx)}, or pass --ca-file /path/to/ca.crt${systemStore}.${selfSent}`,
  );
}

function expiryCheck(o: Extract<TlsObservation, { kind: 'tls' }>, ctx: TlsContext): CheckResult {
  const id = 'tls.expiry';
  const title = 'TLS expiry';
  const leaf = o.chain[0]!;
  const expired = o.chain.find((c) => c.validTo.getTime() < ctx.now.getTime());
  if (expired) {
    const ago = Math.max(1, Math.floor((ctx.now.getTime() - expired.validTo.getTime()) / day));
    const which = expired === leaf ? 'the registry\'s certificate' : `CA certificate ${expired.subject} in its chain`;
    return problem(ctx, id, title, `${which} expired on ${isoDay(expired.validTo)} (${ago} day${ago === 1 ? '' : 's'} ago)`, `renew ${which} (served by ${ctx.host}); if it looks valid there, check this machine's clock (date -u)`);
  }
  const early = o.chain.find((c) => c.validFrom.getTime() > ctx.now.getTime());
  if (early) return problem(ctx, id, title, `${early.subject} is not valid before ${early.validFrom.toISOString()}`, "this machine's clock is probably behind: check it (date -u) and NTP; else the certificate was issued with a future start date");
  const soonest = o.chain.reduce((a, c) => (c.validTo < a.validTo ? c : a), leaf);
  const left = Math.floor((soonest.validTo.getTime() - ctx.now.getTime()) / day);
  const what = soonest === leaf ? 'certificate' : `CA ${soonest.subject}`;
  if (left < EXPIRY_WARN_DAYS) return warn(id, title, `${what} expires on ${isoDay(soonest.validTo)} (in ${left} day${left === 1 ? '' : 's'})`, `renew it on the registry (${ctx.host}) before then`);
  return pass(id, title, `valid until ${isoDay(soonest.validTo)} (${left} days)`);
}

function hostnameCheck(o: Extract<TlsObservation, { kind: 'tls' }>, ctx: TlsContext): CheckResult {
  const id = 'tls.hostname';
  const title = 'TLS hostname';
  const names = o.chain[0]!.subjectAltName ?? `no subjectAltName; subject ${o.chain[0]!.subject}`;
  if (!o.hostnameError) return pass(id, title, `${ctx.hostname} is named by the certificate (${names})`);
  return problem(
    ctx,
    id,
    title,
    `the certificate does not name ${ctx.hostname}: it is for ${names}`,
    `reach the registry by a name the certificate lists (add it to DNS or /etc/hosts), or reissue the certificate with subjectAltName ${isIP(ctx.hostname) ? 'IP' : 'DNS'}:${ctx.hostname}`,
  );
}

/** The TLS lines: plain HTTP (allowed or not), a failed handshake, or chain + expiry + host name. */
export function tlsChecks(o: TlsObservation, ctx: TlsContext): CheckResult[] {
  if (o.kind === 'plain-http') {
    if (ctx.loopback) return [pass('tls', 'TLS', `${ctx.host} speaks plain HTTP: allowed for loopback hosts, as docker does`)];
    if (ctx.insecure) return [warn('tls', 'TLS', `${ctx.host} speaks plain HTTP, allowed by --insecure-registry ${ctx.host}: traffic and credentials travel unencrypted`, 'serve HTTPS on the registry and drop --insecure-registry')];
    return [fail('tls', 'TLS', `${ctx.host} answered a TLS handshake in plain HTTP: it is not serving HTTPS`, `serve HTTPS on the registry (recommended), or allow plain HTTP for this host only: --insecure-registry ${ctx.host} (docker: "insecure-registries" in daemon.json)`)];
  }
  if (o.kind === 'error') {
    const clientCert = /certificate required|bad certificate|handshake failure/i.test(o.message);
    const fix = clientCert
      ? `the registry may require a client certificate: put client.cert and client.key in ${caPathFor(ctx).replace(/ca\.crt$/, '')}${ctx.material.clientCert ? ` (found ${ctx.material.clientCert}: is it the one the registry accepts?)` : ''}`
      : `check that ${ctx.host} serves HTTPS on this port, and what sits in between (TLS-inspecting proxies, load balancers)`;
    return [fail('tls', 'TLS', `TLS handshake with ${ctx.host} failed: ${o.code} ${o.message}`, fix)];
  }
  return [chainCheck(o, ctx), expiryCheck(o, ctx), hostnameCheck(o, ctx)];
}

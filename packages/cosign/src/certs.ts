/**
 * X.509 checks for certificate-based cosign signatures (Fulcio or a private PKI): build and verify
 * the chain to a trusted root at a given time, and read the signer identity Fulcio embeds.
 */
import { X509Certificate } from 'node:crypto';
import { X509Certificate as CoreX509 } from '@sigstore/core';
import { AirlockCosignError, messageOf } from './errors.js';

const EKU_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const EKU_ANY = '2.5.29.37.0';
const OID_FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const MAX_DEPTH = 8;

export interface ChainOptions {
  leaf: X509Certificate;
  /** Untrusted intermediates (e.g. the signature's `dev.sigstore.cosign/chain` minus its root). */
  intermediates?: X509Certificate[];
  /** Trust anchors. */
  roots: X509Certificate[];
  /** Every certificate on the path must be valid at this time (the signing time). Default: now. */
  at?: Date;
  /** Require the Code Signing extended key usage where EKUs are present (cosign does). Default true. */
  requireCodeSigning?: boolean;
}

function validAt(cert: X509Certificate, at: Date): boolean {
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  return from <= at.getTime() && at.getTime() <= to;
}

function allowsCodeSigning(cert: X509Certificate): boolean {
  const eku = cert.keyUsage as string[] | undefined; // node: the extended key usages, undefined if absent
  return !eku || eku.includes(EKU_CODE_SIGNING) || eku.includes(EKU_ANY);
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/** Verify leaf -> ... -> trusted root and return that path (leaf first, root last). */
export function verifyCertificateChain(opts: ChainOptions): X509Certificate[] {
  const at = opts.at ?? new Date();
  const requireCodeSigning = opts.requireCodeSigning ?? true;
  const roots = opts.roots;
  const pool = [...(opts.intermediates ?? []), ...roots];
  const isRoot = (c: X509Certificate): boolean => roots.some((r) => r.raw.equals(c.raw));
  const fail = (why: string): never => {
    throw new AirlockCosignError('CERTIFICATE_CHAIN_INVALID', `the signing certificate is not trusted: ${why}`, 'pass the right root/intermediate certificates (trusted root) for the signer, or check the signing time');
  };
  if (roots.length === 0) fail('no trusted root certificates were given');
  if (!validAt(opts.leaf, at)) fail(`the certificate was not valid at ${at.toISOString()} (valid ${opts.leaf.validFrom} to ${opts.leaf.validTo})`);
  if (requireCodeSigning && !allowsCodeSigning(opts.leaf)) fail('the certificate is not issued for code signing');

  let lastWhy = 'no issuer found among the given intermediates and roots';
  const search = (path: X509Certificate[]): X509Certificate[] | undefined => {
    const current = path[path.length - 1] as X509Certificate;
    if (isRoot(current)) return path;
    if (path.length > MAX_DEPTH) return undefined;
    for (const cand of pool) {
      if (path.some((p) => p.raw.equals(cand.raw))) continue;
      if (!issuedBy(current, cand)) continue;
      if (!cand.ca) {
        lastWhy = `issuer ${cand.subject.replace(/\n/g, ', ')} is not a CA`;
        continue;
      }
      if (!validAt(cand, at)) {
        lastWhy = `issuer ${cand.subject.replace(/\n/g, ', ')} was not valid at ${at.toISOString()}`;
        continue;
      }
      if (requireCodeSigning && !allowsCodeSigning(cand)) {
        lastWhy = `issuer ${cand.subject.replace(/\n/g, ', ')} does not allow code signing`;
        continue;
      }
      const found = search([...path, cand]);
      if (found) return found;
    }
    return undefined;
  };
  // A leaf that is itself a trusted root is accepted only as such (pinned certificate).
  const path = search([opts.leaf]);
  if (!path) return fail(lastWhy);
  return path;
}

export interface CertificateIdentity {
  /** The first SAN: an email, URI, or other name Fulcio embedded. */
  subjectAlternativeName?: string;
  /** The OIDC issuer Fulcio recorded (extension 1.3.6.1.4.1.57264.1.8, else .1.1). */
  issuer?: string;
}

export function certificateIdentity(cert: X509Certificate): CertificateIdentity {
  let core: CoreX509;
  try {
    core = CoreX509.parse(cert.raw);
  } catch (e) {
    throw new AirlockCosignError('INVALID_CERTIFICATE', `the certificate cannot be parsed: ${messageOf(e)}`, 'the certificate is corrupted', { cause: e });
  }
  let issuer: string | undefined;
  const v2 = core.extension(OID_FULCIO_ISSUER_V2);
  if (v2) issuer = v2.valueObj.subs?.[0]?.value.toString('utf8');
  else issuer = core.extension(OID_FULCIO_ISSUER_V1)?.value.toString('utf8');
  const san = core.subjectAltName;
  return { ...(san !== undefined ? { subjectAlternativeName: san } : {}), ...(issuer !== undefined ? { issuer } : {}) };
}

/** Who may have signed, as cosign's --certificate-identity[-regexp] / --certificate-oidc-issuer[-regexp]. */
export interface CertificatePolicy {
  identity?: string;
  identityRegexp?: string | RegExp;
  issuer?: string;
  issuerRegexp?: string | RegExp;
}

function regexpOf(r: string | RegExp): RegExp {
  return typeof r === 'string' ? new RegExp(r) : r;
}

export function hasIdentityPolicy(p: CertificatePolicy | undefined): boolean {
  return !!p && (p.identity !== undefined || p.identityRegexp !== undefined);
}
export function hasIssuerPolicy(p: CertificatePolicy | undefined): boolean {
  return !!p && (p.issuer !== undefined || p.issuerRegexp !== undefined);
}

/** Throw CERTIFICATE_POLICY_MISMATCH unless the identity satisfies every given constraint. */
export function checkCertificatePolicy(id: CertificateIdentity, policy: CertificatePolicy): void {
  const san = id.subjectAlternativeName;
  const mismatch = (what: string, want: string, got: string | undefined): never => {
    throw new AirlockCosignError('CERTIFICATE_POLICY_MISMATCH', `certificate ${what} mismatch: expected ${want}, got ${got ?? '(none)'}`, `the artifact was signed by someone else; check --certificate-${what === 'identity' ? 'identity' : 'oidc-issuer'} or do not trust this artifact`);
  };
  if (policy.identity !== undefined && san !== policy.identity) mismatch('identity', policy.identity, san);
  if (policy.identityRegexp !== undefined && (san === undefined || !regexpOf(policy.identityRegexp).test(san))) mismatch('identity', `/${regexpOf(policy.identityRegexp).source}/`, san);
  if (policy.issuer !== undefined && id.issuer !== policy.issuer) mismatch('issuer', policy.issuer, id.issuer);
  if (policy.issuerRegexp !== undefined && (id.issuer === undefined || !regexpOf(policy.issuerRegexp).test(id.issuer))) mismatch('issuer', `/${regexpOf(policy.issuerRegexp).source}/`, id.issuer);
}

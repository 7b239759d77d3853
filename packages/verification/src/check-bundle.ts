/**
 * Checking a Sigstore bundle referrer (cosign v3 signature or attestation) against the trusted
 * signers. Pure (no I/O); every outcome is a Seen record, nothing throws.
 */
import { COSIGN_SIGN_PREDICATE_TYPE, COSIGN_SIGNATURE_TYPE, verifyImageBundle } from '@airlock/cosign';
import type { Seen } from './model.js';
import { certSignerOf, fromError, malformed, settle, type Attempt } from './outcome.js';
import { certificatePolicyOf, type Signer } from './trust.js';

interface BundleShape {
  keyBundle: boolean;
  json: unknown;
}

function bundleShape(bytes: Buffer): BundleShape | string {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'the bundle is not JSON';
  }
  const vm = (json as { verificationMaterial?: Record<string, unknown> } | null)?.verificationMaterial;
  if (!vm || typeof vm !== 'object') return 'the bundle has no verificationMaterial';
  return { keyBundle: vm.publicKey !== undefined && vm.publicKey !== null, json };
}

/** In-toto statement predicate type of a DSSE bundle, without verifying (to sort signatures from attestations). */
export function peekPredicateType(bytes: Buffer): string | undefined {
  try {
    const b = JSON.parse(bytes.toString('utf8')) as { dsseEnvelope?: { payload?: string; payloadType?: string } };
    if (!b.dsseEnvelope?.payload) return undefined;
    const st = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString('utf8')) as { predicateType?: unknown };
    return typeof st.predicateType === 'string' ? st.predicateType : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A Sigstore bundle referrer: a cosign v3 signature (kind 'signature': predicate
 * https://sigstore.dev/cosign/sign/v1) or an attestation (any predicate type).
 */
export function checkBundle(kind: 'signature' | 'attestation', bytes: Buffer, location: string, referrerDigest: string, manifestDigest: string, signers: Signer[], repository?: string): Seen {
  const shape = bundleShape(bytes);
  if (typeof shape === 'string') return malformed('referrer', location, referrerDigest, 'bundle', shape, 'the referrer does not hold a Sigstore bundle');
  const what = kind === 'signature' ? 'the signature' : 'the attestation';
  const attempts = signers.map((s): Attempt => {
    if (s.kind === 'key' && !shape.keyBundle) {
      return { ok: false, signer: s, reason: 'BAD_SIGNATURE', message: `${what} is made with a certificate (keyless), not with the key ${s.name}`, hint: 'verify it with --trusted-root and --certificate-identity/--certificate-oidc-issuer (policy: identity/issuer)' };
    }
    if (s.kind === 'keyless' && shape.keyBundle) {
      return { ok: false, signer: s, reason: 'BAD_SIGNATURE', message: `${what} is made with a key, not by ${s.name}`, hint: 'verify it with --key (policy: key)' };
    }
    let v;
    try {
      v = verifyImageBundle({
        bundleJson: shape.json,
        manifestDigest,
        expectedPredicateType: kind === 'signature' ? COSIGN_SIGN_PREDICATE_TYPE : null,
        ...(s.kind === 'key'
          ? { publicKey: s.key, ...(s.root ? { trustedRoot: s.root.json } : { ignoreTlog: true }) }
          : { trustedRoot: s.root.json, ...certificatePolicyOf(s) }),
      });
    } catch (e) {
      return fromError(e, s, what);
    }
    const statement = v.statement as Record<string, unknown>;
    const certSigner = v.signer.type === 'certificate' ? certSignerOf(v.signer.identity) : undefined;
    if (kind === 'attestation') {
      const env = (shape.json as { dsseEnvelope?: unknown }).dsseEnvelope;
      return { ok: true, signer: s, statement, envelope: env, ...(certSigner ? { certSigner } : {}) };
    }
    const name = v.statement.subject.find((x) => Object.entries(x.digest).some(([a, h]) => `${a}:${h}` === manifestDigest))?.name;
    const output = {
      critical: { identity: { 'docker-reference': name ?? repository ?? '' }, image: { 'docker-manifest-digest': manifestDigest }, type: COSIGN_SIGNATURE_TYPE },
      optional: certSigner ? { Issuer: certSigner.issuer ?? '', Subject: certSigner.subjectAlternativeName ?? '' } : null,
    };
    return { ok: true, signer: s, signedDigest: manifestDigest, output, ...(certSigner ? { certSigner } : {}) };
  });
  const seen = settle({ source: 'referrer', location, digest: referrerDigest, format: 'bundle', certificate: !shape.keyBundle }, attempts);
  if (seen.predicateType === undefined) {
    const pt = peekPredicateType(bytes);
    if (pt) seen.predicateType = pt;
  }
  return seen;
}

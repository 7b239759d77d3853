/**
 * Checking one signature or attestation against the trusted signers. Pure (no I/O): the bytes and
 * annotations come from collect.ts. Every outcome is a Seen record; nothing throws.
 */
import {
  BUNDLE_ANNOTATION,
  CERTIFICATE_ANNOTATION,
  CHAIN_ANNOTATION,
  COSIGN_SIGN_PREDICATE_TYPE,
  COSIGN_SIGNATURE_TYPE,
  DSSE_ENVELOPE_MEDIA_TYPE,
  identityMatches,
  isAirlockCosignError,
  parseEnvelope,
  SIGNATURE_ANNOTATION,
  verifyBlob,
  verifyCosignSignature,
  verifyCosignSignatureWithCertificate,
  verifyImageAttestation,
  verifyImageBundle,
  verifyRekorBundle,
  type CosignErrorCode,
} from '@airlock/cosign';
import { legacyBundle } from './legacy.js';
import type { CertificateSigner, RejectReason, Seen, SeenItem } from './model.js';
import { certificatePolicyOf, type KeylessSigner, type Signer } from './trust.js';

/** How the signed docker-reference of legacy signatures is checked. */
export interface IdentityCheck {
  ignore: boolean;
  /** References the signature may name (any of them); empty: not checked (OCI layouts). */
  expected: string[];
  /** `[from, to]` prefix rewrites applied to the signed reference first. */
  rewrites: [string, string][];
}

type Ok = {
  ok: true;
  signer: Signer;
  output?: unknown;
  dockerReference?: string;
  signedDigest?: string;
  certSigner?: CertificateSigner;
  statement?: Record<string, unknown>;
  envelope?: unknown;
};
type Fail = { ok: false; signer?: Signer; reason: RejectReason; message: string; hint?: string };
type Attempt = Ok | Fail;

/** Later failures say more: a key that verified the bytes but not the digest beats "wrong key". */
const RANK: Record<RejectReason, number> = {
  UNREADABLE: 0,
  BAD_SIGNATURE: 1,
  MALFORMED: 2,
  UNTRUSTED_CERTIFICATE: 3,
  TLOG_INVALID: 4,
  TIMESTAMP_INVALID: 4,
  CERTIFICATE_IDENTITY_MISMATCH: 5,
  WRONG_TYPE: 6,
  DIGEST_MISMATCH: 7,
  IDENTITY_MISMATCH: 8,
};

const CODE_REASON: Partial<Record<CosignErrorCode, RejectReason>> = {
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  DIGEST_MISMATCH: 'DIGEST_MISMATCH',
  SUBJECT_MISMATCH: 'DIGEST_MISMATCH',
  IDENTITY_MISMATCH: 'IDENTITY_MISMATCH',
  CERTIFICATE_CHAIN_INVALID: 'UNTRUSTED_CERTIFICATE',
  INVALID_CERTIFICATE: 'UNTRUSTED_CERTIFICATE',
  CERTIFICATE_POLICY_MISMATCH: 'CERTIFICATE_IDENTITY_MISMATCH',
  TLOG_INVALID: 'TLOG_INVALID',
  TIMESTAMP_INVALID: 'TIMESTAMP_INVALID',
  PREDICATE_TYPE_MISMATCH: 'WRONG_TYPE',
};

function badKey(s: Signer, what: string): Fail {
  return {
    ok: false,
    signer: s,
    reason: 'BAD_SIGNATURE',
    message: `${what} does not verify with the key ${s.name}`,
    hint: 'it was signed with another key, or tampered with; check which key signed it',
  };
}

function fromError(e: unknown, s: Signer | undefined, what: string): Fail {
  if (isAirlockCosignError(e)) {
    const reason = CODE_REASON[e.code] ?? 'MALFORMED';
    if (reason === 'BAD_SIGNATURE' && s?.kind === 'key') return badKey(s, what);
    const msg = reason === 'UNTRUSTED_CERTIFICATE' && /SCT|signed certificate timestamp/i.test(e.message) ? `the certificate has no valid SCT from a trusted CT log: ${e.message}` : e.message;
    return { ok: false, ...(s ? { signer: s } : {}), reason, message: msg, hint: e.hint };
  }
  return { ok: false, ...(s ? { signer: s } : {}), reason: 'MALFORMED', message: e instanceof Error ? e.message : String(e) };
}

function identityFail(dockerReference: string, id: IdentityCheck, s: Signer): Fail {
  const rw = id.rewrites.length ? ` (after rewriting ${id.rewrites.map(([a, b]) => `${a}=${b}`).join(', ')})` : '';
  return {
    ok: false,
    signer: s,
    reason: 'IDENTITY_MISMATCH',
    message: `the signature names ${dockerReference}, not ${id.expected.join(' or ')}${rw}`,
    hint: 'it was signed for another repository; if the image was mirrored, add --identity-rewrite UPSTREAM=MIRROR (policy: identity.rewrite), or do not trust it',
  };
}

export function identityAccepts(dockerReference: string, id: IdentityCheck): boolean {
  if (id.ignore || id.expected.length === 0) return true;
  return id.expected.some((e) => identityMatches(dockerReference, { expectedReference: e, rewrite: id.rewrites }));
}

/** `key cosign.pub`, or the keyless identity and issuer. */
export function signerLabel(s: Signer): string {
  return s.kind === 'key' ? `key ${s.name}` : s.name;
}

/** Combine the per-signer attempts into one record. */
function settle(base: Omit<SeenItem, 'valid' | 'verifiedBy' | 'reason' | 'message' | 'hint'>, attempts: Attempt[]): Seen {
  const oks = attempts.filter((a): a is Ok => a.ok);
  if (oks.length) {
    const first = oks[0] as Ok;
    return {
      ...base,
      valid: true,
      verifiedBy: oks.map((a) => signerLabel(a.signer)),
      verifiedWith: new Set(oks.map((a) => a.signer)),
      ...(first.dockerReference !== undefined ? { dockerReference: first.dockerReference } : {}),
      ...(first.signedDigest !== undefined ? { signedDigest: first.signedDigest } : {}),
      ...(first.certSigner ? { signer: first.certSigner } : {}),
      ...(first.statement && typeof first.statement.predicateType === 'string' ? { predicateType: first.statement.predicateType } : {}),
      detail: {
        ...(first.output !== undefined ? { output: first.output } : {}),
        ...(first.statement ? { statement: first.statement } : {}),
        ...(first.envelope !== undefined ? { envelope: first.envelope } : {}),
      },
    };
  }
  const fails = attempts as Fail[];
  let best = fails[0] ?? { ok: false, reason: 'BAD_SIGNATURE', message: 'no trusted signer was given to verify it with' };
  for (const f of fails) if (RANK[f.reason] > RANK[best.reason]) best = f;
  let message = best.message;
  // "wrong key" for every key: name them all in one line.
  const badKeys = fails.filter((f) => f.reason === 'BAD_SIGNATURE' && f.signer?.kind === 'key');
  if (best.reason === 'BAD_SIGNATURE' && badKeys.length > 1 && badKeys.length === fails.length) {
    message = message.replace(/with the key .*$/, `with the keys ${badKeys.map((f) => f.signer?.name).join(', ')}`);
  }
  return {
    ...base,
    valid: false,
    verifiedBy: [],
    verifiedWith: new Set(),
    reason: best.reason,
    message,
    ...(best.hint ? { hint: best.hint } : {}),
    detail: {},
  };
}

export function unreadable(source: SeenItem['source'], location: string, message: string, hint?: string): Seen {
  return { source, location, format: 'unknown', certificate: false, valid: false, verifiedBy: [], verifiedWith: new Set(), reason: 'UNREADABLE', message, ...(hint ? { hint } : {}), detail: {} };
}

export function malformed(source: SeenItem['source'], location: string, digest: string | undefined, format: SeenItem['format'], message: string, hint?: string): Seen {
  return {
    source,
    location,
    ...(digest ? { digest } : {}),
    format,
    certificate: false,
    valid: false,
    verifiedBy: [],
    verifiedWith: new Set(),
    reason: 'MALFORMED',
    message,
    ...(hint ? { hint } : {}),
    detail: {},
  };
}

function certSignerOf(id: { subjectAlternativeName?: string; issuer?: string }): CertificateSigner {
  return {
    ...(id.subjectAlternativeName !== undefined ? { subjectAlternativeName: id.subjectAlternativeName } : {}),
    ...(id.issuer !== undefined ? { issuer: id.issuer } : {}),
  };
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** cosign verify's output object: the payload, with Subject/Issuer/Bundle added to `optional`. */
function cosignOutput(payload: Buffer, extras: Record<string, unknown>): unknown {
  const doc = JSON.parse(payload.toString('utf8')) as { critical?: unknown; optional?: Record<string, unknown> | null };
  const optional = Object.keys(extras).length ? { ...(doc.optional ?? {}), ...extras } : (doc.optional ?? null);
  return { ...doc, optional };
}

export interface LegacyLayer {
  bytes: Buffer;
  mediaType: string;
  annotations: Record<string, string>;
  digest: string;
}

/** A `.sig` layer: simple-signing payload + base64 signature annotation (+ certificate, chain, Rekor SET). */
export function checkLegacySignature(layer: LegacyLayer, location: string, manifestDigest: string, signers: Signer[], identity: IdentityCheck): Seen {
  const ann = layer.annotations;
  const sigB64 = ann[SIGNATURE_ANNOTATION];
  const certPem = ann[CERTIFICATE_ANNOTATION];
  const rekor = ann[BUNDLE_ANNOTATION];
  const base = { source: 'sig-tag' as const, location, digest: layer.digest, format: 'simple-signing' as const, certificate: certPem !== undefined && certPem !== '' };
  if (sigB64 === undefined || sigB64 === '') {
    return malformed('sig-tag', location, layer.digest, 'simple-signing', `the layer has no ${SIGNATURE_ANNOTATION} annotation`, 'this is not a cosign signature layer');
  }
  const attempts = signers.map((s): Attempt => {
    let ok: Ok;
    if (s.kind === 'key') {
      const r = verifyCosignSignature({ payload: layer.bytes, signatureB64: sigB64, publicKey: s.key, expectedManifestDigest: manifestDigest, mediaType: layer.mediaType });
      if (!r.ok) {
        if (r.reason === 'BAD_SIGNATURE' && r.message.startsWith('the signature does not verify')) return badKey(s, 'the signature');
        return { ok: false, signer: s, reason: r.reason === 'MALFORMED_PAYLOAD' ? 'MALFORMED' : r.reason, message: r.message, hint: r.hint };
      }
      const extras: Record<string, unknown> = {};
      if (rekor && s.root) {
        try {
          verifyRekorBundle({ bundle: rekor, payload: layer.bytes, signature: Buffer.from(sigB64.trim(), 'base64'), signer: { publicKey: s.key }, tlogKeys: s.root.tlogKeys });
        } catch (e) {
          return fromError(e, s, 'the signature');
        }
      }
      if (rekor) extras.Bundle = parseJson(rekor);
      ok = { ok: true, signer: s, dockerReference: r.dockerReference, signedDigest: r.manifestDigest, output: cosignOutput(layer.bytes, extras) };
    } else {
      const a = checkLegacyKeyless(layer, sigB64, manifestDigest, s);
      if (!a.ok) return a;
      ok = a;
    }
    if (ok.dockerReference !== undefined && !identityAccepts(ok.dockerReference, identity)) return identityFail(ok.dockerReference, identity, s);
    return ok;
  });
  const seen = settle(base, attempts);
  if (!seen.valid && seen.dockerReference === undefined) {
    // Still name what the payload claims, when it parses: it helps explain a rejection.
    try {
      const p = JSON.parse(layer.bytes.toString('utf8')) as { critical?: { identity?: { 'docker-reference'?: unknown }; image?: { 'docker-manifest-digest'?: unknown } } };
      const ref = p.critical?.identity?.['docker-reference'];
      const dig = p.critical?.image?.['docker-manifest-digest'];
      if (typeof ref === 'string') seen.dockerReference = ref;
      if (typeof dig === 'string') seen.signedDigest = dig;
    } catch {
      /* not JSON: reported as is */
    }
  }
  return seen;
}

function checkLegacyKeyless(layer: LegacyLayer, sigB64: string, manifestDigest: string, s: KeylessSigner): Attempt {
  const ann = layer.annotations;
  const certPem = ann[CERTIFICATE_ANNOTATION];
  const rekor = ann[BUNDLE_ANNOTATION];
  if (!certPem) {
    return { ok: false, signer: s, reason: 'BAD_SIGNATURE', message: `the signature carries no certificate: it was made with a key, not by ${s.name}`, hint: 'verify it with --key (policy: key)' };
  }
  if (!rekor && !s.pki) {
    return {
      ok: false,
      signer: s,
      reason: 'TLOG_INVALID',
      message: `the keyless signature carries no transparency-log entry (${BUNDLE_ANNOTATION})`,
      hint: 'a short-lived Fulcio certificate is only trusted with its Rekor proof of signing time; re-sign with transparency-log upload',
    };
  }
  let r;
  try {
    r = verifyCosignSignatureWithCertificate({
      payload: layer.bytes,
      signatureB64: sigB64,
      certificatePem: certPem,
      ...(ann[CHAIN_ANNOTATION] ? { chainPem: ann[CHAIN_ANNOTATION] } : {}),
      roots: s.root.roots,
      intermediates: s.root.intermediates,
      ...(rekor && !s.pki ? { rekorBundle: rekor, tlogKeys: s.root.tlogKeys } : {}),
      expectedManifestDigest: manifestDigest,
      mediaType: layer.mediaType,
      certificatePolicy: {
        ...(s.identity !== undefined ? { identity: s.identity } : {}),
        ...(s.identityRegexp !== undefined ? { identityRegexp: s.identityRegexp } : {}),
        ...(s.issuer !== undefined ? { issuer: s.issuer } : {}),
        ...(s.issuerRegexp !== undefined ? { issuerRegexp: s.issuerRegexp } : {}),
      },
    });
  } catch (e) {
    return fromError(e, s, 'the signature');
  }
  if (!r.ok) return { ok: false, signer: s, reason: r.reason === 'MALFORMED_PAYLOAD' ? 'MALFORMED' : r.reason, message: r.message, hint: r.hint };
  // The same material through @sigstore/verify: SCTs, CA validity periods in the trusted root.
  // (Your own PKI has neither SCTs nor a log: the chain check above is the whole story.)
  if (!s.pki && rekor) {
    try {
      const bundleJson = legacyBundle(certPem, rekor, { messageSignature: { payload: layer.bytes, signatureB64: sigB64 } });
      verifyBlob({ artifact: layer.bytes, bundleJson, trustedRoot: s.root.json, ...certificatePolicyOf(s) });
    } catch (e) {
      return fromError(e, s, 'the signature');
    }
  }
  const certSigner = certSignerOf(r.signer);
  return {
    ok: true,
    signer: s,
    dockerReference: r.dockerReference,
    signedDigest: r.manifestDigest,
    certSigner,
    output: cosignOutput(layer.bytes, { ...(rekor ? { Bundle: parseJson(rekor) } : {}), Issuer: certSigner.issuer ?? '', Subject: certSigner.subjectAlternativeName ?? '' }),
  };
}

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

/** A `.att` layer: a DSSE envelope over an in-toto statement (+ certificate and Rekor SET when keyless). */
export function checkLegacyAttestation(layer: LegacyLayer, location: string, manifestDigest: string, signers: Signer[]): Seen {
  const ann = layer.annotations;
  const certPem = ann[CERTIFICATE_ANNOTATION];
  const rekor = ann[BUNDLE_ANNOTATION];
  const base = { source: 'att-tag' as const, location, digest: layer.digest, format: 'dsse' as const, certificate: !!certPem };
  if (layer.mediaType !== DSSE_ENVELOPE_MEDIA_TYPE) {
    return malformed('att-tag', location, layer.digest, 'dsse', `the layer has media type ${layer.mediaType}, not ${DSSE_ENVELOPE_MEDIA_TYPE}`, 'this is not a cosign attestation layer');
  }
  let envelope;
  try {
    envelope = parseEnvelope(layer.bytes);
  } catch (e) {
    const f = fromError(e, undefined, 'the attestation');
    return malformed('att-tag', location, layer.digest, 'dsse', f.message, f.hint);
  }
  const attempts = signers.map((s): Attempt => {
    if (s.kind === 'key') {
      try {
        const r = verifyImageAttestation({ layer: layer.bytes, publicKey: s.key, manifestDigest });
        return { ok: true, signer: s, statement: r.statement as Record<string, unknown>, envelope: r.envelope };
      } catch (e) {
        return fromError(e, s, 'the attestation');
      }
    }
    if (!certPem) return { ok: false, signer: s, reason: 'BAD_SIGNATURE', message: `the attestation carries no certificate: it was made with a key, not by ${s.name}`, hint: 'verify it with --key (policy: key)' };
    if (!rekor) {
      return { ok: false, signer: s, reason: 'TLOG_INVALID', message: `the keyless attestation carries no transparency-log entry (${BUNDLE_ANNOTATION})`, hint: 'keyless attestations are only trusted with their Rekor proof of signing time' };
    }
    try {
      const bundleJson = legacyBundle(certPem, rekor, { dsseEnvelope: envelope });
      const v = verifyImageBundle({ bundleJson, manifestDigest, expectedPredicateType: null, trustedRoot: s.root.json, ...certificatePolicyOf(s) });
      return { ok: true, signer: s, statement: v.statement as Record<string, unknown>, envelope, ...(v.signer.type === 'certificate' ? { certSigner: certSignerOf(v.signer.identity) } : {}) };
    } catch (e) {
      return fromError(e, s, 'the attestation');
    }
  });
  const seen = settle(base, attempts);
  if (seen.predicateType === undefined && ann.predicateType) seen.predicateType = ann.predicateType;
  if (seen.predicateType === undefined) {
    try {
      const st = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { predicateType?: unknown };
      if (typeof st.predicateType === 'string') seen.predicateType = st.predicateType;
    } catch {
      /* reported as is */
    }
  }
  return seen;
}

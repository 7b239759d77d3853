/**
 * The outcome of checking a signature or attestation: per-signer attempts (Ok / Fail), how cosign
 * errors map to reject reasons, and how the attempts settle into one Seen record.
 */
import { identityMatches, isAirlockCosignError, type CosignErrorCode } from '@airlock/cosign';
import type { CertificateSigner, RejectReason, Seen, SeenItem } from './model.js';
import type { Signer } from './trust.js';

/** How the signed docker-reference of legacy signatures is checked. */
export interface IdentityCheck {
  ignore: boolean;
  /** References the signature may name (any of them); empty: not checked (OCI layouts). */
  expected: string[];
  /** `[from, to]` prefix rewrites applied to the signed reference first. */
  rewrites: [string, string][];
}

export type Ok = {
  ok: true;
  signer: Signer;
  output?: unknown;
  dockerReference?: string;
  signedDigest?: string;
  certSigner?: CertificateSigner;
  statement?: Record<string, unknown>;
  envelope?: unknown;
};
export type Fail = { ok: false; signer?: Signer; reason: RejectReason; message: string; hint?: string };
export type Attempt = Ok | Fail;

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

export function badKey(s: Signer, what: string): Fail {
  return {
    ok: false,
    signer: s,
    reason: 'BAD_SIGNATURE',
    message: `${what} does not verify with the key ${s.name}`,
    hint: 'it was signed with another key, or tampered with; check which key signed it',
  };
}

export function fromError(e: unknown, s: Signer | undefined, what: string): Fail {
  if (isAirlockCosignError(e)) {
    const reason = CODE_REASON[e.code] ?? 'MALFORMED';
    if (reason === 'BAD_SIGNATURE' && s?.kind === 'key') return badKey(s, what);
    const msg = reason === 'UNTRUSTED_CERTIFICATE' && /SCT|signed certificate timestamp/i.test(e.message) ? `the certificate has no valid SCT from a trusted CT log: ${e.message}` : e.message;
    return { ok: false, ...(s ? { signer: s } : {}), reason, message: msg, hint: e.hint };
  }
  return { ok: false, ...(s ? { signer: s } : {}), reason: 'MALFORMED', message: e instanceof Error ? e.message : String(e) };
}

export function identityFail(dockerReference: string, id: IdentityCheck, s: Signer): Fail {
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
export function settle(base: Omit<SeenItem, 'valid' | 'verifiedBy' | 'reason' | 'message' | 'hint'>, attempts: Attempt[]): Seen {
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

export function certSignerOf(id: { subjectAlternativeName?: string; issuer?: string }): CertificateSigner {
  return {
    ...(id.subjectAlternativeName !== undefined ? { subjectAlternativeName: id.subjectAlternativeName } : {}),
    ...(id.issuer !== undefined ? { issuer: id.issuer } : {}),
  };
}

export function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** cosign verify's output object: the payload, with Subject/Issuer/Bundle added to `optional`. */
export function cosignOutput(payload: Buffer, extras: Record<string, unknown>): unknown {
  const doc = JSON.parse(payload.toString('utf8')) as { critical?: unknown; optional?: Record<string, unknown> | null };
  const optional = Object.keys(extras).length ? { ...(doc.optional ?? {}), ...extras } : (doc.optional ?? null);
  return { ...doc, optional };
}

/** Why a signature or attestation was rejected. */
export type RejectReason =
  /** does not verify with any trusted key / certificate (wrong key, tampered signature) */
  | 'BAD_SIGNATURE'
  /** verifies, but is for another manifest digest */
  | 'DIGEST_MISMATCH'
  /** verifies, but names another repository (docker-reference) */
  | 'IDENTITY_MISMATCH'
  /** not a cosign signature / bundle / envelope we can read */
  | 'MALFORMED'
  /** keyless: the certificate does not chain to the trusted root, or lacks a valid SCT */
  | 'UNTRUSTED_CERTIFICATE'
  /** keyless: signed by another identity or issuer */
  | 'CERTIFICATE_IDENTITY_MISMATCH'
  /** the transparency-log proof (SET / inclusion proof) is missing or does not verify */
  | 'TLOG_INVALID'
  /** no trusted timestamp proves when it was signed */
  | 'TIMESTAMP_INVALID'
  /** attestations: another predicate type than required */
  | 'WRONG_TYPE'
  /** the attachment could not be read from the registry/layout */
  | 'UNREADABLE';

export interface CertificateSigner {
  subjectAlternativeName?: string;
  issuer?: string;
}

/** One signature or attestation found for an image, and what became of it. */
export interface SeenItem {
  /** `sig-tag` / `att-tag`: cosign's sha256-<hex>.sig/.att tag; `referrer`: a Sigstore bundle referrer. */
  source: 'sig-tag' | 'att-tag' | 'referrer';
  /** Human location, e.g. `sha256-ab12….sig layer 1` or `referrer sha256:…`. */
  location: string;
  /** Digest of the layer (tags) or of the referrer manifest. */
  digest?: string;
  format: 'simple-signing' | 'dsse' | 'bundle' | 'unknown';
  /** Signed with a certificate (keyless / PKI) rather than a bare key. */
  certificate: boolean;
  valid: boolean;
  /** Names of the trusted signers it verified with. */
  verifiedBy: string[];
  reason?: RejectReason;
  message?: string;
  hint?: string;
  /** Legacy signatures: the signed docker-reference and manifest digest. */
  dockerReference?: string;
  signedDigest?: string;
  /** Keyless: who signed. */
  signer?: CertificateSigner;
  /** Attestations: the statement's predicate type. */
  predicateType?: string;
}

/** Kept in memory only: what --json prints and what policy field checks read. */
export interface SeenDetail {
  /** cosign's verify output object for a valid signature. */
  output?: unknown;
  /** The verified in-toto statement (attestations). */
  statement?: Record<string, unknown>;
  /** The DSSE envelope (attestations), as cosign verify-attestation prints it. */
  envelope?: unknown;
}

export interface Seen extends SeenItem {
  detail: SeenDetail;
  /** The signer objects that verified it (identity, not name). */
  verifiedWith: Set<object>;
}

export interface ImageResult {
  /** As given (the list entry or argument). */
  input: string;
  /** What was verified when it differs from input (mirror lists: the destination). */
  reference: string;
  /** `registry/repository`, for registry images. */
  repository?: string;
  digest?: string;
  /** The policy entry applied. */
  policy?: string;
  ok: boolean;
  /** One line per unmet requirement. */
  failures: string[];
  /** The image could not be checked at all. */
  error?: { code: string; message: string; hint?: string };
  signatures: Seen[];
  attestations: Seen[];
  notes: string[];
  durationMs: number;
}

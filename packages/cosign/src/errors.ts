/**
 * Typed errors. Nothing in this package prints or exits: every failure is an AirlockCosignError with
 * a stable `code`, a one-line `message` saying what went wrong, and a `hint` saying what the user
 * must do about it.
 */
export type CosignErrorCode =
  // key material
  | 'INVALID_PEM'
  | 'UNSUPPORTED_PEM_TYPE'
  | 'MALFORMED_ENCRYPTED_KEY'
  | 'UNSUPPORTED_KDF_PARAMS'
  | 'BAD_PASSWORD'
  | 'NOT_PKCS8'
  | 'UNSUPPORTED_KEY_TYPE'
  | 'INVALID_PUBLIC_KEY'
  | 'INVALID_CERTIFICATE'
  // payloads and envelopes
  | 'MALFORMED_PAYLOAD'
  | 'MALFORMED_ENVELOPE'
  | 'MALFORMED_STATEMENT'
  | 'INVALID_PREDICATE_TYPE'
  | 'INVALID_INPUT'
  // verification
  | 'BAD_SIGNATURE'
  | 'DIGEST_MISMATCH'
  | 'IDENTITY_MISMATCH'
  | 'SUBJECT_MISMATCH'
  | 'PREDICATE_TYPE_MISMATCH'
  | 'CERTIFICATE_CHAIN_INVALID'
  | 'CERTIFICATE_POLICY_MISMATCH'
  | 'TLOG_INVALID'
  | 'TIMESTAMP_INVALID'
  | 'MALFORMED_BUNDLE'
  | 'UNSUPPORTED_BUNDLE'
  | 'KEY_REQUIRED'
  | 'TRUSTED_ROOT_REQUIRED'
  | 'INVALID_TRUSTED_ROOT'
  | 'POLICY_REQUIRED'
  // signing through Fulcio/Rekor
  | 'KEYLESS_SIGNING_FAILED';

export class AirlockCosignError extends Error {
  readonly code: CosignErrorCode;
  readonly hint: string;

  constructor(code: CosignErrorCode, message: string, hint: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AirlockCosignError';
    this.code = code;
    this.hint = hint;
  }

  /** One line for a human: what went wrong, then what to do. */
  describe(): string {
    return `${this.message} (${this.hint})`;
  }
}

export function isAirlockCosignError(e: unknown): e is AirlockCosignError {
  return e instanceof AirlockCosignError;
}

/** The message of anything thrown, for wrapping third-party errors. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

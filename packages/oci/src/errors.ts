/**
 * Typed errors. The library never prints or exits: it throws an AirlockError carrying a stable
 * `code`, a one-line user-facing `message`, and a `hint` saying what to do. Only the CLI edge turns
 * these into exit codes.
 */
export type ErrorCode =
  | 'USAGE'
  | 'BAD_REFERENCE'
  | 'BAD_INPUT'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'DIGEST_MISMATCH'
  | 'MANIFEST_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NETWORK'
  | 'TLS'
  | 'REGISTRY'
  | 'LAYOUT'
  | 'CREDENTIALS'
  /** A local file could not be written (a report, a key). */
  | 'IO'
  | 'ABORTED'
  /** Stopped by SIGINT/SIGTERM before it finished. */
  | 'INTERRUPTED';

/** Codes that mean the user's input is wrong (exit 2) rather than a copy that failed (exit 1). */
export const INPUT_ERROR_CODES: ReadonlySet<ErrorCode> = new Set(['USAGE', 'BAD_REFERENCE', 'BAD_INPUT']);

export class AirlockError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly status?: number;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; cause?: unknown; status?: number } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AirlockError';
    this.code = code;
    this.hint = opts.hint;
    this.status = opts.status;
  }

  /** One line for a human: message, then what to do. */
  describe(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export function isAirlockError(e: unknown): e is AirlockError {
  return e instanceof AirlockError;
}

/** Wrap anything thrown into an AirlockError without losing an existing one. */
export function toAirlockError(e: unknown, fallback: ErrorCode = 'REGISTRY'): AirlockError {
  if (e instanceof AirlockError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new AirlockError(fallback, msg, { cause: e });
}

/**
 * The Kubernetes edge's own errors (as cosign's and sigstore-js's packages have theirs): a stable
 * code, a one-line message, a hint. The step converts them to AirlockError (kubeToAirlock).
 */
export type KubeErrorCode =
  /** the kubeconfig / service account is missing or wrong (an input error) */
  | 'KUBE_CONFIG'
  /** an exec credential plugin failed */
  | 'KUBE_EXEC'
  | 'KUBE_UNAUTHORIZED'
  | 'KUBE_FORBIDDEN'
  | 'KUBE_NOT_FOUND'
  | 'KUBE_CONFLICT'
  | 'KUBE_INVALID'
  | 'KUBE_TLS'
  | 'KUBE_NETWORK'
  | 'KUBE_SERVER'
  /** the server answered something that is not the Kubernetes API */
  | 'KUBE_PROTOCOL';

export class KubeError extends Error {
  readonly code: KubeErrorCode;
  readonly hint?: string;
  readonly status?: number;
  /** The Status object's reason (NotFound, Forbidden, Invalid, ...). */
  readonly reason?: string;

  constructor(code: KubeErrorCode, message: string, opts: { hint?: string; status?: number; reason?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'KubeError';
    this.code = code;
    if (opts.hint !== undefined) this.hint = opts.hint;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.reason !== undefined) this.reason = opts.reason;
  }
}

export function isKubeError(e: unknown): e is KubeError {
  return e instanceof KubeError;
}

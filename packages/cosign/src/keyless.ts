/**
 * Keyless signing through Fulcio and Rekor (sigstore-js), for connected sites that sign before
 * the air gap. The caller supplies the identity token and the service URLs explicitly: nothing
 * here falls back to the public-good instances.
 */
import { attest as sigstoreAttest, sign as sigstoreSign, type Bundle as SerializedBundle } from 'sigstore';
import { COSIGN_SIGN_PREDICATE_TYPE } from './bundle.js';
import { INTOTO_PAYLOAD_TYPE } from './dsse.js';
import { AirlockCosignError, messageOf } from './errors.js';
import { imageStatement, serializeStatement, type Statement } from './intoto.js';

export interface KeylessOptions {
  /** An OIDC identity token Fulcio accepts (e.g. from the CI provider). */
  identityToken: string;
  /** Fulcio base URL, e.g. https://fulcio.internal.example */
  fulcioURL: string;
  /** Rekor base URL; required unless tlogUpload is false. */
  rekorURL?: string;
  /** Upload to Rekor (default true). */
  tlogUpload?: boolean;
  /** RFC 3161 timestamp authority URL (optional). */
  tsaServerURL?: string;
  /** Per-request timeout in ms (sigstore default 5000). */
  timeout?: number;
}

function signOptions(o: KeylessOptions) {
  if (!o.identityToken) {
    throw new AirlockCosignError('INVALID_INPUT', 'keyless signing needs an OIDC identity token', 'pass identityToken (e.g. the CI provider\'s OIDC token for audience "sigstore")');
  }
  const tlogUpload = o.tlogUpload ?? true;
  if (tlogUpload && !o.rekorURL) {
    throw new AirlockCosignError('INVALID_INPUT', 'keyless signing with transparency-log upload needs a Rekor URL', 'pass rekorURL, or set tlogUpload: false');
  }
  return {
    identityToken: o.identityToken,
    fulcioURL: o.fulcioURL,
    tlogUpload,
    ...(o.rekorURL ? { rekorURL: o.rekorURL } : {}),
    ...(o.tsaServerURL ? { tsaServerURL: o.tsaServerURL } : {}),
    ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
    retry: 0,
  };
}

async function wrap<T>(p: Promise<T>, token: string): Promise<T> {
  try {
    return await p;
  } catch (e) {
    // sigstore-js quotes the token in some errors: never let a secret reach a log.
    const msg = token ? messageOf(e).split(token).join('[redacted token]') : messageOf(e);
    throw new AirlockCosignError('KEYLESS_SIGNING_FAILED', `keyless signing failed: ${msg}`, 'check the identity token (not expired, audience "sigstore") and that Fulcio/Rekor are reachable at the given URLs', {});
  }
}

/** DSSE-sign `payload` with a Fulcio certificate; returns a Sigstore bundle (v0.3). */
export function signKeyless(input: KeylessOptions & { payload: Buffer; payloadType?: string }): Promise<SerializedBundle> {
  return wrap(sigstoreAttest(input.payload, input.payloadType ?? INTOTO_PAYLOAD_TYPE, signOptions(input)), input.identityToken);
}

/** Message-sign a blob (`cosign sign-blob` keyless). */
export function signBlobKeyless(input: KeylessOptions & { artifact: Buffer }): Promise<SerializedBundle> {
  return wrap(sigstoreSign(input.artifact, signOptions(input)), input.identityToken);
}

/** cosign v3-style keyless image signature/attestation: an in-toto statement about the manifest digest. */
export async function signImageKeyless(
  input: KeylessOptions & { manifestDigest: string; name?: string; predicateType?: string; predicate?: unknown },
): Promise<{ bundle: SerializedBundle; statement: Statement }> {
  const statement = imageStatement({ ...input, predicateType: input.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE });
  const bundle = await signKeyless({ ...input, payload: serializeStatement(statement) });
  return { bundle, statement };
}

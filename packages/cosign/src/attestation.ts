/**
 * Legacy cosign attestations (the `.att` tag): a DSSE envelope over an in-toto statement about the
 * image, stored as a layer of media type application/vnd.dsse.envelope.v1+json with a
 * `predicateType` annotation.
 */
import type { KeyObject } from 'node:crypto';
import { DSSE_ENVELOPE_MEDIA_TYPE, INTOTO_PAYLOAD_TYPE, parseEnvelope, serializeEnvelope, signEnvelope, verifyEnvelope, type DsseEnvelope } from './dsse.js';
import { AirlockCosignError } from './errors.js';
import { buildStatement, cosignPredicate, parseStatement, resolvePredicateType, serializeStatement, statementHasSubjectDigest, type Statement } from './intoto.js';
import type { SignBytesOptions } from './sign.js';
import type { VerifyBytesOptions } from './verify.js';

export interface SignAttestationInput extends SignBytesOptions {
  privateKey: KeyObject;
  /** `sha256:<hex>` of the manifest. */
  manifestDigest: string;
  /** Subject name; cosign uses the repository (cosignDockerReference). */
  name: string;
  /** cosign `--type`: alias (custom, slsaprovenance, spdxjson, ...) or URI. */
  type: string;
  /** The `--predicate` file's bytes. */
  predicate: Uint8Array;
  /** cosign v2 writes in-toto Statement v0.1; default v1. */
  statementVersion?: 'v1' | 'v0.1';
  now?: Date;
}

export interface ImageAttestation {
  envelope: DsseEnvelope;
  /** The layer blob (the envelope JSON). */
  layer: Buffer;
  mediaType: typeof DSSE_ENVELOPE_MEDIA_TYPE;
  annotations: { predicateType: string };
  statement: Statement;
}

export function signImageAttestation(input: SignAttestationInput): ImageAttestation {
  const m = /^sha256:([a-f0-9]{64})$/.exec(input.manifestDigest);
  if (!m) throw new AirlockCosignError('INVALID_INPUT', `invalid manifest digest "${input.manifestDigest}"`, 'pass the manifest digest as sha256:<64 lowercase hex>');
  const { predicateType, predicate } = cosignPredicate({ type: input.type, predicate: input.predicate, ...(input.now ? { now: input.now } : {}) });
  const statement = buildStatement({
    subjects: [{ name: input.name, digest: { sha256: m[1] as string } }],
    predicateType,
    predicate,
    ...(input.statementVersion ? { statementVersion: input.statementVersion } : {}),
  });
  const envelope = signEnvelope(serializeStatement(statement), INTOTO_PAYLOAD_TYPE, input.privateKey, input);
  return { envelope, layer: serializeEnvelope(envelope), mediaType: DSSE_ENVELOPE_MEDIA_TYPE, annotations: { predicateType }, statement };
}

export interface VerifyAttestationInput extends VerifyBytesOptions {
  /** The attestation layer blob (DSSE envelope JSON). */
  layer: Uint8Array;
  publicKey: KeyObject | string | Buffer;
  manifestDigest: string;
  /** Alias or URI; omitted accepts any predicate type. */
  expectedPredicateType?: string;
}

/** Verify a legacy attestation layer: signature, in-toto payload, subject digest, predicate type. */
export function verifyImageAttestation(input: VerifyAttestationInput): { statement: Statement; envelope: DsseEnvelope } {
  const envelope = parseEnvelope(input.layer);
  const { payload, payloadType } = verifyEnvelope(envelope, input.publicKey, input);
  if (payloadType !== INTOTO_PAYLOAD_TYPE) {
    throw new AirlockCosignError('MALFORMED_STATEMENT', `the envelope's payload type is ${payloadType}, not ${INTOTO_PAYLOAD_TYPE}`, 'this is not an in-toto attestation');
  }
  const statement = parseStatement(payload);
  if (!statementHasSubjectDigest(statement, input.manifestDigest.toLowerCase())) {
    throw new AirlockCosignError('SUBJECT_MISMATCH', `the attestation is not about ${input.manifestDigest}`, 'the attestation belongs to another image, or the manifest was modified; do not trust it');
  }
  if (input.expectedPredicateType !== undefined) {
    const want = resolvePredicateType(input.expectedPredicateType);
    if (statement.predicateType !== want) {
      throw new AirlockCosignError('PREDICATE_TYPE_MISMATCH', `the attestation's predicate type is ${statement.predicateType}, not ${want}`, 'select attestations by their predicateType annotation');
    }
  }
  return { statement, envelope };
}

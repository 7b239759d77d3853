/**
 * cosign's "simple signing" payload for image signatures, byte-for-byte as cosign writes it:
 * Go json.Marshal of sigstore's payload.SimpleContainerImage struct —
 * {"critical":{"identity":{"docker-reference":R},"image":{"docker-manifest-digest":D},
 *  "type":"cosign container image signature"},"optional":ANNOTATIONS|null}
 */
import { z } from 'zod';
import { AirlockCosignError } from './errors.js';
import { parseJsonDocument } from './json.js';
import { goMarshal, goString } from './gojson.js';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

const DIGEST_RE = /^sha(256:[a-f0-9]{64}|384:[a-f0-9]{96}|512:[a-f0-9]{128})$/;

export const SimpleSigningPayloadSchema = z.object({
  critical: z.object({
    identity: z.object({ 'docker-reference': z.string() }),
    image: z.object({ 'docker-manifest-digest': z.string().regex(DIGEST_RE, 'not a sha256/sha384/sha512 digest') }),
    type: z.literal(COSIGN_SIGNATURE_TYPE),
  }),
  optional: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type SimpleSigningPayload = z.infer<typeof SimpleSigningPayloadSchema>;

export interface SimpleSigningInput {
  /** The `docker-reference`, as cosign writes it (see cosignDockerReference): `registry/repository`. */
  dockerReference: string;
  /** `sha256:<hex>` of the manifest being signed. */
  manifestDigest: string;
  /** cosign `-a key=value` annotations; omitted/undefined writes `"optional":null`. */
  annotations?: Record<string, unknown> | null;
}

export function buildSimpleSigningPayload(input: SimpleSigningInput): Buffer {
  if (!DIGEST_RE.test(input.manifestDigest)) {
    throw new AirlockCosignError('INVALID_INPUT', `invalid manifest digest "${input.manifestDigest}"`, 'pass the manifest digest as sha256:<64 lowercase hex>');
  }
  const optional = input.annotations == null ? 'null' : goMarshal(input.annotations);
  const json =
    `{"critical":{"identity":{"docker-reference":${goString(input.dockerReference)}},` +
    `"image":{"docker-manifest-digest":${goString(input.manifestDigest)}},` +
    `"type":${goString(COSIGN_SIGNATURE_TYPE)}},"optional":${optional}}`;
  return Buffer.from(json, 'utf8');
}

/** Parse and validate payload bytes; throws MALFORMED_PAYLOAD. */
export function parseSimpleSigningPayload(payload: Uint8Array): SimpleSigningPayload {
  return parseJsonDocument(payload, SimpleSigningPayloadSchema, {
    code: 'MALFORMED_PAYLOAD',
    notJson: 'the signed payload is not JSON',
    invalid: 'the signed payload is not a cosign simple-signing payload',
    hint: 'this is not a cosign image signature',
  });
}

/**
 * DSSE envelopes (https://github.com/secure-systems-lab/dsse): the signature is over
 * PAE = "DSSEv1" SP len(type) SP type SP len(body) SP body (lengths in bytes, ASCII decimal).
 */
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { AirlockCosignError } from './errors.js';
import { parseJsonDocument } from './json.js';
import { goString } from './gojson.js';
import { toPublicKey } from './keys/public.js';
import { signBytes, type SignBytesOptions } from './sign.js';
import { verifyBytes, type VerifyBytesOptions } from './verify.js';

export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Media type of a legacy cosign attestation layer (`.att` tag). */
export const DSSE_ENVELOPE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';

/** Also accept URL-safe base64, which the DSSE spec allows readers to take. */
const base64any = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'not base64');

export const DsseEnvelopeSchema = z.object({
  payloadType: z.string(),
  payload: base64any,
  signatures: z.array(z.object({ keyid: z.string().optional(), sig: base64any })),
});
export type DsseEnvelope = z.infer<typeof DsseEnvelopeSchema>;

export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `, 'utf8'), type, Buffer.from(` ${payload.length} `, 'utf8'), payload]);
}

function decodeB64(s: string): Buffer {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

export interface SignEnvelopeOptions extends SignBytesOptions {
  /** Written to signatures[].keyid; cosign writes "". */
  keyid?: string;
}

/** Sign `payload` into a one-signature DSSE envelope. */
export function signEnvelope(payload: Uint8Array, payloadType: string, privateKey: KeyObject, opts: SignEnvelopeOptions = {}): DsseEnvelope {
  const sig = signBytes(pae(payloadType, payload), privateKey, opts);
  return { payloadType, payload: Buffer.from(payload).toString('base64'), signatures: [{ keyid: opts.keyid ?? '', sig: sig.toString('base64') }] };
}

/** The envelope as Go marshals go-securesystemslib's dsse.Envelope: payloadType, payload, signatures[{keyid, sig}]. */
export function serializeEnvelope(env: DsseEnvelope): Buffer {
  const sigs = env.signatures.map((s) => `{"keyid":${goString(s.keyid ?? '')},"sig":${goString(s.sig)}}`).join(',');
  return Buffer.from(`{"payloadType":${goString(env.payloadType)},"payload":${goString(env.payload)},"signatures":[${sigs}]}`, 'utf8');
}

export function parseEnvelope(input: string | Uint8Array | unknown): DsseEnvelope {
  return parseJsonDocument(input, DsseEnvelopeSchema, {
    code: 'MALFORMED_ENVELOPE',
    notJson: 'the DSSE envelope is not JSON',
    invalid: 'the DSSE envelope is malformed',
    hint: 'this is not a DSSE attestation',
  });
}

export interface VerifiedEnvelope {
  payloadType: string;
  payload: Buffer;
  /** Index of the signature that verified. */
  signatureIndex: number;
}

/** Verify that at least one envelope signature is valid for `publicKey`; throws BAD_SIGNATURE. */
export function verifyEnvelope(envelope: DsseEnvelope, publicKey: KeyObject | string | Buffer, opts: VerifyBytesOptions = {}): VerifiedEnvelope {
  const key = toPublicKey(publicKey);
  const payload = decodeB64(envelope.payload);
  const message = pae(envelope.payloadType, payload);
  const index = envelope.signatures.findIndex((s) => verifyBytes(message, decodeB64(s.sig), key, opts));
  if (index < 0) {
    throw new AirlockCosignError(
      'BAD_SIGNATURE',
      envelope.signatures.length ? 'no DSSE signature verifies with the given public key' : 'the DSSE envelope has no signatures',
      'the attestation was signed with another key, or was tampered with; check which key signed it',
    );
  }
  return { payloadType: envelope.payloadType, payload, signatureIndex: index };
}

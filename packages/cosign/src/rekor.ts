/**
 * cosign's legacy Rekor bundle annotation (`dev.sigstore.cosign/bundle`): a Signed Entry Timestamp
 * over the canonical JSON {body, integratedTime, logID, logIndex}, checked offline with the Rekor key.
 * The body must be the hashedrekord entry for this payload, signature and signer.
 */
import { createHash, verify as nodeVerify, type KeyObject, type X509Certificate } from 'node:crypto';
import { json as coreJson } from '@sigstore/core';
import { z } from 'zod';
import { AirlockCosignError, messageOf } from './errors.js';
import { decodePemBlocks } from './pem.js';
import type { TlogKey } from './trustedroot.js';

export const RekorBundleSchema = z.object({
  SignedEntryTimestamp: z.string(),
  Payload: z.object({
    body: z.string(),
    integratedTime: z.number().int(),
    logIndex: z.number().int(),
    logID: z.string().regex(/^[a-f0-9]{64}$/),
  }),
});
export type RekorBundle = z.infer<typeof RekorBundleSchema>;

const HashedRekordSchema = z.object({
  apiVersion: z.literal('0.0.1'),
  kind: z.literal('hashedrekord'),
  spec: z.object({
    data: z.object({ hash: z.object({ algorithm: z.string(), value: z.string() }) }),
    signature: z.object({ content: z.string(), publicKey: z.object({ content: z.string() }) }),
  }),
});

export interface RekorBundleVerification {
  integratedTime: Date;
  logIndex: number;
  logId: string;
}

export interface VerifyRekorBundleInput {
  /** The annotation value (JSON text) or parsed object. */
  bundle: string | unknown;
  payload: Uint8Array;
  signature: Uint8Array;
  signer: { certificate: X509Certificate } | { publicKey: KeyObject };
  tlogKeys: TlogKey[];
}

const bad = (why: string): AirlockCosignError =>
  new AirlockCosignError('TLOG_INVALID', `the Rekor bundle does not verify: ${why}`, 'the signature\'s transparency-log proof is forged or for another signature; do not trust it (or pass the right Rekor key)');

export function verifyRekorBundle(input: VerifyRekorBundleInput): RekorBundleVerification {
  let raw = input.bundle;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch (e) {
      throw bad(`not JSON (${messageOf(e)})`);
    }
  }
  const parsed = RekorBundleSchema.safeParse(raw);
  if (!parsed.success) throw bad('malformed bundle');
  const { SignedEntryTimestamp, Payload } = parsed.data;

  const key = input.tlogKeys.find((k) => k.logId === Payload.logID);
  if (!key) throw bad(`no trusted Rekor key with log ID ${Payload.logID}`);
  const integratedTime = new Date(Payload.integratedTime * 1000);
  if ((key.validFor?.start && integratedTime < key.validFor.start) || (key.validFor?.end && integratedTime > key.validFor.end)) {
    throw bad('the entry was integrated outside the Rekor key\'s validity period');
  }
  const canonical = coreJson.canonicalize({ body: Payload.body, integratedTime: Payload.integratedTime, logIndex: Payload.logIndex, logID: Payload.logID });
  const setOk = (() => {
    try {
      return nodeVerify('sha256', Buffer.from(canonical, 'utf8'), key.publicKey, Buffer.from(SignedEntryTimestamp, 'base64'));
    } catch {
      return false;
    }
  })();
  if (!setOk) throw bad('the signed entry timestamp signature is invalid');

  let body: z.infer<typeof HashedRekordSchema>;
  try {
    const res = HashedRekordSchema.safeParse(JSON.parse(Buffer.from(Payload.body, 'base64').toString('utf8')));
    if (!res.success) throw new Error('not a hashedrekord v0.0.1 entry');
    body = res.data;
  } catch (e) {
    throw bad(`unsupported entry body (${messageOf(e)})`);
  }
  const { data, signature } = body.spec;
  if (data.hash.algorithm !== 'sha256' || data.hash.value !== createHash('sha256').update(input.payload).digest('hex')) {
    throw bad('the entry is for a different payload');
  }
  if (!Buffer.from(signature.content, 'base64').equals(Buffer.from(input.signature))) {
    throw bad('the entry holds a different signature');
  }
  const entryBlocks = decodePemBlocks(Buffer.from(signature.publicKey.content, 'base64').toString('utf8'));
  const entryDer = entryBlocks[0]?.bytes;
  const signerMatches =
    'certificate' in input.signer
      ? !!entryDer && entryBlocks[0]?.type === 'CERTIFICATE' && entryDer.equals(input.signer.certificate.raw)
      : !!entryDer && entryBlocks[0]?.type === 'PUBLIC KEY' && entryDer.equals(input.signer.publicKey.export({ format: 'der', type: 'spki' }));
  if (!signerMatches) throw bad('the entry was made by a different signer');
  if ('certificate' in input.signer) {
    const c = input.signer.certificate;
    if (integratedTime < new Date(c.validFrom) || integratedTime > new Date(c.validTo)) {
      throw bad('the entry was integrated outside the signing certificate\'s validity');
    }
  }
  return { integratedTime, logIndex: Payload.logIndex, logId: Payload.logID };
}

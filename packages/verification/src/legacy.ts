/**
 * cosign's legacy keyless material (layer annotations: certificate, chain, Rekor SET bundle) as a
 * Sigstore bundle v0.1, so that @sigstore/verify can check what the annotation-level checks do not:
 * the certificate's SCTs against the trusted root's CT logs and the CAs' validity periods.
 */
import { createHash } from 'node:crypto';
import { readCertificate, RekorBundleSchema } from '@airlock/cosign';

export type LegacyContent =
  | { messageSignature: { payload: Buffer; signatureB64: string } }
  | { dsseEnvelope: { payloadType: string; payload: string; signatures: { keyid?: string; sig: string }[] } };

/** Build the v0.1 bundle; throws (a plain Error with a reason) when the annotations are unusable. */
export function legacyBundle(certificatePem: string, rekorBundle: string, content: LegacyContent): unknown {
  const leaf = readCertificate(certificatePem);
  const set = RekorBundleSchema.parse(JSON.parse(rekorBundle));
  const body = JSON.parse(Buffer.from(set.Payload.body, 'base64').toString('utf8')) as { kind?: unknown; apiVersion?: unknown };
  if (typeof body.kind !== 'string' || typeof body.apiVersion !== 'string') throw new Error('the Rekor entry body has no kind/apiVersion');
  const verificationMaterial = {
    x509CertificateChain: { certificates: [{ rawBytes: leaf.raw.toString('base64') }] },
    tlogEntries: [
      {
        logIndex: String(set.Payload.logIndex),
        logId: { keyId: Buffer.from(set.Payload.logID, 'hex').toString('base64') },
        kindVersion: { kind: body.kind, version: body.apiVersion },
        integratedTime: String(set.Payload.integratedTime),
        inclusionPromise: { signedEntryTimestamp: set.SignedEntryTimestamp },
        canonicalizedBody: set.Payload.body,
      },
    ],
  };
  const mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
  if ('messageSignature' in content) {
    const { payload, signatureB64 } = content.messageSignature;
    return {
      mediaType,
      verificationMaterial,
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
        signature: signatureB64.trim(),
      },
    };
  }
  const env = content.dsseEnvelope;
  return {
    mediaType,
    verificationMaterial,
    dsseEnvelope: { payloadType: env.payloadType, payload: env.payload, signatures: env.signatures.map((s) => ({ keyid: s.keyid ?? '', sig: s.sig })) },
  };
}

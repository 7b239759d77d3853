/**
 * Checking cosign's legacy tag layers (`.sig` and `.att`) against the trusted signers. Pure (no I/O);
 * every outcome is a Seen record, nothing throws.
 */
import {
  BUNDLE_ANNOTATION,
  CERTIFICATE_ANNOTATION,
  CHAIN_ANNOTATION,
  DSSE_ENVELOPE_MEDIA_TYPE,
  parseEnvelope,
  SIGNATURE_ANNOTATION,
  verifyBlob,
  verifyCosignSignature,
  verifyCosignSignatureWithCertificate,
  verifyImageAttestation,
  verifyImageBundle,
  verifyRekorBundle,
} from '@airlock/cosign';
import { legacyBundle } from './legacy.js';
import type { Seen } from './model.js';
import { badKey, certSignerOf, cosignOutput, fromError, identityAccepts, identityFail, malformed, parseJson, settle, type Attempt, type IdentityCheck, type Ok } from './outcome.js';
import { certificatePolicyOf, type KeylessSigner, type Signer } from './trust.js';

export interface LegacyLayer {
  bytes: Buffer;
  mediaType: string;
  annotations: Record<string, string>;
  digest: string;
}

/** A `.sig` layer: simple-signing payload + base64 signature annotation (+ certificate, chain, Rekor SET). */
export function checkLegacySignature(layer: LegacyLayer, location: string, manifestDigest: string, signers: Signer[], identity: IdentityCheck): Seen {
  const ann = layer.annotations;
  const sigB64 = ann[SIGNATURE_ANNOTATION];
  const certPem = ann[CERTIFICATE_ANNOTATION];
  const rekor = ann[BUNDLE_ANNOTATION];
  const base = { source: 'sig-tag' as const, location, digest: layer.digest, format: 'simple-signing' as const, certificate: certPem !== undefined && certPem !== '' };
  if (sigB64 === undefined || sigB64 === '') {
    return malformed('sig-tag', location, layer.digest, 'simple-signing', `the layer has no ${SIGNATURE_ANNOTATION} annotation`, 'this is not a cosign signature layer');
  }
  const attempts = signers.map((s): Attempt => {
    let ok: Ok;
    if (s.kind === 'key') {
      const r = verifyCosignSignature({ payload: layer.bytes, signatureB64: sigB64, publicKey: s.key, expectedManifestDigest: manifestDigest, mediaType: layer.mediaType });
      if (!r.ok) {
        if (r.reason === 'BAD_SIGNATURE' && r.message.startsWith('the signature does not verify')) return badKey(s, 'the signature');
        return { ok: false, signer: s, reason: r.reason === 'MALFORMED_PAYLOAD' ? 'MALFORMED' : r.reason, message: r.message, hint: r.hint };
      }
      const extras: Record<string, unknown> = {};
      if (rekor && s.root) {
        try {
          verifyRekorBundle({ bundle: rekor, payload: layer.bytes, signature: Buffer.from(sigB64.trim(), 'base64'), signer: { publicKey: s.key }, tlogKeys: s.root.tlogKeys });
        } catch (e) {
          return fromError(e, s, 'the signature');
        }
      }
      if (rekor) extras.Bundle = parseJson(rekor);
      ok = { ok: true, signer: s, dockerReference: r.dockerReference, signedDigest: r.manifestDigest, output: cosignOutput(layer.bytes, extras) };
    } else {
      const a = checkLegacyKeyless(layer, sigB64, manifestDigest, s);
      if (!a.ok) return a;
      ok = a;
    }
    if (ok.dockerReference !== undefined && !identityAccepts(ok.dockerReference, identity)) return identityFail(ok.dockerReference, identity, s);
    return ok;
  });
  const seen = settle(base, attempts);
  if (!seen.valid && seen.dockerReference === undefined) {
    // Still name what the payload claims, when it parses: it helps explain a rejection.
    try {
      const p = JSON.parse(layer.bytes.toString('utf8')) as { critical?: { identity?: { 'docker-reference'?: unknown }; image?: { 'docker-manifest-digest'?: unknown } } };
      const ref = p.critical?.identity?.['docker-reference'];
      const dig = p.critical?.image?.['docker-manifest-digest'];
      if (typeof ref === 'string') seen.dockerReference = ref;
      if (typeof dig === 'string') seen.signedDigest = dig;
    } catch {
      /* not JSON: reported as is */
    }
  }
  return seen;
}

function checkLegacyKeyless(layer: LegacyLayer, sigB64: string, manifestDigest: string, s: KeylessSigner): Attempt {
  const ann = layer.annotations;
  const certPem = ann[CERTIFICATE_ANNOTATION];
  const rekor = ann[BUNDLE_ANNOTATION];
  if (!certPem) {
    return { ok: false, signer: s, reason: 'BAD_SIGNATURE', message: `the signature carries no certificate: it was made with a key, not by ${s.name}`, hint: 'verify it with --key (policy: key)' };
  }
  if (!rekor && !s.pki) {
    return {
      ok: false,
      signer: s,
      reason: 'TLOG_INVALID',
      message: `the keyless signature carries no transparency-log entry (${BUNDLE_ANNOTATION})`,
      hint: 'a short-lived Fulcio certificate is only trusted with its Rekor proof of signing time; re-sign with transparency-log upload',
    };
  }
  let r;
  try {
    r = verifyCosignSignatureWithCertificate({
      payload: layer.bytes,
      signatureB64: sigB64,
      certificatePem: certPem,
      ...(ann[CHAIN_ANNOTATION] ? { chainPem: ann[CHAIN_ANNOTATION] } : {}),
      roots: s.root.roots,
      intermediates: s.root.intermediates,
      ...(rekor && !s.pki ? { rekorBundle: rekor, tlogKeys: s.root.tlogKeys } : {}),
      expectedManifestDigest: manifestDigest,
      mediaType: layer.mediaType,
      certificatePolicy: {
        ...(s.identity !== undefined ? { identity: s.identity } : {}),
        ...(s.identityRegexp !== undefined ? { identityRegexp: s.identityRegexp } : {}),
        ...(s.issuer !== undefined ? { issuer: s.issuer } : {}),
        ...(s.issuerRegexp !== undefined ? { issuerRegexp: s.issuerRegexp } : {}),
      },
    });
  } catch (e) {
    return fromError(e, s, 'the signature');
  }
  if (!r.ok) return { ok: false, signer: s, reason: r.reason === 'MALFORMED_PAYLOAD' ? 'MALFORMED' : r.reason, message: r.message, hint: r.hint };
  // The same material through @sigstore/verify: SCTs, CA validity periods in the trusted root.
  // (Your own PKI has neither SCTs nor a log: the chain check above is the whole story.)
  if (!s.pki && rekor) {
    try {
      const bundleJson = legacyBundle(certPem, rekor, { messageSignature: { payload: layer.bytes, signatureB64: sigB64 } });
      verifyBlob({ artifact: layer.bytes, bundleJson, trustedRoot: s.root.json, ...certificatePolicyOf(s) });
    } catch (e) {
      return fromError(e, s, 'the signature');
    }
  }
  const certSigner = certSignerOf(r.signer);
  return {
    ok: true,
    signer: s,
    dockerReference: r.dockerReference,
    signedDigest: r.manifestDigest,
    certSigner,
    output: cosignOutput(layer.bytes, { ...(rekor ? { Bundle: parseJson(rekor) } : {}), Issuer: certSigner.issuer ?? '', Subject: certSigner.subjectAlternativeName ?? '' }),
  };
}

/** A `.att` layer: a DSSE envelope over an in-toto statement (+ certificate and Rekor SET when keyless). */
export function checkLegacyAttestation(layer: LegacyLayer, location: string, manifestDigest: string, signers: Signer[]): Seen {
  const ann = layer.annotations;
  const certPem = ann[CERTIFICATE_ANNOTATION];
  const rekor = ann[BUNDLE_ANNOTATION];
  const base = { source: 'att-tag' as const, location, digest: layer.digest, format: 'dsse' as const, certificate: !!certPem };
  if (layer.mediaType !== DSSE_ENVELOPE_MEDIA_TYPE) {
    return malformed('att-tag', location, layer.digest, 'dsse', `the layer has media type ${layer.mediaType}, not ${DSSE_ENVELOPE_MEDIA_TYPE}`, 'this is not a cosign attestation layer');
  }
  let envelope;
  try {
    envelope = parseEnvelope(layer.bytes);
  } catch (e) {
    const f = fromError(e, undefined, 'the attestation');
    return malformed('att-tag', location, layer.digest, 'dsse', f.message, f.hint);
  }
  const attempts = signers.map((s): Attempt => {
    if (s.kind === 'key') {
      try {
        const r = verifyImageAttestation({ layer: layer.bytes, publicKey: s.key, manifestDigest });
        return { ok: true, signer: s, statement: r.statement as Record<string, unknown>, envelope: r.envelope };
      } catch (e) {
        return fromError(e, s, 'the attestation');
      }
    }
    if (!certPem) return { ok: false, signer: s, reason: 'BAD_SIGNATURE', message: `the attestation carries no certificate: it was made with a key, not by ${s.name}`, hint: 'verify it with --key (policy: key)' };
    if (!rekor) {
      return { ok: false, signer: s, reason: 'TLOG_INVALID', message: `the keyless attestation carries no transparency-log entry (${BUNDLE_ANNOTATION})`, hint: 'keyless attestations are only trusted with their Rekor proof of signing time' };
    }
    try {
      const bundleJson = legacyBundle(certPem, rekor, { dsseEnvelope: envelope });
      const v = verifyImageBundle({ bundleJson, manifestDigest, expectedPredicateType: null, trustedRoot: s.root.json, ...certificatePolicyOf(s) });
      return { ok: true, signer: s, statement: v.statement as Record<string, unknown>, envelope, ...(v.signer.type === 'certificate' ? { certSigner: certSignerOf(v.signer.identity) } : {}) };
    } catch (e) {
      return fromError(e, s, 'the attestation');
    }
  });
  const seen = settle(base, attempts);
  if (seen.predicateType === undefined && ann.predicateType) seen.predicateType = ann.predicateType;
  if (seen.predicateType === undefined) {
    try {
      const st = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { predicateType?: unknown };
      if (typeof st.predicateType === 'string') seen.predicateType = st.predicateType;
    } catch {
      /* reported as is */
    }
  }
  return seen;
}

/**
 * Sigstore bundles (v0.3): build key-signed bundles the way cosign v3 does offline (no Rekor, no
 * TSA), and verify bundles — with a public key, or keyless against a trusted root — fully offline
 * through @sigstore/verify.
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { bundleFromJSON, bundleToJSON, toDSSEBundle, toMessageSignatureBundle, type Bundle, type SerializedBundle } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { PolicyError, toSignedEntity, toTrustMaterial, VerificationError, Verifier, type SignedEntity } from '@sigstore/verify';
import { checkCertificatePolicy, hasIdentityPolicy, hasIssuerPolicy, type CertificateIdentity, type CertificatePolicy } from './certs.js';
import { INTOTO_PAYLOAD_TYPE, pae } from './dsse.js';
import { AirlockCosignError, messageOf } from './errors.js';
import { imageStatement, parseStatement, serializeStatement, statementHasSubjectDigest, type Statement } from './intoto.js';
import { publicKeyHint, toPublicKey } from './keys/public.js';
import { signBytes, type Ed25519Mode } from './sign.js';
import { parseTrustedRootJson, toProtoTrustedRoot, type TrustedRootJson } from './trustedroot.js';
import { verifyBytes } from './verify.js';

export const BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** Predicate type of a cosign v3 image signature (an in-toto statement about the manifest digest). */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
/** OCI artifactType / layer media type of a bundle attached as a referrer. */
export const BUNDLE_ARTIFACT_TYPE = BUNDLE_V03_MEDIA_TYPE;

// ---------------------------------------------------------------------------------------------
// Building

export interface KeyBundleOptions {
  privateKey: KeyObject;
  ed25519?: Ed25519Mode;
}

function finish(bundle: Bundle): SerializedBundle {
  const json = bundleToJSON(bundle);
  // Offline: no transparency log entries and no timestamps (cosign --tlog-upload=false).
  json.verificationMaterial.tlogEntries = [];
  delete (json.verificationMaterial as { timestampVerificationData?: unknown }).timestampVerificationData;
  return json;
}

/** A DSSE bundle signed with a key: verificationMaterial.publicKey.hint + dsseEnvelope, tlogEntries []. */
export function buildKeyDsseBundle(opts: KeyBundleOptions & { payload: Uint8Array; payloadType?: string }): SerializedBundle {
  const payloadType = opts.payloadType ?? INTOTO_PAYLOAD_TYPE;
  const payload = Buffer.from(opts.payload);
  const signature = signBytes(pae(payloadType, payload), opts.privateKey, opts);
  const bundle = toDSSEBundle({ artifact: payload, artifactType: payloadType, signature, keyHint: publicKeyHint(opts.privateKey) });
  const json = finish(bundle);
  if (json.dsseEnvelope) json.dsseEnvelope.signatures = json.dsseEnvelope.signatures.map((s) => ({ ...s, keyid: '' }));
  return json;
}

/** A message-signature bundle (`cosign sign-blob --key --bundle`, offline) over an artifact. */
export function buildKeyBlobBundle(opts: KeyBundleOptions & { artifact: Uint8Array }): SerializedBundle {
  const signature = signBytes(opts.artifact, opts.privateKey, opts);
  const digest = createHash('sha256').update(opts.artifact).digest();
  return finish(toMessageSignatureBundle({ digest, signature, keyHint: publicKeyHint(opts.privateKey) }));
}

export interface ImageBundleInput extends KeyBundleOptions {
  /** `sha256:<hex>` of the image manifest (the statement's subject). */
  manifestDigest: string;
  /** Subject name, e.g. `registry/repository` (optional). */
  name?: string;
  /** Defaults to COSIGN_SIGN_PREDICATE_TYPE with an empty predicate (an image signature). */
  predicateType?: string;
  predicate?: unknown;
}

/**
 * cosign v3-style image signing/attesting with a key, offline: a DSSE in-toto statement whose
 * subject is the manifest digest. Default predicate type https://sigstore.dev/cosign/sign/v1.
 */
export function buildImageBundle(input: ImageBundleInput): { bundle: SerializedBundle; statement: Statement } {
  const statement = imageStatement({ ...input, predicateType: input.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE });
  return { bundle: buildKeyDsseBundle({ ...input, payload: serializeStatement(statement) }), statement };
}

// ---------------------------------------------------------------------------------------------
// Verifying

export interface BundleTrustOptions {
  /** For bundles signed with a key (verificationMaterial.publicKey). */
  publicKey?: KeyObject | string | Buffer;
  /**
   * trusted_root.json (text or parsed). Required for certificate (keyless) bundles; with a key it
   * is needed only to check any tlog entries / timestamps the bundle carries.
   */
  trustedRoot?: TrustedRootJson | string | Buffer | unknown;
  /** Certificate identity policy (required for keyless: an identity and an issuer). */
  certificateIdentity?: string;
  certificateIdentityRegexp?: string | RegExp;
  certificateIssuer?: string;
  certificateIssuerRegexp?: string | RegExp;
  /**
   * Key bundles only: skip tlog entries and timestamps entirely (offline bundles from another
   * Sigstore instance). Default false.
   */
  ignoreTlog?: boolean;
  /** Minimum verified tlog entries. Default: 0 with a key, 1 keyless. */
  tlogThreshold?: number;
  /** Minimum verified timestamps (tlog integrated time or RFC 3161). Default: 0 with a key, 1 keyless. */
  timestampThreshold?: number;
  /** Minimum verified SCTs (keyless). Default 1. */
  ctlogThreshold?: number;
}

export type BundleSigner = { type: 'key'; hint: string } | { type: 'certificate'; identity: CertificateIdentity; certificate: X509Certificate };

export interface VerifiedBundle {
  mediaType: string;
  content: 'dsseEnvelope' | 'messageSignature';
  signer: BundleSigner;
  /** DSSE payload and type (dsseEnvelope bundles). */
  payload?: Buffer;
  payloadType?: string;
  /** The in-toto statement, for DSSE bundles of type application/vnd.in-toto+json. */
  statement?: Statement;
  tlogEntries: number;
  timestamps: number;
}

function bundleError(code: 'MALFORMED_BUNDLE' | 'UNSUPPORTED_BUNDLE', why: string, e?: unknown): AirlockCosignError {
  return new AirlockCosignError(code, `${code === 'MALFORMED_BUNDLE' ? 'the bundle is malformed' : 'the bundle is not supported'}: ${why}`, 'fetch the bundle again; it must be a Sigstore bundle (v0.1-v0.3) as cosign or sigstore clients write it', e === undefined ? {} : { cause: e });
}

/** Parse and validate a Sigstore bundle (JSON text, bytes, or object). */
export function parseBundle(input: string | Uint8Array | unknown): Bundle {
  let json = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      json = JSON.parse(Buffer.from(input as string | Uint8Array).toString('utf8'));
    } catch (e) {
      throw bundleError('MALFORMED_BUNDLE', `not JSON (${messageOf(e)})`, e);
    }
  }
  const mediaType = (json as { mediaType?: unknown } | null)?.mediaType;
  if (typeof mediaType !== 'string' || !/^application\/vnd\.dev\.sigstore\.bundle(\.v0\.[123]\+json|\+json;version=0\.[123])$/.test(mediaType)) {
    throw bundleError('UNSUPPORTED_BUNDLE', `unknown mediaType ${String(mediaType)}`);
  }
  try {
    return bundleFromJSON(json);
  } catch (e) {
    throw bundleError('MALFORMED_BUNDLE', messageOf(e), e);
  }
}

const VERIFY_CODE: Record<string, { code: 'CERTIFICATE_CHAIN_INVALID' | 'TLOG_INVALID' | 'TIMESTAMP_INVALID' | 'BAD_SIGNATURE'; hint: string }> = {
  CERTIFICATE_ERROR: { code: 'CERTIFICATE_CHAIN_INVALID', hint: 'the signing certificate does not chain to the trusted root at signing time; use the trusted root of the Sigstore instance that signed it' },
  PUBLIC_KEY_ERROR: { code: 'BAD_SIGNATURE', hint: 'the key is not valid for this signature; check which key signed it' },
  SIGNATURE_ERROR: { code: 'BAD_SIGNATURE', hint: 'the signature does not match the content; it was signed by another key or tampered with' },
  TIMESTAMP_ERROR: { code: 'TIMESTAMP_INVALID', hint: 'no trusted timestamp proves when this was signed; use the right trusted root or a bundle with its timestamps' },
};

function mapVerifyError(e: unknown): AirlockCosignError {
  if (e instanceof AirlockCosignError) return e;
  if (e instanceof PolicyError) {
    return new AirlockCosignError('CERTIFICATE_POLICY_MISMATCH', e.message, 'the artifact was signed by another identity; check the expected identity and issuer', { cause: e });
  }
  if (e instanceof VerificationError) {
    const mapped = VERIFY_CODE[e.code] ?? {
      code: 'TLOG_INVALID' as const,
      hint: 'the transparency log proof in the bundle does not verify; do not trust this bundle, or use the trusted root of the instance that logged it',
    };
    return new AirlockCosignError(mapped.code, `bundle verification failed: ${e.message}`, mapped.hint, { cause: e });
  }
  return new AirlockCosignError('MALFORMED_BUNDLE', `bundle verification failed: ${messageOf(e)}`, 'the bundle is malformed or inconsistent; fetch it again', { cause: e });
}

const EMPTY_ROOT = TrustedRoot.fromJSON({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] });

function certificatesOf(bundle: Bundle): Buffer[] {
  const c = bundle.verificationMaterial.content;
  if (c.$case === 'x509CertificateChain') return c.x509CertificateChain.certificates.map((x) => Buffer.from(x.rawBytes));
  if (c.$case === 'certificate') return [Buffer.from(c.certificate.rawBytes)];
  return [];
}

function isSelfSigned(der: Buffer): boolean {
  try {
    const c = new X509Certificate(der);
    return c.checkIssued(c) && c.verify(c.publicKey);
  } catch {
    return false;
  }
}

/**
 * Wrap the entity @sigstore/verify builds so that:
 * - signatures are checked with this package's verifier (all cosign schemes: ECDSA with the
 *   key's hash or SHA-256, Ed25519 pure or ph);
 * - a DSSE envelope logged as a Rekor v2 hashedrekord (digest = SHA-256 of the PAE, rekor-v2
 *   spec "hashedrekord over DSSE") is accepted;
 * - key bundles can drop their tlog/timestamp material when the caller opts out.
 */
function adaptEntity(entity: SignedEntity, bundle: Bundle, artifact: Buffer | undefined, ignoreTlog: boolean): SignedEntity {
  const sig = entity.signature;
  let signed: Buffer | undefined;
  let paeDigest: Buffer | undefined;
  if (bundle.content.$case === 'dsseEnvelope') {
    const env = bundle.content.dsseEnvelope;
    signed = pae(env.payloadType, Buffer.from(env.payload));
    const allHashedRekord = bundle.verificationMaterial.tlogEntries.length > 0 && bundle.verificationMaterial.tlogEntries.every((t) => t.kindVersion?.kind === 'hashedrekord');
    if (allHashedRekord) paeDigest = createHash('sha256').update(signed).digest();
  } else {
    signed = artifact;
  }
  const adapted: SignedEntity = {
    ...entity,
    signature: {
      signature: sig.signature,
      compareSignature: (s) => sig.compareSignature(s),
      compareDigest: (d) => sig.compareDigest(d) || (paeDigest !== undefined && d.equals(paeDigest)),
      verifySignature: (key) => sig.verifySignature(key) || (signed !== undefined && verifyBytes(signed, sig.signature, key)),
    },
  };
  if (ignoreTlog) {
    adapted.tlogEntries = [];
    adapted.timestamps = [];
  }
  return adapted;
}

interface CoreInput extends BundleTrustOptions {
  bundle: string | Uint8Array | unknown;
  artifact?: Buffer;
}

function verifyBundleCore(input: CoreInput): { verified: VerifiedBundle; bundle: Bundle } {
  const bundle = parseBundle(input.bundle);
  const keyMode = bundle.verificationMaterial.content.$case === 'publicKey';
  const root = input.trustedRoot === undefined ? undefined : toProtoTrustedRoot(parseTrustedRootJson(input.trustedRoot));
  let publicKey: KeyObject | undefined;
  const policy: CertificatePolicy = {
    ...(input.certificateIdentity !== undefined ? { identity: input.certificateIdentity } : {}),
    ...(input.certificateIdentityRegexp !== undefined ? { identityRegexp: input.certificateIdentityRegexp } : {}),
    ...(input.certificateIssuer !== undefined ? { issuer: input.certificateIssuer } : {}),
    ...(input.certificateIssuerRegexp !== undefined ? { issuerRegexp: input.certificateIssuerRegexp } : {}),
  };

  if (keyMode) {
    if (input.publicKey === undefined) {
      throw new AirlockCosignError('KEY_REQUIRED', 'the bundle was signed with a key, but no public key was given', 'pass the signer\'s public key (cosign.pub)');
    }
    publicKey = toPublicKey(input.publicKey);
    if (bundle.verificationMaterial.tlogEntries.length > 0 && !root && !input.ignoreTlog) {
      throw new AirlockCosignError('TRUSTED_ROOT_REQUIRED', 'the bundle carries transparency-log entries, but no trusted root was given to check them', 'pass the trusted_root.json of the Sigstore instance it was logged to, or set ignoreTlog to skip the log (offline trust in the key alone)');
    }
  } else {
    if (!root) {
      throw new AirlockCosignError('TRUSTED_ROOT_REQUIRED', 'the bundle is signed with a certificate (keyless); a trusted root is required', 'pass trusted_root.json (e.g. publicGoodTrustedRoot() for the public Sigstore instance)');
    }
    if (!hasIdentityPolicy(policy) || !hasIssuerPolicy(policy)) {
      throw new AirlockCosignError('POLICY_REQUIRED', 'keyless verification needs an expected certificate identity and OIDC issuer', 'pass certificateIdentity (or certificateIdentityRegexp) and certificateIssuer (or certificateIssuerRegexp)');
    }
    if (input.ignoreTlog) {
      throw new AirlockCosignError('INVALID_INPUT', 'ignoreTlog is only allowed for key-signed bundles', 'keyless signatures are only trustworthy with their transparency-log proof');
    }
    const certs = certificatesOf(bundle);
    if (certs.length === 0) throw bundleError('MALFORMED_BUNDLE', 'empty certificate chain');
    if (certs.some(isSelfSigned)) {
      throw new AirlockCosignError('CERTIFICATE_CHAIN_INVALID', 'the bundle\'s certificate chain contains a root certificate', 'roots must come from the trusted root, never from the bundle; do not trust this bundle');
    }
  }

  if (bundle.content.$case === 'messageSignature') {
    if (!input.artifact) {
      throw new AirlockCosignError('INVALID_INPUT', 'the bundle signs a blob (message signature); the artifact is required to verify it', 'use verifyBlob with the artifact bytes');
    }
    const md = bundle.content.messageSignature.messageDigest;
    const alg = ({ 1: 'sha256', 2: 'sha384', 3: 'sha512' } as Record<number, string>)[md.algorithm] ?? 'sha256';
    if (!createHash(alg).update(input.artifact).digest().equals(Buffer.from(md.digest))) {
      throw new AirlockCosignError('DIGEST_MISMATCH', 'the artifact does not match the digest in the bundle', 'this bundle is for another file, or the file was modified; do not trust it');
    }
  }

  let entity: SignedEntity;
  try {
    entity = toSignedEntity(bundle, bundle.content.$case === 'messageSignature' ? input.artifact : undefined);
  } catch (e) {
    throw bundleError('MALFORMED_BUNDLE', messageOf(e), e);
  }
  entity = adaptEntity(entity, bundle, input.artifact, keyMode && !!input.ignoreTlog);

  const key = publicKey;
  const trust = toTrustMaterial(root ?? EMPTY_ROOT, key ? () => ({ publicKey: key, validFor: () => true }) : undefined);
  const verifier = new Verifier(trust, {
    tlogThreshold: input.tlogThreshold ?? (keyMode ? 0 : 1),
    timestampThreshold: input.timestampThreshold ?? (keyMode ? 0 : 1),
    ctlogThreshold: input.ctlogThreshold ?? (keyMode ? 0 : 1),
  });
  let signerIdentity: CertificateIdentity | undefined;
  try {
    const signer = verifier.verify(entity);
    if (!keyMode) {
      signerIdentity = {
        ...(signer.identity?.subjectAlternativeName !== undefined ? { subjectAlternativeName: signer.identity.subjectAlternativeName } : {}),
        ...(signer.identity?.extensions?.issuer !== undefined ? { issuer: signer.identity.extensions.issuer } : {}),
      };
      checkCertificatePolicy(signerIdentity, policy);
    }
  } catch (e) {
    throw mapVerifyError(e);
  }

  const verified: VerifiedBundle = {
    mediaType: bundle.mediaType,
    content: bundle.content.$case,
    signer: keyMode
      ? { type: 'key', hint: bundle.verificationMaterial.content.$case === 'publicKey' ? bundle.verificationMaterial.content.publicKey.hint : '' }
      : { type: 'certificate', identity: signerIdentity ?? {}, certificate: new X509Certificate(certificatesOf(bundle)[0] as Buffer) },
    tlogEntries: entity.tlogEntries.length,
    timestamps: entity.timestamps.length,
  };
  if (bundle.content.$case === 'dsseEnvelope') {
    const env = bundle.content.dsseEnvelope;
    verified.payload = Buffer.from(env.payload);
    verified.payloadType = env.payloadType;
    if (env.payloadType === INTOTO_PAYLOAD_TYPE) verified.statement = parseStatement(verified.payload);
  }
  return { verified, bundle };
}

export interface VerifyBlobInput extends BundleTrustOptions {
  /** The signed file; for a DSSE bundle, a subject of the in-toto statement. */
  artifact: Buffer;
  /** bundle.sigstore.json (text, bytes or parsed). */
  bundleJson: string | Uint8Array | unknown;
}

/**
 * `cosign verify-blob --bundle` / sigstore-conformance `verify`: verify a bundle for an artifact,
 * offline. Throws AirlockCosignError (code says why) unless everything checks out.
 */
export function verifyBlob(input: VerifyBlobInput): VerifiedBundle {
  const { verified } = verifyBundleCore({ ...input, bundle: input.bundleJson });
  if (verified.content === 'dsseEnvelope') {
    const artifactDigest = `sha256:${createHash('sha256').update(input.artifact).digest('hex')}`;
    const ok = verified.statement ? statementHasSubjectDigest(verified.statement, artifactDigest) : !!verified.payload?.equals(input.artifact);
    if (!ok) {
      throw new AirlockCosignError('SUBJECT_MISMATCH', `the attestation does not cover the artifact (${artifactDigest})`, 'this bundle is for another file, or the file was modified; do not trust it');
    }
  }
  return verified;
}

export interface VerifyImageBundleInput extends BundleTrustOptions {
  bundleJson: string | Uint8Array | unknown;
  /** `sha256:<hex>` of the image manifest the bundle must be about. */
  manifestDigest: string;
  /** Required predicate type; default COSIGN_SIGN_PREDICATE_TYPE. `null` accepts any (attestations). */
  expectedPredicateType?: string | null;
}

/**
 * Verify a bundle attached to an image (cosign v3 signature or attestation referrer): the bundle,
 * then that its in-toto statement's subject is the manifest digest and its predicate type is the
 * expected one. (@sigstore/verify does not look inside DSSE payloads; this does.)
 */
export function verifyImageBundle(input: VerifyImageBundleInput): VerifiedBundle & { statement: Statement } {
  const { verified } = verifyBundleCore({ ...input, bundle: input.bundleJson });
  if (verified.content !== 'dsseEnvelope' || !verified.statement) {
    throw new AirlockCosignError('MALFORMED_STATEMENT', 'the image bundle does not hold an in-toto statement in a DSSE envelope', 'this bundle is not an image signature or attestation');
  }
  const statement = verified.statement;
  if (!statementHasSubjectDigest(statement, input.manifestDigest.toLowerCase())) {
    throw new AirlockCosignError('SUBJECT_MISMATCH', `the bundle is about ${statement.subject.map((s) => Object.entries(s.digest).map(([a, h]) => `${a}:${h}`).join(',')).join(' ')}, not ${input.manifestDigest}`, 'the signature belongs to another image, or the manifest was modified; do not trust this image');
  }
  const expected = input.expectedPredicateType === undefined ? COSIGN_SIGN_PREDICATE_TYPE : input.expectedPredicateType;
  if (expected !== null && statement.predicateType !== expected) {
    throw new AirlockCosignError('PREDICATE_TYPE_MISMATCH', `the statement's predicate type is ${statement.predicateType}, not ${expected}`, 'this referrer is a different kind of attestation; select bundles by predicate type');
  }
  return { ...verified, statement };
}

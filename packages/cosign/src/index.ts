/**
 * @airlock/cosign — read and write exactly what cosign does, offline: encrypted cosign keys,
 * simple-signing image signatures, DSSE/in-toto attestations and Sigstore bundles, and their
 * verification (keys, certificates + Rekor SETs, trusted roots). No registry I/O, no output.
 * Failures are AirlockCosignError { code, message, hint }.
 */
export { AirlockCosignError, isAirlockCosignError, type CosignErrorCode } from './errors.js';
export { keyAlgorithm, defaultHash, type KeyAlgorithm } from './keys/algorithm.js';
export {
  COSIGN_PRIVATE_KEY_PEM_TYPE,
  SIGSTORE_PRIVATE_KEY_PEM_TYPE,
  ACCEPTED_SCRYPT_N,
  EncryptedKeySchema,
  type EncryptedKey,
} from './keys/encrypted.js';
export {
  encryptPrivateKey,
  generateKeyPair,
  importKeyPair,
  readEncryptedPrivateKey,
  readPlainPrivateKey,
  type CosignKeyPair,
  type CosignKeyPairPem,
  type EncryptOptions,
} from './keys/private.js';
export {
  publicKeyHint,
  publicKeyOfCertificate,
  publicKeyToPem,
  readCertificate,
  readCertificates,
  readPublicKey,
  toPublicKey,
} from './keys/public.js';
export {
  buildSimpleSigningPayload,
  parseSimpleSigningPayload,
  SimpleSigningPayloadSchema,
  SIMPLE_SIGNING_MEDIA_TYPE,
  COSIGN_SIGNATURE_TYPE,
  type SimpleSigningInput,
  type SimpleSigningPayload,
} from './simplesigning.js';
export { cosignDockerReference, identityMatches, parseReference, type IdentityPolicy, type ParsedReference } from './reference.js';
export {
  signBytes,
  signImage,
  SIGNATURE_ANNOTATION,
  CERTIFICATE_ANNOTATION,
  CHAIN_ANNOTATION,
  BUNDLE_ANNOTATION,
  RFC3161_TIMESTAMP_ANNOTATION,
  type Ed25519Mode,
  type ImageSignature,
  type SignBytesOptions,
  type SignImageInput,
} from './sign.js';
export {
  verifyBytes,
  verifyCosignSignature,
  verifyCosignSignatureWithCertificate,
  type CertificateSignatureResult,
  type CosignSignatureResult,
  type VerifyBytesOptions,
  type VerifyCertificateSignatureInput,
  type VerifyCosignSignatureInput,
  type VerifyFailureReason,
} from './verify.js';
export {
  certificateIdentity,
  checkCertificatePolicy,
  verifyCertificateChain,
  type CertificateIdentity,
  type CertificatePolicy,
  type ChainOptions,
} from './certs.js';
export { verifyRekorBundle, RekorBundleSchema, type RekorBundle, type RekorBundleVerification, type VerifyRekorBundleInput } from './rekor.js';
export {
  parseTrustedRootJson,
  publicGoodTrustedRoot,
  tlogKeyFromPublicKey,
  tlogKeysFromTrustedRoot,
  TrustedRootJsonSchema,
  type TlogKey,
  type TrustedRootJson,
} from './trustedroot.js';
export {
  pae,
  signEnvelope,
  verifyEnvelope,
  parseEnvelope,
  serializeEnvelope,
  DsseEnvelopeSchema,
  INTOTO_PAYLOAD_TYPE,
  DSSE_ENVELOPE_MEDIA_TYPE,
  type DsseEnvelope,
  type SignEnvelopeOptions,
  type VerifiedEnvelope,
} from './dsse.js';
export {
  buildStatement,
  imageStatement,
  cosignPredicate,
  parseStatement,
  resolvePredicateType,
  serializeStatement,
  statementHasSubjectDigest,
  StatementSchema,
  SubjectSchema,
  PREDICATE_TYPE_ALIASES,
  STATEMENT_TYPE_V1,
  STATEMENT_TYPE_V01,
  type CosignPredicateInput,
  type Statement,
  type StatementInput,
  type Subject,
} from './intoto.js';
export {
  buildImageBundle,
  buildKeyBlobBundle,
  buildKeyDsseBundle,
  parseBundle,
  verifyBlob,
  verifyImageBundle,
  BUNDLE_V03_MEDIA_TYPE,
  BUNDLE_ARTIFACT_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  type BundleSigner,
  type BundleTrustOptions,
  type ImageBundleInput,
  type KeyBundleOptions,
  type VerifiedBundle,
  type VerifyBlobInput,
  type VerifyImageBundleInput,
} from './bundle.js';
export {
  signImageAttestation,
  verifyImageAttestation,
  type ImageAttestation,
  type SignAttestationInput,
  type VerifyAttestationInput,
} from './attestation.js';
export { signKeyless, signBlobKeyless, signImageKeyless, type KeylessOptions } from './keyless.js';

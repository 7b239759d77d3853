/**
 * Checking one signature or attestation against the trusted signers. Pure (no I/O): the bytes and
 * annotations come from engine.ts. Every outcome is a Seen record; nothing throws.
 *
 * This module is the public face: legacy `.sig`/`.att` layers are checked in check-legacy.ts, bundle
 * referrers in check-bundle.ts, and the shared result helpers live in outcome.ts.
 */
export { checkBundle, peekPredicateType } from './check-bundle.js';
export { checkLegacyAttestation, checkLegacySignature, type LegacyLayer } from './check-legacy.js';
export { identityAccepts, malformed, signerLabel, unreadable, type IdentityCheck } from './outcome.js';

// Verifying signatures and attestations offline, with policies: the library behind the verify
// steps, and every step that gates on a signature (bundle --require-signature, deploy-image).
export * from './model.js';
export * from './trust.js';
export * from './policy.js';
export * from './check.js';
export * from './engine.js';
export * from './report.js';
export * from './run.js';
export { runVerifyBlob } from './blob.js';
export * from './outputs.js';

// Signing images and files where they live (registries, OCI layouts): the library behind the
// sign, attest, attach and sign-blob steps, and every step that signs what it writes.
export * from './actions.js';
export * from './images.js';
export * from './keys.js';
export * from './secrets.js';
export * from './signer.js';

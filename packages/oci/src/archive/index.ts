/**
 * Archives: the Airlock bundle (an OCI layout in one deterministic tar, optionally split into
 * parts) and the tar reader/writer under it. A subpath of its own (`@airlock/oci/archive`), so steps
 * that never touch archives do not carry the tar code.
 */
export * from './format.js';
export * from './tar.js';
export * from './random-access.js';
export * from './output.js';
export * from './bundle-writer.js';
export * from './bundle-reader.js';

export * from './blobs.js';
export * from './cosign-tag.js';
export * from './referrer.js';
export * from './tags.js';

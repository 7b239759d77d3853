import type { Readable } from 'node:stream';
import type { Digest } from '../digest/digest.js';
import type { Manifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { BlobOpener, UploadOutcome } from '../registry/upload.js';

export type { Descriptor };

/**
 * Where content is read from: one repository of a registry, or one OCI image layout.
 * Every manifest returned is digest-checked; every blob stream is verified as it flows.
 */
export interface ContentSource {
  /** Human name for messages, e.g. `registry.example.com/team/app` or `oci:/path`. */
  readonly name: string;
  /** For cross-repository mounts: where this content lives when it is a registry. */
  readonly registryRepo?: { registry: string; repository: string };
  getManifest(reference: string): Promise<Manifest>;
  /** The blob's content, verified against the descriptor as it streams. */
  openBlob(desc: Descriptor, opts?: { onProgress?: (bytes: number) => void }): Promise<Readable>;
  listTags(): Promise<string[]>;
  /** OCI 1.1 referrers API; undefined when the source has no such API. */
  referrers(digest: Digest): Promise<Descriptor[] | undefined>;
}

/** Where content is written to. Writes are ordered by the engine: blobs, then manifests, then tags. */
export interface ContentSink {
  readonly name: string;
  readonly registryRepo?: { registry: string; repository: string };
  /** Digest a tag or digest currently resolves to, if it exists. */
  resolve(reference: string): Promise<Digest | undefined>;
  findManifest(reference: string): Promise<Manifest | undefined>;
  hasBlob(desc: Descriptor): Promise<boolean>;
  pushBlob(desc: Descriptor, open: BlobOpener, opts: { mountFrom?: string }): Promise<UploadOutcome>;
  /** Store a manifest's exact bytes under a tag or its digest. */
  pushManifest(m: Manifest, reference: string): Promise<{ subjectProcessed: boolean }>;
}

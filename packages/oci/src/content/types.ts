import type { Readable } from 'node:stream';
import type { Digest } from '../digest/digest.js';
import type { Manifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { BlobOpener, UploadOutcome } from '../registry/upload.js';

export type { Descriptor };

/** Re-reads left for one blob, shared by everything that retries it (a cut read, a bad digest). */
export interface RetryBudget {
  left: number;
}

export interface OpenBlobOptions {
  onProgress?: (bytes: number) => void;
  /** Shared retry budget; without one the source uses its own (`--retries`). */
  budget?: RetryBudget;
}

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
  /**
   * The blob's content, verified against the descriptor as it streams. A source that can continue a
   * cut read does so itself (within `opts.budget`); a failure of its own shows as `sourceFaultOf`.
   */
  openBlob(desc: Descriptor, opts?: OpenBlobOptions): Promise<Readable>;
  listTags(): Promise<string[]>;
  /** OCI 1.1 referrers API; undefined when the source has no such API. */
  referrers(digest: Digest): Promise<Descriptor[] | undefined>;
  /**
   * Optional: whether a manifest digest was made by the source rather than read (a `docker save`
   * archive has no manifest of its own): reports say the digest was computed.
   */
  isSynthesized?(digest: Digest): boolean;
}

/**
 * Where content is written to. Writes are ordered by the engine: blobs, then manifests, then tags.
 * A sink that writes a container (an archive's index, a bundle's tar) does it in `close()`; the
 * engine closes every sink it opened, and a failed close fails the images written to it.
 */
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
  /**
   * Optional: the tags the sink holds now. A registry repository with none has no blobs to ask
   * about (the engine then skips per-blob existence checks it knows would answer 404).
   */
  listTags?(): Promise<string[]>;
  /** Optional: the OCI 1.1 referrers API; undefined when the sink has none (a fallback tag is kept). */
  referrers?(digest: Digest): Promise<Descriptor[] | undefined>;
  /** Optional: finish what was written (an archive's index, a temp file renamed). Called once. */
  close?(): Promise<void>;
  /** Optional: the sink holds one platform per image (a docker archive): an index is narrowed to one. */
  readonly onePlatform?: boolean;
  /** Optional: false when the sink cannot hold signatures and referrers (a docker archive): none are sent. */
  readonly acceptsReferrers?: boolean;
}

/** A repository that can be read and written: where signatures and attachments are added. */
export type Repository = ContentSource & ContentSink;

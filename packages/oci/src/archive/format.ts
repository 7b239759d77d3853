import { z } from 'zod';
import { isDigest, type Digest } from '../digest/digest.js';
import { descriptorSchema } from '../manifest/schema.js';

/**
 * The Airlock bundle format (docs/bundle-format.md): one uncompressed tar whose root is an OCI image
 * layout, plus the inventory, its checksum and optionally its signature. Split, the tar is cut into
 * parts described by FILE.parts.json. Every document here is zod-validated when read.
 */

export const BUNDLE_FILES = {
  layout: 'oci-layout',
  index: 'index.json',
  inventory: 'airlock-inventory.json',
  checksum: 'airlock-inventory.json.sha256',
  signature: 'airlock-inventory.json.sigstore.json',
} as const;

export const INVENTORY_MEDIA_TYPE = 'application/vnd.airlock.bundle.inventory.v1+json';
export const PARTS_MEDIA_TYPE = 'application/vnd.airlock.bundle.parts.v1+json';
/** File artifacts: one layer per file, titled with its path. */
export const FILE_ARTIFACT_TYPE = 'application/vnd.airlock.file.v1';
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';

/** Size caps for the JSON documents of a bundle (a hostile bundle cannot make us buffer gigabytes). */
export const MAX_JSON_BYTES = {
  layout: 4 * 1024,
  index: 32 * 1024 * 1024,
  inventory: 64 * 1024 * 1024,
  checksum: 1024,
  signature: 1024 * 1024,
  parts: 1024 * 1024,
} as const;

const digest = z.string().refine(isDigest, 'not a valid digest') as unknown as z.ZodType<Digest>;
const hex64 = z.string().regex(/^[a-f0-9]{64}$/, 'not a hex SHA-256');

export const attachmentSchema = z
  .object({
    /** signature/attestation/sbom: cosign's .sig/.att/.sbom tags; referrer: an OCI 1.1 referrer. */
    kind: z.enum(['signature', 'attestation', 'sbom', 'referrer']),
    /** The manifest it is attached to. */
    subject: digest,
    digest,
    tag: z.string().optional(),
    artifactType: z.string().optional(),
  })
  .strict();
export type Attachment = z.infer<typeof attachmentSchema>;

export const imageEntrySchema = z
  .object({
    kind: z.literal('image'),
    /** The name inside the bundle: the original reference, `HOST/REPO:TAG` or `HOST/REPO@DIGEST`. */
    name: z.string().min(1),
    /** The source as written in airlock.yaml (a registry reference or oci:DIR:TAG). */
    source: z.string(),
    /** The manifest the name points at in the bundle. */
    digest,
    /** When a platform filter wrote a new index: the source's own index digest. */
    sourceDigest: digest.optional(),
    mediaType: z.string(),
    /** Bytes of everything this image needs (manifests, config, layers, attachments), shared blobs counted. */
    size: z.number().int().nonnegative(),
    platforms: z.array(z.string()).optional(),
    attachments: z.array(attachmentSchema),
  })
  .strict();

export const fileEntrySchema = z
  .object({
    kind: z.literal('file'),
    /** The name given in airlock.yaml (or the file's base name). */
    name: z.string().min(1),
    /** The artifact manifest. */
    digest,
    size: z.number().int().nonnegative(),
    directory: z.boolean(),
    files: z.array(z.object({ path: z.string(), digest, size: z.number().int().nonnegative() }).strict()),
  })
  .strict();

export const chartEntrySchema = z
  .object({
    kind: z.literal('chart'),
    name: z.string().min(1),
    version: z.string().min(1),
    /** Where it came from: an https repository, an oci:// reference or a local .tgz. */
    source: z.string(),
    /** The Helm OCI artifact manifest (as helm push writes it). */
    digest,
    size: z.number().int().nonnegative(),
    /** With images-from-chart: the image references the chart declares (each also an image entry). */
    images: z.array(z.string()).optional(),
  })
  .strict();

export const inventoryEntrySchema = z.discriminatedUnion('kind', [imageEntrySchema, fileEntrySchema, chartEntrySchema]);
export type InventoryEntry = z.infer<typeof inventoryEntrySchema>;
export type ImageEntry = z.infer<typeof imageEntrySchema>;
export type FileEntry = z.infer<typeof fileEntrySchema>;
export type ChartEntry = z.infer<typeof chartEntrySchema>;

/** A blob, and (images' blobs) the first repository by name that uses it: where a later load can mount it from. */
const blobRef = z.object({ digest, size: z.number().int().nonnegative(), repository: z.string().optional() }).strict();
export type BlobRef = z.infer<typeof blobRef>;

export const inventorySchema = z
  .object({
    mediaType: z.literal(INVENTORY_MEDIA_TYPE),
    schemaVersion: z.literal(1),
    /** RFC 3339; SOURCE_DATE_EPOCH when set (reproducible bundles). */
    created: z.string(),
    airlock: z.string(),
    /** Incremental bundles: the earlier bundle's inventory digest. */
    previous: z.object({ inventory: digest }).strict().optional(),
    entries: z.array(inventoryEntrySchema),
    /** Every blob stored in this bundle (manifests included), sorted by digest. */
    blobs: z.array(blobRef),
    /** Blobs this bundle needs but left out because an earlier bundle carried them. */
    external: z.array(blobRef),
  })
  .strict();
export type Inventory = z.infer<typeof inventorySchema>;

export const partsFileSchema = z
  .object({
    mediaType: z.literal(PARTS_MEDIA_TYPE),
    /** The bundle's file name (its parts are NAME.001, NAME.002, …). */
    bundle: z.string().min(1),
    size: z.number().int().nonnegative(),
    sha256: hex64,
    splitSize: z.number().int().positive(),
    inventory: digest,
    parts: z.array(z.object({ name: z.string(), size: z.number().int().positive(), sha256: hex64 }).strict()).min(1),
  })
  .strict();
export type PartsFile = z.infer<typeof partsFileSchema>;

export const layoutIndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});

import { z } from 'zod';
import type { Digest } from '../digest/digest.js';

export interface TransferStats {
  blobs: { copied: number; skipped: number; mounted: number };
  bytes: number;
  manifests: number;
  referrers: number;
  /** Requests sent again after a transient failure, blobs fetched again, uploads started again. */
  retries: number;
}

export function newStats(): TransferStats {
  return { blobs: { copied: 0, skipped: 0, mounted: 0 }, bytes: 0, manifests: 0, referrers: 0, retries: 0 };
}

export type ImageStatus = 'copied' | 'skipped' | 'planned' | 'failed';

/** One image's outcome: the machine-readable record in --json, --report and JUnit. */
export interface ImageResult extends Omit<TransferStats, 'retries'> {
  /** Retries made for this image (absent in results made before they were counted). */
  retries?: number;
  source: string;
  destination: string;
  sourceDigest?: Digest;
  /** The source had no manifest of its own (a `docker save` archive): sourceDigest was computed. */
  sourceDigestComputed?: boolean;
  destinationDigest?: Digest;
  status: ImageStatus;
  platforms?: string[];
  error?: { code: string; message: string; hint?: string };
  durationMs: number;
}

/** The report schema, so other steps (verify, deploy) can read a copy report safely. */
export const imageResultSchema = z.object({
  source: z.string(),
  destination: z.string(),
  sourceDigest: z.string().optional(),
  sourceDigestComputed: z.boolean().optional(),
  destinationDigest: z.string().optional(),
  status: z.enum(['copied', 'skipped', 'planned', 'failed']),
  platforms: z.array(z.string()).optional(),
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }).optional(),
  durationMs: z.number(),
  blobs: z.object({ copied: z.number(), skipped: z.number(), mounted: z.number() }),
  bytes: z.number(),
  manifests: z.number(),
  referrers: z.number(),
  /** Absent in reports written before retries were counted. */
  retries: z.number().optional(),
});

export const copyReportSchema = z.object({
  tool: z.literal('airlock'),
  command: z.string(),
  ok: z.boolean(),
  dryRun: z.boolean(),
  images: z.array(imageResultSchema),
  totals: z.object({
    images: z.number(),
    failed: z.number(),
    skipped: z.number(),
    bytes: z.number(),
    blobs: z.object({ copied: z.number(), skipped: z.number(), mounted: z.number() }),
    retries: z.number().optional(),
    durationMs: z.number(),
  }),
});
export type CopyReport = z.infer<typeof copyReportSchema>;

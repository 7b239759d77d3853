import type { ImageResult } from '@airlock/oci';
import { reportTotals, sortImages } from '@airlock/step-kit/report';
import type { Shard } from '@airlock/step-kit/shard';
import type { PruneEntry } from './prune.js';

export type SyncOutcome = 'synced' | 'up-to-date' | 'would sync' | 'failed';

/** One image of a sync report: the engine's result plus what sync decided and why. */
export interface SyncImageResult extends ImageResult {
  outcome: SyncOutcome;
  /** "new tag", "changed digest (…)", "missing referrer …", "up to date", or why it failed. */
  reason: string;
  /** The sync.yaml entry it came from. */
  where: string;
}

export interface SyncReport {
  tool: 'airlock';
  command: 'sync';
  ok: boolean;
  dryRun: boolean;
  config: string;
  shard?: Shard;
  images: SyncImageResult[];
  pruned: PruneEntry[];
  totals: ReturnType<typeof reportTotals> & { synced: number; upToDate: number };
}

export function buildSyncReport(o: { config: string; dryRun: boolean; shard?: Shard; images: SyncImageResult[]; pruned: PruneEntry[]; durationMs: number }): SyncReport {
  const images = sortImages(o.images);
  const failedPrunes = o.pruned.filter((p) => p.status === 'failed').length;
  return {
    tool: 'airlock',
    command: 'sync',
    ok: images.every((i) => i.status !== 'failed') && failedPrunes === 0,
    dryRun: o.dryRun,
    config: o.config,
    ...(o.shard ? { shard: o.shard } : {}),
    images,
    pruned: [...o.pruned].sort((a, b) => (a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0)),
    totals: {
      ...reportTotals(images, o.durationMs),
      synced: images.filter((i) => i.outcome === 'synced').length,
      upToDate: images.filter((i) => i.outcome === 'up-to-date').length,
    },
  };
}

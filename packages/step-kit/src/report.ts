import { z } from 'zod';
import { AirlockError, copyReportSchema, imageResultSchema, type CopyReport } from '@airlock/oci';
import { junitXml } from './junit.js';

/**
 * Transfer reports (mirror, sync) read back and combined: `airlock report merge` (packages/copy)
 * joins sync shard reports with this, as if one job had done everything: images in one stable order,
 * and the fields sync adds to its report or to each image (outcome, reason, pruned tags) kept.
 */

const mergeableImage = imageResultSchema.loose();
export const mergeableReportSchema = copyReportSchema.extend({ images: z.array(mergeableImage), totals: copyReportSchema.shape.totals.loose() }).loose();
export type MergeableReport = z.infer<typeof mergeableReportSchema>;
type Image = z.infer<typeof mergeableImage>;

const byName = (a: { source: string; destination: string }, b: { source: string; destination: string }) =>
  a.source < b.source ? -1 : a.source > b.source ? 1 : a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0;

/** Totals as copy and sync compute them. */
type Counted = Pick<Image, 'status' | 'bytes' | 'blobs'>;
export function reportTotals(images: Counted[], durationMs: number): CopyReport['totals'] {
  const sum = (f: (r: Counted) => number) => images.reduce((a, r) => a + f(r), 0);
  return {
    images: images.length,
    failed: images.filter((r) => r.status === 'failed').length,
    skipped: images.filter((r) => r.status === 'skipped').length,
    bytes: sum((r) => r.bytes),
    blobs: { copied: sum((r) => r.blobs.copied), skipped: sum((r) => r.blobs.skipped), mounted: sum((r) => r.blobs.mounted) },
    durationMs,
  };
}

/** Images in a stable order (source, then destination): a report does not depend on which job ran what. */
export function sortImages<T extends { source: string; destination: string }>(images: T[]): T[] {
  return [...images].sort(byName);
}

export function parseTransferReport(text: string, file: string): MergeableReport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AirlockError('BAD_INPUT', `${file} is not JSON`, { hint: 'pass the files written by --report' });
  }
  const r = mergeableReportSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new AirlockError('BAD_INPUT', `${file} is not an Airlock transfer report${i ? ` (${i.path.map(String).join('.') || 'top'}: ${i.message})` : ''}`, {
      hint: 'pass the files written by airlock mirror/sync --report',
    });
  }
  return r.data;
}

/**
 * Combine shard reports: images of all, in the stable order; totals recomputed; the duration is the
 * longest shard's (they ran side by side). Every report must come from the same command and mode.
 */
export function mergeTransferReports(reports: Array<{ file: string; report: MergeableReport }>): MergeableReport {
  if (!reports.length) throw new AirlockError('USAGE', 'report merge needs at least one report');
  const first = reports[0]!.report;
  for (const { file, report } of reports) {
    if (report.command !== first.command) throw new AirlockError('BAD_INPUT', `${file} is a ${report.command} report, ${reports[0]!.file} a ${first.command} report`, { hint: 'merge reports of one command' });
    if (report.dryRun !== first.dryRun) throw new AirlockError('BAD_INPUT', `${file}: dry-run and real reports cannot be merged`, { hint: 'merge reports of the same kind of run' });
  }
  const images = sortImages(reports.flatMap((r) => r.report.images));
  const seen = new Set<string>();
  for (const i of images) {
    const k = `${i.source}\n${i.destination}`;
    if (seen.has(k)) throw new AirlockError('BAD_INPUT', `${i.source} → ${i.destination} appears in more than one report`, { hint: 'pass each shard report once; shards of one run never overlap' });
    seen.add(k);
  }
  const durationMs = Math.max(...reports.map((r) => r.report.totals.durationMs));
  const { shard: _s, images: _i, totals: _t, ok: _o, ...rest } = first as MergeableReport & { shard?: unknown };
  // Counts a step adds to the totals (sync: synced, upToDate) are summed over the shards.
  const extraTotals: Record<string, number> = {};
  for (const { report } of reports) {
    for (const [k, v] of Object.entries(report.totals)) if (typeof v === 'number' && k !== 'durationMs') extraTotals[k] = (extraTotals[k] ?? 0) + v;
  }
  const merged: MergeableReport = { ...rest, ok: reports.every((r) => r.report.ok), images, totals: { ...extraTotals, ...reportTotals(images, durationMs) } };
  // Lists a step adds at the top level (sync's `pruned`) are joined too.
  for (const key of Object.keys(first)) {
    const v = (first as Record<string, unknown>)[key];
    if (Array.isArray(v) && key !== 'images') (merged as Record<string, unknown>)[key] = reports.flatMap((r) => ((r.report as Record<string, unknown>)[key] as unknown[]) ?? []);
  }
  return merged;
}

/** JUnit for a transfer report: one test case per image (GitLab artifacts:reports:junit, Jenkins junit). */
export function transferReportJunit(report: MergeableReport): string {
  return junitXml(
    `airlock ${report.command}`,
    report.images.map((r) => {
      const reason = typeof r.reason === 'string' ? r.reason : undefined;
      return {
        name: `${r.source} → ${r.destination}`,
        classname: `airlock.${report.command}`,
        timeSeconds: r.durationMs / 1000,
        ...(r.status === 'failed'
          ? { failure: { message: r.error?.message ?? 'failed', details: [r.error?.message, r.error?.hint].filter(Boolean).join('\n') } }
          : {}),
        systemOut:
          r.status === 'failed'
            ? undefined
            : `${typeof r.outcome === 'string' ? r.outcome : r.status}${reason ? ` (${reason})` : ''} ${r.destinationDigest ?? ''} (${r.blobs.copied} blobs copied, ${r.blobs.mounted} mounted, ${r.blobs.skipped} skipped, ${r.bytes} bytes)`,
      };
    }),
  );
}

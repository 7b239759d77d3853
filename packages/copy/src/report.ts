import type { CopyReport, ImageResult } from '@airlock/oci';
import { junitXml } from '@airlock/step-kit';

export function buildReport(command: string, results: ImageResult[], dryRun: boolean, durationMs: number): CopyReport {
  const sum = (f: (r: ImageResult) => number) => results.reduce((a, r) => a + f(r), 0);
  const failed = results.filter((r) => r.status === 'failed').length;
  return {
    tool: 'airlock',
    command,
    ok: failed === 0,
    dryRun,
    images: results,
    totals: {
      images: results.length,
      failed,
      skipped: results.filter((r) => r.status === 'skipped').length,
      bytes: sum((r) => r.bytes),
      blobs: {
        copied: sum((r) => r.blobs.copied),
        skipped: sum((r) => r.blobs.skipped),
        mounted: sum((r) => r.blobs.mounted),
      },
      retries: sum((r) => r.retries ?? 0),
      durationMs,
    },
  };
}

export function reportJunit(report: CopyReport): string {
  return junitXml(
    `airlock ${report.command}`,
    report.images.map((r) => ({
      name: `${r.source} → ${r.destination}`,
      classname: `airlock.${report.command}`,
      timeSeconds: r.durationMs / 1000,
      ...(r.status === 'failed'
        ? { failure: { message: r.error?.message ?? 'failed', details: [r.error?.message, r.error?.hint].filter(Boolean).join('\n') } }
        : {}),
      systemOut: r.status === 'failed' ? undefined : `${r.status} ${r.destinationDigest ?? ''} (${r.blobs.copied} blobs copied, ${r.blobs.mounted} mounted, ${r.blobs.skipped} skipped, ${r.bytes} bytes)`,
    })),
  );
}

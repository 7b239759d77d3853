import type { CopyReport, ImageResult } from '@airlock/oci';
import { imageKey, junitXml, type StepOutputs } from '@airlock/step-kit';

/** The load report: a copy report (copyReportSchema reads it) plus where the images came from. */
export type LoadReport = CopyReport & { bundle: string; inventoryDigest: string };

export function buildLoadReport(results: ImageResult[], dryRun: boolean, durationMs: number, bundle: string, inventoryDigest: string): LoadReport {
  const sum = (f: (r: ImageResult) => number) => results.reduce((a, r) => a + f(r), 0);
  const failed = results.filter((r) => r.status === 'failed').length;
  return {
    tool: 'airlock',
    command: 'bundle load',
    ok: failed === 0,
    dryRun,
    bundle,
    inventoryDigest,
    images: results,
    totals: {
      images: results.length,
      failed,
      skipped: results.filter((r) => r.status === 'skipped').length,
      bytes: sum((r) => r.bytes),
      blobs: { copied: sum((r) => r.blobs.copied), skipped: sum((r) => r.blobs.skipped), mounted: sum((r) => r.blobs.mounted) },
      durationMs,
    },
  };
}

export function loadJunit(report: LoadReport): string {
  return junitXml(
    'airlock bundle load',
    report.images.map((r) => ({
      name: `${r.source} → ${r.destination}`,
      classname: 'airlock.bundle.load',
      timeSeconds: r.durationMs / 1000,
      ...(r.status === 'failed' ? { failure: { message: r.error?.message ?? 'failed', details: [r.error?.message, r.error?.hint].filter(Boolean).join('\n') } } : {}),
      systemOut: r.status === 'failed' ? undefined : `${r.status} ${r.destinationDigest ?? ''} (${r.blobs.copied} blobs pushed, ${r.blobs.mounted} mounted, ${r.blobs.skipped} skipped, ${r.bytes} bytes)`,
    })),
  );
}

/** The load's outputs (as copy and mirror give them): images, failed, digests, references. */
export function loadOutputValues(report: LoadReport): StepOutputs {
  const ok = report.images.filter((r) => r.status !== 'failed' && r.destinationDigest);
  const digests = ok.map((r) => ({ name: imageKey(r.destination), reference: r.destination, digest: String(r.destinationDigest) }));
  return {
    values: {
      images: String(report.totals.images),
      failed: String(report.totals.failed),
      digests: JSON.stringify(Object.fromEntries(digests.map((d) => [d.reference, d.digest]))),
      references: digests.filter((d) => !d.reference.startsWith('oci:')).map((d) => `${d.reference.replace(/@sha256:[a-f0-9]+$/, '')}@${d.digest}`).join('\n'),
    },
    digests,
  };
}

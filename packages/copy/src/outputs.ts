import type { CopyReport } from '@airlock/oci';
import { imageKey, type StepOutputs } from '@airlock/step-kit';

/** The output values of a copy or mirror run (also dry runs: the source digest). */
export function transferOutputValues(report: CopyReport): StepOutputs {
  const ok = report.images.filter((r) => r.status !== 'failed' && (r.destinationDigest ?? r.sourceDigest));
  const digests = ok.map((r) => ({ name: imageKey(r.destination), reference: r.destination, digest: String(r.destinationDigest ?? r.sourceDigest) }));
  const values: Record<string, string> = {};
  if (report.command === 'copy' && digests.length === 1) {
    const d = digests[0]!;
    values.digest = d.digest;
    values.reference = d.reference.startsWith('oci:') ? d.reference : `${d.reference.replace(/@sha256:[a-f0-9]+$/, '')}@${d.digest}`;
  }
  values.images = String(report.totals.images);
  values.failed = String(report.totals.failed);
  values.digests = JSON.stringify(Object.fromEntries(digests.map((d) => [d.reference, d.digest])));
  values.references = digests.filter((d) => !d.reference.startsWith('oci:')).map((d) => `${d.reference.replace(/@sha256:[a-f0-9]+$/, '')}@${d.digest}`).join('\n');
  return { values, digests };
}

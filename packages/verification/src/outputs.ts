import { imageKey, type StepOutputs } from '@airlock/step-kit';
import type { VerifyReport } from './report.js';

export function verifyOutputValues(report: VerifyReport): StepOutputs {
  const digests = report.images.filter((r) => r.ok && r.digest).map((r) => ({ name: imageKey(r.reference), reference: r.reference, digest: String(r.digest) }));
  return {
    values: {
      images: String(report.totals.images),
      verified: String(report.totals.ok),
      failed: String(report.totals.failed),
      digests: JSON.stringify(Object.fromEntries(digests.map((d) => [d.reference, d.digest]))),
    },
    digests,
  };
}

import { imageKey, type StepOutputs } from '@airlock/step-kit';
import type { VerifyReport } from './report.js';

/** Outputs of verify (StepDef.outputs). */
export const verifyOutputs = [
  { name: 'images', description: 'how many images were checked' },
  { name: 'verified', description: 'how many of them verified' },
  { name: 'failed', description: 'how many of them did not' },
  { name: 'digests', description: 'JSON object: verified image → manifest digest (GitLab dotenv: one AIRLOCK_DIGEST_<IMAGE> per verified image)' },
];

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

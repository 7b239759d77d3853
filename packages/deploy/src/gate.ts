/**
 * The verification gate: every pinned image is checked with verify's own engine, rules, policies
 * and keys (`@airlock/verify`), before anything in the cluster or the manifests changes.
 */
import { parseLocation, repositoryName, type Registries } from '@airlock/oci';
import { imageTitle, seenLine, signatureRules, verifyImage, type ImageResult, type Target } from '@airlock/verification';
import type { Logger } from '@airlock/step-kit';
import type { PinnedImage } from './images.js';

export interface GateImage {
  reference: string;
  digest?: string;
  ok: boolean;
  policy?: string;
  failures: string[];
  /** Signatures seen, one line each (valid or why not). */
  signatures: string[];
}

export interface GateResult {
  enabled: boolean;
  ok: boolean;
  warning?: string;
  images: GateImage[];
}

export const NO_VERIFY_WARNING = 'verification is off (--no-verify): the images are deployed without checking their signatures';

/** Check the options now (usage errors before any I/O); `run` verifies. */
export function prepareGate(opts: Record<string, unknown>): { run: (images: PinnedImage[], registries: Registries, log: Logger) => Promise<GateResult> } {
  if (opts.verify === false) {
    return {
      run: async (_images, _registries, log) => {
        log.warn(NO_VERIFY_WARNING);
        return { enabled: false, ok: true, warning: NO_VERIFY_WARNING, images: [] };
      },
    };
  }
  const rules = signatureRules(opts, 'deploy-image');
  return {
    run: async (images, registries, log) => {
      const { ruleFor, notes } = await rules.load();
      for (const n of notes) log.info(`note: ${n}`);
      const results: GateImage[] = [];
      for (const img of images) {
        const target: Target = {
          input: img.input,
          reference: img.pinned,
          location: parseLocation(img.pinned),
          where: img.where,
          // A signature made upstream names the upstream repository.
          alsoAccept: [repositoryName(img.source)],
        };
        const rule = ruleFor(target);
        const r: ImageResult =
          typeof rule === 'string'
            ? { input: img.input, reference: img.pinned, ok: false, failures: [rule], signatures: [], attestations: [], notes: [], durationMs: 0 }
            : await verifyImage(target, rule, { registries, ...(rules.identity ? { identity: rules.identity } : {}) });
        const line = r.ok ? (m: string) => log.info(m) : (m: string) => log.error(m);
        line(`${r.ok ? '✔' : '✘'} ${imageTitle(r)}`);
        for (const s of r.signatures) line(`  ${seenLine(s, true)}`);
        for (const f of r.failures) log.error(`  FAILED: ${f}`);
        if (r.error?.hint) log.error(`    hint: ${r.error.hint}`);
        results.push({
          reference: img.pinned,
          ...(r.digest ? { digest: r.digest } : {}),
          ok: r.ok,
          ...(r.policy ? { policy: r.policy } : {}),
          failures: r.failures,
          signatures: r.signatures.map((s) => seenLine(s, true)),
        });
      }
      return { enabled: true, ok: results.every((r) => r.ok), images: results };
    },
  };
}

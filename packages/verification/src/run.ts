import { mapSettled, toAirlockError, type Registries } from '@airlock/oci';
import { formatDuration, INTERRUPT_EXIT, interruptedBy, interruptedError, interruptSignal, Logger, writeDotenv, writeFileAtomic } from '@airlock/step-kit';
import { verifyOutputValues } from './outputs.js';
import { satisfying, verifyImage, type Target, type VerifyImageOptions } from './engine.js';
import type { ImageResult } from './model.js';
import type { Rule } from './policy.js';
import { buildReport, imageTitle, reportJunit, seenLine, type VerifyReport } from './report.js';

export interface RunIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const defaultIo = (): RunIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

export interface RunOptions {
  command: VerifyReport['command'];
  registries: Registries;
  identity?: VerifyImageOptions['identity'];
  json: boolean;
  report?: string;
  junit?: string;
  dotenv?: string;
  quiet: boolean;
  policyFile?: string;
  /** Notes to print once before the images (e.g. which trusted root is used). */
  notes?: string[];
  concurrency?: number;
}

/** The rule for a target, or a one-line reason why there is none (no policy entry matches). */
export type RuleFor = (t: Target) => Rule | string;

function noRule(t: Target, why: string): ImageResult {
  return { input: t.input, reference: t.reference, ok: false, failures: [why], signatures: [], attestations: [], notes: [], durationMs: 0 };
}

/** Verify every target, log each, write reports and --json output; returns the exit code. */
export async function runVerification(targets: Target[], ruleFor: RuleFor, o: RunOptions, io: RunIo = defaultIo()): Promise<number> {
  const log = new Logger(io.stderr, io.env, o.quiet);
  const started = Date.now();
  for (const n of o.notes ?? []) log.info(`note: ${n}`);
  log.start(`airlock ${o.command}: ${targets.length} image${targets.length === 1 ? '' : 's'}${o.policyFile ? ` (policy ${o.policyFile})` : ''}`, false);
  const rules = new Map<Target, Rule>();
  let settled;
  try {
    settled = await mapSettled(targets, o.concurrency ?? 4, async (t) => {
      const rule = ruleFor(t);
      let r = typeof rule === 'string' ? noRule(t, rule) : await verifyImage(t, rule, { registries: o.registries, ...(o.identity ? { identity: o.identity } : {}) });
      // Checks cut short by SIGINT/SIGTERM prove nothing either way: the image is marked
      // INTERRUPTED, not as failing its rule. One that finished before the signal keeps its result.
      if (!r.ok && interruptSignal().aborted) r = interrupted(r);
      if (typeof rule !== 'string') rules.set(t, rule);
      logImage(log, r, o.command);
      return r;
    });
  } finally {
    log.end();
  }
  const results = settled.map((s, i): ImageResult => {
    if (s.status === 'fulfilled') return s.value;
    // verifyImage reports its own failures; this is a bug or an unexpected I/O error.
    const t = targets[i] as Target;
    const err = toAirlockError(s.reason, 'REGISTRY');
    let r = noRule(t, `verification failed: ${err.message}`);
    r.error = { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
    if (interruptSignal().aborted) r = interrupted(r);
    logImage(log, r, o.command);
    return r;
  });

  const report = buildReport(o.command, results, Date.now() - started, o.policyFile);
  if (o.report) await writeFileAtomic(o.report, `${JSON.stringify(report, null, 2)}\n`);
  if (o.junit) await writeFileAtomic(o.junit, reportJunit(report));
  if (o.dotenv) {
    const dropped = await writeDotenv(o.dotenv, verifyOutputValues(report));
    if (dropped) log.warn(`${o.dotenv}: ${dropped} image digests left out (dotenv reports hold at most 5 KB); the JSON report has them all`);
  }
  if (o.json) {
    for (const [i, r] of results.entries()) {
      if (o.command === 'verify') {
        // cosign verify: one JSON array of the valid signatures' payloads per image.
        if (r.ok) io.stdout.write(`${JSON.stringify(r.signatures.filter((s) => s.valid).map((s) => s.detail.output))}\n`);
      } else {
        // cosign verify-attestation: each verified attestation's DSSE envelope, one per line.
        const rule = rules.get(targets[i] as Target);
        for (const a of rule ? satisfying(rule, r.attestations) : []) io.stdout.write(`${JSON.stringify(a.detail.envelope)}\n`);
      }
    }
  }

  const t = report.totals;
  const what = o.command === 'verify' ? `${t.signatures.valid}/${t.signatures.seen} signatures valid` : `${t.attestations.valid}/${t.attestations.seen} attestations valid`;
  log.info(`${t.ok}/${t.images} image${t.images === 1 ? '' : 's'} verified (${what}) in ${formatDuration(t.durationMs)}`);
  const failed = results.filter((r) => !r.ok);
  if (failed.length) {
    log.error(`${failed.length} image${failed.length === 1 ? '' : 's'} failed verification:`);
    for (const r of failed) for (const f of r.failures) log.error(`  ${r.reference}: ${f}`);
  }
  const sig = interruptedBy();
  if (sig) {
    const n = results.filter((r) => r.error?.code === 'INTERRUPTED').length;
    log.error(`interrupted by ${sig}: ${n} image${n === 1 ? '' : 's'} not verified (marked INTERRUPTED in the reports); run the command again to finish`);
    return INTERRUPT_EXIT[sig];
  }
  return failed.length ? 1 : 0;
}

/** A result whose checks were cut by the interrupt: INTERRUPTED, with what was seen kept. */
function interrupted(r: ImageResult): ImageResult {
  const err = interruptedError();
  return { ...r, failures: [err.message], error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } };
}

function logImage(log: Logger, r: ImageResult, command: string): void {
  const line = r.ok ? (m: string) => log.info(m) : (m: string) => log.error(m);
  line(imageTitle(r));
  for (const n of r.notes) log.info(`  note: ${n}`);
  const items = command === 'verify' ? r.signatures : r.attestations;
  for (const s of [...r.signatures, ...r.attestations]) {
    if (s.valid) log.info(`  ${seenLine(s, true)}`);
    else line(`  ${seenLine(s, true)}`);
  }
  if (r.ok) {
    const n = items.filter((s) => s.valid).length;
    log.info(`  OK: ${n} valid ${command === 'verify' ? 'signature' : 'attestation'}${n === 1 ? '' : 's'}`);
  } else {
    for (const f of r.failures) log.error(`  FAILED: ${f}`);
    if (r.error?.hint) log.error(`    hint: ${r.error.hint}`);
  }
}

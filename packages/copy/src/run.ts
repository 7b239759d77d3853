import { AirlockError, describeLocation, failedResult, runTransfers, type ImageResult, type Location, type RetryPolicy, type TransferJob } from '@airlock/oci';
import {
  formatBytes,
  formatDuration,
  formatError,
  imageLine,
  INTERRUPT_EXIT,
  interruptedBy,
  interruptSignal,
  lineProgress,
  Logger,
  registriesFrom,
  ttyProgress,
  writeDotenv,
  writeFileAtomic,
  type ProgressView,
  type TransferFlags,
} from '@airlock/step-kit';
import { transferOutputValues } from './outputs.js';
import { buildReport, reportJunit } from './report.js';

export interface RunIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const defaultIo = (): RunIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

/**
 * Backoff overrides for tests (not user options): `AIRLOCK_RETRY_BASE_MS` is the first delay and
 * `AIRLOCK_RETRY_MAX_MS` the cap (defaults 250 and 30000), so fault suites retry in milliseconds.
 */
function retryPolicy(f: TransferFlags, env: NodeJS.ProcessEnv): Partial<RetryPolicy> {
  const ms = (v: string | undefined) => (v !== undefined && /^\d{1,7}$/.test(v.trim()) ? Number(v) : undefined);
  const min = ms(env.AIRLOCK_RETRY_BASE_MS);
  const max = ms(env.AIRLOCK_RETRY_MAX_MS);
  return { retries: f.retries, ...(min !== undefined ? { minDelayMs: min } : {}), ...(max !== undefined ? { maxDelayMs: Math.max(max, min ?? 0) } : {}) };
}

/**
 * The run's last line of defence: when Node has nothing left to do while the transfers are still
 * pending (a promise nobody will ever settle), that is a failure, not a reason to exit 0 in silence.
 * The first time, every image still in flight is failed (the engine settles them at once); if even
 * that does not finish the run, `gaveUp` rejects and the results known so far are used. Either way
 * the summary and the reports are written as usual.
 */
function stallGuard(): { signal: AbortSignal; gaveUp: Promise<never>; dispose(): void } {
  const ac = new AbortController();
  const stalled = new AirlockError('ABORTED', 'the copy stopped making progress: nothing was left to wait for while it was unfinished', {
    hint: 'a bug in airlock: nothing unverified was written; run again, and report it with the output of AIRLOCK_DEBUG=1',
  });
  let giveUp!: (e: unknown) => void;
  const gaveUp = new Promise<never>((_, reject) => (giveUp = reject));
  gaveUp.catch(() => undefined);
  const onIdle = () => {
    if (ac.signal.aborted) return giveUp(stalled);
    ac.abort(stalled);
    // One more turn of the loop, so that Node asks again if failing the images did not end the run.
    setImmediate(() => undefined);
  };
  process.on('beforeExit', onIdle);
  return { signal: ac.signal, gaveUp, dispose: () => process.off('beforeExit', onIdle) };
}

const nameOf = (l: Location) => describeLocation(l);

/**
 * Results in job order when the run never returned: what each image reported (by source), and every
 * image failed with `e` — even one reported copied, since finishing its destination (closing the
 * sink) is what did not complete, and nobody can vouch for it.
 */
function settleFrom(jobs: TransferJob[], done: ImageResult[], e: unknown): ImageResult[] {
  const left = [...done];
  const failed = allFailed(jobs, e);
  return jobs.map((j, i) => {
    const at = left.findIndex((r) => r.source === nameOf(j.source));
    if (at < 0) return failed[i]!;
    const r = left.splice(at, 1)[0]!;
    return r.status === 'failed' ? r : { ...r, status: 'failed', error: failed[i]!.error! };
  });
}

/** Every job failed with the same error (the run itself broke before producing results). */
function allFailed(jobs: TransferJob[], e: unknown): ImageResult[] {
  return jobs.map((j) => failedResult(nameOf(j.source), nameOf(j.destination), e, 0));
}

/**
 * Run copy/mirror jobs, render progress, write reports; returns the exit code. Every path ends here
 * with settled results, a summary and the reports: 1 when any image failed or a report could not be
 * written, 0 only when every image is in place.
 */
export async function executeTransfers(command: 'copy' | 'mirror', jobs: TransferJob[], f: TransferFlags, io: RunIo = defaultIo()): Promise<number> {
  const log = new Logger(io.stderr, io.env, f.quiet);
  const tty = 'isTTY' in io.stderr && io.stderr.isTTY && !io.env.CI && !f.quiet;
  const view: ProgressView = tty ? ttyProgress(io.stderr as NodeJS.WriteStream, jobs.length) : lineProgress(log);
  const registries = registriesFrom(f, {
    retry: retryPolicy(f, io.env),
    onRetry: (r) => view.onEvent({ type: 'retry', ...r }),
  });
  const started = Date.now();
  log.start(`airlock ${command}: ${jobs.length} image${jobs.length === 1 ? '' : 's'}${f.dryRun ? ' (dry run)' : ''}`, false);
  const guard = stallGuard();
  const done: ImageResult[] = [];
  let results: ImageResult[];
  try {
    const run = runTransfers(jobs, {
      registries,
      ...(f.platforms.length ? { platforms: f.platforms } : {}),
      referrers: f.referrers,
      concurrency: f.concurrency,
      force: f.force,
      dryRun: f.dryRun,
      // A stalled run (nothing left to wait for) and SIGINT/SIGTERM both settle the images in flight.
      signal: AbortSignal.any([guard.signal, interruptSignal()]),
      ...(f.chunkSize ? { upload: { chunkSize: f.chunkSize } } : {}),
      onEvent: (e) => {
        if (e.type === 'image-done') done.push(e.result);
        view.onEvent(e);
      },
    });
    run.catch(() => undefined);
    results = await Promise.race([run, guard.gaveUp]);
  } catch (e) {
    results = settleFrom(jobs, done, e);
  } finally {
    // Closing is bounded (connections still busy are destroyed), so it cannot hold the run open.
    await registries.close().catch(() => undefined);
    guard.dispose();
    view.finish();
    log.end();
  }
  const report = buildReport(command, results, f.dryRun, Date.now() - started);
  const t = report.totals;
  const failed = results.filter((r) => r.status === 'failed');
  const summary = `${t.images - t.failed}/${t.images} images ${f.dryRun ? 'checked' : 'ok'} (${t.skipped} already up to date), ${t.blobs.copied} blobs ${f.dryRun ? 'to copy' : 'copied'} (${formatBytes(t.bytes)}), ${t.blobs.mounted} mounted, ${t.blobs.skipped} skipped, ${t.retries ?? 0} ${t.retries === 1 ? 'retry' : 'retries'} in ${formatDuration(t.durationMs)}`;
  log.info(summary);
  if (failed.length) {
    log.error(`${failed.length} image${failed.length === 1 ? '' : 's'} failed:`);
    for (const r of failed) log.error(`  ${imageLine(r)}`);
  }
  // Each report is attempted even when another could not be written; any that fails fails the run.
  let reportsOk = true;
  const write = async (what: string, file: string | undefined, text: () => string) => {
    if (!file) return;
    try {
      await writeFileAtomic(file, text());
    } catch (e) {
      reportsOk = false;
      log.error(`${what} ${file} could not be written: ${formatError(e).replace(/^error: /, '')}`);
    }
  };
  await write('report', f.report, () => `${JSON.stringify(report, null, 2)}\n`);
  await write('JUnit report', f.junit, () => reportJunit(report));
  if (f.dotenv) {
    try {
      const dropped = await writeDotenv(f.dotenv, transferOutputValues(report));
      if (dropped) log.warn(`${f.dotenv}: ${dropped} image digests left out (dotenv reports hold at most 5 KB); the JSON report has them all`);
    } catch (e) {
      reportsOk = false;
      log.error(`dotenv report ${f.dotenv} could not be written: ${formatError(e).replace(/^error: /, '')}`);
    }
  }
  if (f.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const sig = interruptedBy();
  if (sig) {
    const n = failed.filter((r) => r.error?.code === 'INTERRUPTED').length;
    log.error(`interrupted by ${sig}: ${n} image${n === 1 ? '' : 's'} not finished (marked INTERRUPTED in the reports); run the command again to finish`);
    return INTERRUPT_EXIT[sig];
  }
  return failed.length || !reportsOk ? 1 : 0;
}

import { runTransfers, type TransferJob } from '@airlock/oci';
import { registriesFrom, writeDotenv, formatBytes, formatDuration, imageLine, lineProgress, Logger, ttyProgress, writeFileAtomic, type ProgressView } from '@airlock/step-kit';
import type { TransferFlags } from '@airlock/step-kit';
import { buildReport, reportJunit } from './report.js';
import { transferOutputValues } from './outputs.js';

export interface RunIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const defaultIo = (): RunIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

/** Run copy/mirror jobs, render progress, write reports; returns the exit code. */
export async function executeTransfers(command: 'copy' | 'mirror', jobs: TransferJob[], f: TransferFlags, io: RunIo = defaultIo()): Promise<number> {
  const log = new Logger(io.stderr, io.env, f.quiet);
  const tty = 'isTTY' in io.stderr && io.stderr.isTTY && !io.env.CI && !f.quiet;
  const view: ProgressView = tty ? ttyProgress(io.stderr as NodeJS.WriteStream, jobs.length) : lineProgress(log);
  const registries = registriesFrom(f, {
    onRetry: (r) => view.onEvent({ type: 'retry', ...r }),
  });
  const started = Date.now();
  log.start(`airlock ${command}: ${jobs.length} image${jobs.length === 1 ? '' : 's'}${f.dryRun ? ' (dry run)' : ''}`, false);
  let results;
  try {
    results = await runTransfers(jobs, {
      registries,
      ...(f.platforms.length ? { platforms: f.platforms } : {}),
      referrers: f.referrers,
      concurrency: f.concurrency,
      force: f.force,
      dryRun: f.dryRun,
      ...(f.chunkSize ? { upload: { chunkSize: f.chunkSize } } : {}),
      onEvent: (e) => view.onEvent(e),
    });
  } finally {
    view.finish();
    await registries.close();
    log.end();
  }
  const report = buildReport(command, results, f.dryRun, Date.now() - started);
  if (f.report) await writeFileAtomic(f.report, `${JSON.stringify(report, null, 2)}\n`);
  if (f.junit) await writeFileAtomic(f.junit, reportJunit(report));
  if (f.dotenv) {
    const dropped = await writeDotenv(f.dotenv, transferOutputValues(report));
    if (dropped) log.warn(`${f.dotenv}: ${dropped} image digests left out (dotenv reports hold at most 5 KB); the JSON report has them all`);
  }
  if (f.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);

  const t = report.totals;
  const failed = results.filter((r) => r.status === 'failed');
  const summary = `${t.images - t.failed}/${t.images} images ${f.dryRun ? 'checked' : 'ok'} (${t.skipped} already up to date), ${t.blobs.copied} blobs ${f.dryRun ? 'to copy' : 'copied'} (${formatBytes(t.bytes)}), ${t.blobs.mounted} mounted, ${t.blobs.skipped} skipped in ${formatDuration(t.durationMs)}`;
  log.info(summary);
  if (failed.length) {
    log.error(`${failed.length} image${failed.length === 1 ? '' : 's'} failed:`);
    for (const r of failed) log.error(`  ${imageLine(r)}`);
  }
  return failed.length ? 1 : 0;
}

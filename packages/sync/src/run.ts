import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Limiter, runTransfers, type ImageResult, type TransferJob } from '@airlock/oci';
import { formatBytes, formatDuration, Logger, shortDigest, writeFileAtomic, type TransferFlags } from '@airlock/step-kit';
import { transferReportJunit } from '@airlock/step-kit/report';
import { shardFromFlagOrEnv, shardItems } from '@airlock/step-kit/shard';
import { checkItem, failedPlan, sourceHead, type CheckContext, type Plan } from './check.js';
import { readSyncConfig } from './config.js';
import { hookEnv, runHook } from './hook.js';
import { prune, type PruneEntry } from './prune.js';
import { syncRegistries, credentialEnvNames } from './registries.js';
import { buildSyncReport, type SyncImageResult, type SyncReport } from './report.js';
import { resolveWorkList, type SyncItem } from './resolve.js';

export interface SyncFlags extends TransferFlags {
  file: string;
  shard?: string;
  /** --concurrency as given (undefined: sync.yaml's, else 8). */
  concurrencyGiven?: number;
  maxFailures: number;
  onFailureExec?: string;
  prune: boolean;
}

export interface SyncIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const defaultIo = (): SyncIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

function line(r: SyncImageResult): string {
  const base = `${r.source} → ${r.destination}`;
  switch (r.outcome) {
    case 'failed':
      return `✘ ${base}: ${r.error?.message ?? r.reason}${r.error?.hint ? ` (${r.error.hint})` : ''}`;
    case 'up-to-date':
      return `= ${base} up to date (${formatDuration(r.durationMs)})`;
    case 'would sync':
      return `… ${base} would sync: ${r.reason} (${r.blobs.copied} blobs, ${formatBytes(r.bytes)} to copy, ${r.blobs.skipped} already there)`;
    case 'synced':
      return `✔ ${base} synced: ${r.reason} (digest ${shortDigest(r.destinationDigest)}, ${r.blobs.copied} blobs copied/${r.blobs.mounted} mounted/${r.blobs.skipped} skipped, ${formatBytes(r.bytes)}${r.referrers ? `, ${r.referrers} referrers` : ''}, ${formatDuration(r.durationMs)})`;
  }
}

function fromPlan(p: Plan): SyncImageResult {
  const i = p.item;
  return {
    source: i.sourceName,
    destination: i.destinationName,
    ...(p.sourceDigest ? { sourceDigest: p.sourceDigest } : {}),
    ...(p.destinationDigest ? { destinationDigest: p.destinationDigest } : {}),
    status: p.action === 'failed' ? 'failed' : 'skipped',
    ...(p.error ? { error: p.error } : {}),
    blobs: { copied: 0, skipped: 0, mounted: 0 },
    bytes: 0,
    manifests: 0,
    referrers: 0,
    durationMs: p.checkMs,
    outcome: p.action === 'failed' ? 'failed' : 'up-to-date',
    reason: p.reason,
    where: i.where,
  };
}

function fromCopy(p: Plan, r: ImageResult, dryRun: boolean): SyncImageResult {
  const outcome = r.status === 'failed' ? 'failed' : dryRun ? 'would sync' : r.status === 'skipped' ? 'up-to-date' : 'synced';
  return {
    ...r,
    source: p.item.sourceName,
    destination: p.item.destinationName,
    durationMs: p.checkMs + r.durationMs,
    outcome,
    reason: outcome === 'failed' ? (r.error?.message ?? 'failed') : outcome === 'up-to-date' ? 'up to date' : p.reason,
    where: p.item.where,
  };
}

/** `airlock sync`: resolve, shard, check cheaply, copy what changed, prune, report, alert. Returns the exit code. */
export async function runSync(f: SyncFlags, io: SyncIo = defaultIo()): Promise<number> {
  const started = Date.now();
  const log = new Logger(io.stderr, io.env, f.quiet);
  const config = await readSyncConfig(f.file);
  const shard = shardFromFlagOrEnv(f.shard, io.env);
  const concurrency = f.concurrencyGiven ?? config.defaults?.concurrency ?? 8;
  const registries = syncRegistries(config, f, f.file, io.env, {
    onRetry: (r) => log.info(`  retry ${r.attempt} in ${formatDuration(r.delayMs)}: ${r.reason} (${r.url.split('?')[0]})`),
  });
  let images: SyncImageResult[] = [];
  let pruned: PruneEntry[] = [];
  let total = 0;
  try {
    const resolved = await resolveWorkList(config, { registries, file: f.file, platforms: f.platforms, referrers: f.referrers, concurrency: Math.max(concurrency, 16) });
    total = resolved.items.length;
    // Images of one source repository share layers: they stay in one shard (split only when a
    // repository is bigger than a share), so shared layers cross once.
    const mine = shardItems(resolved.items, shard, (i) => i.key, undefined, (i) => `${i.source.registry}/${i.source.repository}`);
    log.start(`airlock sync: ${mine.length} image${mine.length === 1 ? '' : 's'}${shard ? ` (shard ${shard.index}/${shard.total} of ${total})` : ''}${f.dryRun ? ' (dry run)' : ''}`, false);

    // 1. Source digests (HEAD; a pinned digest needs none), all at once.
    const ctx: CheckContext = { registries, tagLists: resolved.tagLists, force: f.force, dryRun: f.dryRun, knownSubjects: new Map(), referrersProbe: new Map() };
    // HEADs are tiny: check many images at once (a requests-per-second limit still spaces them).
    const limiter = new Limiter(Math.max(concurrency, 32));
    const t0 = new Map<SyncItem, number>();
    const heads = await Promise.all(
      mine.map((item) =>
        limiter.run(async () => {
          t0.set(item, Date.now());
          if (item.error) return { ok: true as const, head: { found: false as const } };
          try {
            const head = await sourceHead(item, ctx);
            // Learn whether the source has the referrers API now, not one round trip later.
            if (item.referrers && head.found && head.digest && !ctx.referrersProbe.has(item.source.registry)) {
              const probe = registries.client(item.source.registry).referrers(item.source.repository, head.digest);
              ctx.referrersProbe.set(item.source.registry, probe.catch(() => undefined));
            }
            return { ok: true as const, head };
          } catch (e) {
            return { ok: false as const, error: e };
          }
        }),
      ),
    );
    mine.forEach((item, n) => {
      const h = heads[n]!;
      if (h.ok && h.head.found && h.head.digest) {
        const key = `${item.source.registry}/${item.source.repository}`;
        let s = ctx.knownSubjects.get(key);
        if (!s) ctx.knownSubjects.set(key, (s = new Set()));
        s.add(h.head.digest);
      }
    });
    // 2. Compare with the destination (and the attachments).
    const plans = await Promise.all(
      mine.map((item, n) =>
        limiter.run(async () => {
          const h = heads[n]!;
          const t = t0.get(item) ?? Date.now();
          if (!h.ok) return failedPlan(item, h.error, t);
          try {
            return await checkItem(item, h.head, ctx, t);
          } catch (e) {
            return failedPlan(item, e, t);
          }
        }),
      ),
    );
    const byName = new Map(plans.map((p) => [`${p.item.sourceName}|${p.item.destinationName}`, p]));
    for (const p of plans) if (p.action !== 'copy') log.info(line(fromPlan(p)));

    // 3. Copy what changed, on the mirror engine (per-entry referrers: one run per setting).
    const toCopy = plans.filter((p) => p.action === 'copy');
    const copied = new Map<Plan, SyncImageResult>();
    for (const referrers of [true, false]) {
      const group = toCopy.filter((p) => p.item.referrers === referrers);
      if (!group.length) continue;
      const jobs: TransferJob[] = group.map((p) => ({
        source: { kind: 'registry', ref: p.item.source, input: p.item.sourceName },
        destination: { kind: 'registry', ref: p.item.destination, input: p.item.destinationName },
        ...(p.item.platforms?.length ? { platforms: p.item.platforms } : {}),
      }));
      const results = await runTransfers(jobs, {
        registries,
        referrers,
        concurrency,
        force: f.force,
        dryRun: f.dryRun,
        tagLists: resolved.tagLists,
        ...(f.chunkSize ? { upload: { chunkSize: f.chunkSize } } : {}),
        onEvent: (e) => {
          if (e.type !== 'image-done') return;
          const p = byName.get(`${e.result.source}|${e.result.destination}`);
          if (p) log.info(line(fromCopy(p, e.result, f.dryRun)));
        },
      });
      group.forEach((p, n) => copied.set(p, fromCopy(p, results[n]!, f.dryRun)));
    }
    images = plans.map((p) => copied.get(p) ?? fromPlan(p));

    // 4. Prune what left the selection (each managed repository in one shard only).
    if (f.prune) {
      const repos = shardItems(resolved.managed, shard, (r) => `${r.registry}/${r.repository}`);
      pruned = await prune(repos, registries, { dryRun: f.dryRun, log: (s) => log.info(s) });
    }
  } finally {
    await registries.close();
    log.end();
  }

  const report = buildSyncReport({ config: f.file, dryRun: f.dryRun, ...(shard ? { shard } : {}), images, pruned, durationMs: Date.now() - started });
  const failed = report.images.filter((i) => i.outcome === 'failed');
  const pruneFailed = report.pruned.filter((p) => p.status === 'failed');
  let reportPath = f.report;
  if (!reportPath && f.onFailureExec && (failed.length || pruneFailed.length)) reportPath = join(mkdtempSync(join(tmpdir(), 'airlock-sync-')), 'report.json');
  if (reportPath) await writeFileAtomic(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  if (f.junit) await writeFileAtomic(f.junit, transferReportJunit(report as unknown as Parameters<typeof transferReportJunit>[0]));
  if (f.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  summarize(report, log, f.dryRun);
  if (failed.length) {
    log.error(`${failed.length} image${failed.length === 1 ? '' : 's'} failed:`);
    for (const r of failed) log.error(`  ${line(r)}`);
  }
  for (const p of pruneFailed) log.error(`prune: ${p.reference}: ${p.note ?? 'failed'}`);

  if (f.onFailureExec && (failed.length || pruneFailed.length) && reportPath) {
    const env = hookEnv(io.env, credentialEnvNames(config), { AIRLOCK_SYNC_REPORT: reportPath, AIRLOCK_SYNC_FAILED: String(failed.length + pruneFailed.length) });
    log.info(`running --on-failure-exec with ${reportPath}`);
    const code = await runHook(f.onFailureExec, reportPath, env, io.stderr, io.stderr);
    if (code !== 0) log.warn(`--on-failure-exec exited with ${code}`);
  }
  return failed.length > f.maxFailures || pruneFailed.length ? 1 : 0;
}

function summarize(report: SyncReport, log: Logger, dryRun: boolean): void {
  const t = report.totals;
  const wouldSync = report.images.filter((i) => i.outcome === 'would sync').length;
  const parts = dryRun ? [`${wouldSync} would sync`, `${t.upToDate} up to date`, `${t.failed} failed`] : [`${t.synced} synced`, `${t.upToDate} up to date`, `${t.failed} failed`];
  const pr = report.pruned.filter((p) => p.status === (dryRun ? 'would delete' : 'deleted')).length;
  log.info(`sync: ${t.images} image${t.images === 1 ? '' : 's'}: ${parts.join(', ')}; ${t.blobs.copied} blobs ${dryRun ? 'to copy' : 'copied'} (${formatBytes(t.bytes)}), ${t.blobs.mounted} mounted${report.pruned.length ? `; ${pr} tag${pr === 1 ? '' : 's'} ${dryRun ? 'would be pruned' : 'pruned'}` : ''} in ${formatDuration(t.durationMs)}`);
}

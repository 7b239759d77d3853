import { createHash } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Command } from 'commander';
import { AirlockError, parsePlatform, parseRewrite, toAirlockError, type Digest, type ImageResult, type TransferEvent } from '@airlock/oci';
import { BundleArchive, inventorySchema, locateBundle, MAX_JSON_BYTES, verifyParts, type Inventory } from '@airlock/oci/archive';
import { commandFor, connectionFlags, formatBytes, formatDuration, imageLine, Logger, registriesFrom, shortDigest, writeDotenv, writeFileAtomic } from '@airlock/step-kit';
import { readBundleConfig } from './config.js';
import { creationTime, planBundle, planImages, writeSignatureBeside } from './create.js';
import { diffInventories, extractEntry, listLines } from './inspect.js';
import { bundleCreateStep, bundleDiffStep, bundleExtractStep, bundleListStep, bundleLoadStep, bundleVerifyStep, BUNDLE_SUMMARY } from './inputs.js';
import { loadBundle, planLoad } from './load.js';
import { buildLoadReport, loadJunit, loadOutputValues } from './report.js';
import { parseSize } from './size.js';
import { checkSignatures, inventorySigner, verifyInventorySignature } from './trust.js';
import { chartTarget } from './charts.js';

export type SetExit = (code: number) => void;
type Opts = Record<string, unknown>;

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);
const str = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : String(v));

function concurrencyOf(o: Opts): number {
  const n = Number(o.concurrency ?? 8);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new AirlockError('USAGE', `--concurrency must be a whole number from 1 to 256, got ${String(o.concurrency)}`);
  return n;
}

function logger(o: Opts): Logger {
  return new Logger(process.stderr, process.env, !!o.quiet);
}

async function writeJson(o: Opts, value: unknown): Promise<void> {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (o.report) await writeFileAtomic(String(o.report), text);
  if (o.json) process.stdout.write(text);
}

/** A bundle (or inventory file) named by --since / diff: its inventory and that inventory's digest. */
async function readInventoryOf(path: string): Promise<{ inventory: Inventory; digest: Digest }> {
  if (path.endsWith('.json') && !path.endsWith('.parts.json')) {
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw new AirlockError('BAD_INPUT', `cannot read ${path}`, { hint: 'give an earlier bundle or its airlock-inventory.json' });
    }
    if (size > MAX_JSON_BYTES.inventory) throw new AirlockError('BAD_INPUT', `${path}: ${size} bytes is too large for an inventory`);
    const bytes = await readFile(path);
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new AirlockError('BAD_INPUT', `${path}: not valid JSON`, { hint: 'give an earlier bundle or its airlock-inventory.json' });
    }
    const r = inventorySchema.safeParse(json);
    if (!r.success) throw new AirlockError('BAD_INPUT', `${path}: not an Airlock bundle inventory (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message})`);
    return { inventory: r.data, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
  }
  const a = await BundleArchive.open([path]);
  try {
    return { inventory: a.inventory, digest: a.inventoryDigest };
  } finally {
    await a.close();
  }
}

// ---------------------------------------------------------------------------------------------

async function runCreate(o: Opts): Promise<number> {
  const log = logger(o);
  const file = str(o.file);
  const output = str(o.output);
  if (!file || !output) throw new AirlockError('USAGE', 'bundle create needs -f airlock.yaml and -o FILE', { hint: 'see airlock bundle create --help' });
  const splitSize = o.splitSize !== undefined ? parseSize(String(o.splitSize)) : undefined;
  const keys = list(o.key);
  const policy = str(o.policy);
  if ((keys.length || policy) && !o.requireSignature) throw new AirlockError('USAGE', '--key and --policy go with --require-signature', { hint: 'add --require-signature, or sign the bundle itself with --sign-key' });
  const config = await readBundleConfig(file);
  const platforms = list(o.platform).map(parsePlatform);
  const jobs = planImages(config, platforms);
  const created = creationTime(process.env);
  const since = o.since ? await readInventoryOf(String(o.since)) : undefined;
  const concurrency = concurrencyOf(o);
  const signer = o.signKey ? await inventorySigner(String(o.signKey), str(o.passwordFile)) : undefined;
  const registries = registriesFrom(connectionFlags(o));
  const started = Date.now();
  try {
    if (o.requireSignature) {
      log.start(`airlock bundle create: checking the signatures of ${jobs.length} image${jobs.length === 1 ? '' : 's'}`, false);
      const checks = await checkSignatures(jobs, { keys, ...(policy ? { policy } : {}), registries, concurrency });
      log.end();
      const bad = checks.filter((c) => !c.ok);
      for (const c of checks) if (c.ok) log.info(`✔ ${c.name}: signature verified`);
      if (bad.length) {
        for (const c of bad) log.error(`✘ ${c.name}: ${c.failures.join('; ')}`);
        await writeJson(o, { tool: 'airlock', command: 'bundle create', ok: false, refused: bad });
        throw new AirlockError('DIGEST_MISMATCH', `refusing to bundle ${bad.length} image${bad.length === 1 ? '' : 's'} whose signature does not verify: ${bad.map((c) => c.name).join(', ')}`, {
          hint: 'sign them (airlock sign), or fix --key/--policy; nothing was written',
        });
      }
    }
    log.start(`airlock bundle create: ${jobs.length} image${jobs.length === 1 ? '' : 's'}, ${config.files.length} file entr${config.files.length === 1 ? 'y' : 'ies'}, ${config.charts.length} chart${config.charts.length === 1 ? '' : 's'}${o.dryRun ? ' (dry run)' : ''}`, false);
    const onEvent = (e: TransferEvent) => {
      if (e.type === 'image-done') log.info(imageLine({ ...e.result, ...(e.result.status === 'copied' ? { status: 'planned' } : {}) }));
      if (e.type === 'retry') log.info(`  retry ${e.attempt} in ${formatDuration(e.delayMs)}: ${e.reason}`);
    };
    const plan = await planBundle(config, jobs, { registries, referrers: o.referrers !== false, concurrency, created, ...(since ? { since: { blobs: new Map([...since.inventory.external, ...since.inventory.blobs].map((b) => [b.digest, b.repository])), inventory: since.digest } } : {}), onEvent });
    log.end();
    const failed = plan.results.filter((r) => r.status === 'failed');
    if (failed.length) {
      for (const r of failed) log.error(imageLine(r));
      await writeJson(o, { tool: 'airlock', command: 'bundle create', ok: false, images: plan.results });
      throw new AirlockError(failed[0]!.error?.code === 'NOT_FOUND' ? 'NOT_FOUND' : 'REGISTRY', `${failed.length} image${failed.length === 1 ? '' : 's'} could not be read: ${failed.map((r) => r.source).join(', ')}`, {
        hint: `${failed[0]!.error?.message ?? ''}; nothing was written`,
      });
    }
    const signature = signer?.(plan.inventoryBytes);
    const meta = { inventory: plan.inventoryBytes, ...(signature ? { signature } : {}) };
    const size = plan.writer.size(meta);
    const inv = plan.inventory;
    const summary = {
      images: inv.entries.filter((e) => e.kind === 'image').length,
      files: inv.entries.filter((e) => e.kind === 'file').length,
      charts: inv.entries.filter((e) => e.kind === 'chart').length,
      blobs: inv.blobs.length,
      external: inv.external.length,
      externalBytes: inv.external.reduce((a, b) => a + b.size, 0),
      size,
      ...(splitSize ? { parts: Math.ceil(size / splitSize) } : {}),
    };
    if (splitSize && Math.ceil(size / splitSize) > 999) throw new AirlockError('USAGE', `--split-size ${String(o.splitSize)} would cut ${formatBytes(size)} into more than 999 parts`, { hint: 'choose a larger --split-size' });
    const base = { tool: 'airlock', command: 'bundle create', ok: true, dryRun: !!o.dryRun, bundle: output, inventoryDigest: plan.inventoryDigest, signed: !!signature, ...summary, entries: inv.entries, images: plan.results };
    const what = `${summary.images} images, ${summary.files} file entries, ${summary.charts} charts: ${summary.blobs} blobs, ${formatBytes(size)}${summary.external ? ` (${summary.external} blobs, ${formatBytes(summary.externalBytes)} left to the earlier bundle)` : ''}${splitSize ? ` in ${summary.parts} part${summary.parts === 1 ? '' : 's'} of at most ${formatBytes(splitSize)}` : ''}`;
    if (o.dryRun) {
      log.info(`would write ${output}: ${what} (${size} bytes)`);
      await writeJson(o, base);
      return 0;
    }
    log.start(`writing ${output} (${formatBytes(size)})`, false);
    const stop = removeTempsOnSignal(output);
    let written;
    try {
      written = await plan.writer.write(output, meta, { ...(splitSize ? { splitSize } : {}), inventoryDigest: plan.inventoryDigest });
    } finally {
      stop();
    }
    log.end();
    const sigPath = signature ? await writeSignatureBeside(output, signature) : undefined;
    if (written.size !== size) throw new AirlockError('LAYOUT', `${output}: wrote ${written.size} bytes, planned ${size}`, { hint: 'this is a bug in airlock; the bundle may still be valid: run airlock bundle verify' });
    log.info(`wrote ${written.partsFile ?? output}: ${what}, sha256 ${written.sha256} in ${formatDuration(Date.now() - started)}`);
    if (written.split) for (const p of written.parts) log.info(`  ${p.name}: ${formatBytes(p.size)} sha256 ${p.sha256}`);
    log.info(`inventory ${plan.inventoryDigest}${sigPath ? `, signed (${sigPath})` : ''}`);
    if (o.dotenv) await writeDotenv(String(o.dotenv), { values: { bundle: written.partsFile ?? output, 'inventory-digest': plan.inventoryDigest, size: String(written.size) }, digests: [] });
    await writeJson(o, { ...base, sha256: written.sha256, parts: written.parts.map((p) => ({ name: p.name, size: p.size, sha256: p.sha256 })), ...(written.partsFile ? { partsFile: written.partsFile } : {}), ...(sigPath ? { signature: sigPath } : {}) });
    return 0;
  } finally {
    await registries.close();
  }
}

/** Interrupted (Ctrl-C, a CI job cancelled) while writing: remove the temp files, exit 130/143. */
function removeTempsOnSignal(output: string): () => void {
  const handler = (sig: NodeJS.Signals) => {
    const dir = dirname(output);
    const base = basename(output);
    try {
      for (const n of readdirSync(dir)) if (n.startsWith(base) && /\.tmp-[0-9a-f]{12}$/.test(n)) rmSync(join(dir, n), { force: true });
    } catch {
      // best effort: the process is ending
    }
    process.stderr.write(`\n${sig}: ${output} not written\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

async function openChecked(paths: string[], keys: string[], log: Logger): Promise<BundleArchive> {
  const a = await BundleArchive.open(paths);
  try {
    if (keys.length) log.info(`inventory ${a.inventoryDigest}: signature verified with ${await verifyInventorySignature(a.inventoryBytes, a.signature, keys, a.display)}`);
    else if (a.signature) log.info(`note: ${a.display} is signed; pass --key to check the signature`);
  } catch (e) {
    await a.close();
    throw e;
  }
  return a;
}

async function runVerify(args: string[], o: Opts): Promise<number> {
  const log = logger(o);
  const started = Date.now();
  let a: BundleArchive;
  try {
    a = await openChecked(args, list(o.key), log);
  } catch (e) {
    const err = toAirlockError(e, 'LAYOUT');
    if (err.code === 'USAGE' || err.code === 'BAD_INPUT') throw err;
    log.error(`✘ ${err.message}`);
    if (err.hint) log.error(`  hint: ${err.hint}`);
    // A split bundle whose structure is broken: say which part is wrong.
    const parts = await locateBundle(args).then(verifyParts, () => []);
    for (const p of parts) log.error(`  ${p.where}: ${p.message}`);
    await writeJson(o, { tool: 'airlock', command: 'bundle verify', ok: false, problems: [{ where: args.join(' '), message: err.message }, ...parts] });
    return 1;
  }
  try {
    const problems = await a.verifyAll();
    const inv = a.inventory;
    const parts = a.location.parts.length;
    if (problems.length) {
      log.error(`✘ ${a.display}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:`);
      for (const p of problems) log.error(`  ${p.where}: ${p.message}`);
    } else {
      log.info(`✔ ${a.display}: ${parts > 1 ? `${parts} parts, ` : ''}inventory ${shortDigest(a.inventoryDigest)} (checksum ok${list(o.key).length ? ', signature ok' : ''}), ${a.blobs.size} blobs (${formatBytes(a.ra.size)}) verified in ${formatDuration(Date.now() - started)}${inv.external.length ? `; ${inv.external.length} blobs come from the earlier bundle ${shortDigest(inv.previous?.inventory)}` : ''}`);
    }
    await writeJson(o, { tool: 'airlock', command: 'bundle verify', ok: problems.length === 0, bundle: a.display, inventoryDigest: a.inventoryDigest, parts, blobs: a.blobs.size, size: a.ra.size, external: inv.external.length, problems });
    return problems.length ? 1 : 0;
  } finally {
    await a.close();
  }
}

async function runLoad(args: string[], o: Opts): Promise<number> {
  const log = logger(o);
  const to = str(o.to);
  const rewrites = list(o.rewrite).map(parseRewrite);
  if (!to && !rewrites.length) throw new AirlockError('USAGE', 'bundle load needs --to PREFIX, --to oci:DIR or --rewrite OLD=NEW', { hint: 'see airlock bundle load --help' });
  const chunk = o.chunkSize === undefined ? undefined : Number(o.chunkSize);
  if (chunk !== undefined && (!Number.isInteger(chunk) || chunk < 1024)) throw new AirlockError('USAGE', `--chunk-size must be at least 1024 bytes, got ${String(o.chunkSize)}`);
  const concurrency = concurrencyOf(o);
  const chartRepo = str(o.chartRepo);
  if (chartRepo && !/^https?:\/\//.test(chartRepo)) throw new AirlockError('USAGE', `--chart-repo "${chartRepo}" is not an http(s) URL`, { hint: 'give the ChartMuseum-compatible repository, e.g. https://charts.internal (charts are POSTed to URL/api/charts)' });
  const a = await openChecked(args, list(o.key), log);
  const registries = registriesFrom(connectionFlags(o));
  const started = Date.now();
  let results: ImageResult[];
  try {
    const planned = planLoad(a, { ...(to ? { to } : {}), rewrites });
    const { mounts } = planned;
    const notes = chartRepo ? planned.notes.filter((n) => !n.startsWith('chart ')) : planned.notes;
    // --chart-repo: the charts go to the chart repository (the ChartTarget), not PREFIX/charts/.
    const jobs = chartRepo ? planned.jobs.filter((j) => j.kind !== 'chart') : planned.jobs;
    if (chartRepo) {
      const charts = chartTarget();
      for (const e of a.inventory.entries) {
        if (e.kind !== 'chart') continue;
        if (o.dryRun) {
          log.info(`chart ${e.name} ${e.version} → ${chartRepo} (dry run: not uploaded)`);
          continue;
        }
        const m = await a.readManifest({ digest: e.digest, mediaType: '' });
        const r = await charts.push({ name: e.name, version: e.version, manifest: m, open: async (d) => a.openBlob(d) }, { registries, chartRepo, ...(to ? { to } : {}) });
        log.info(`✔ chart ${e.name} ${e.version} → ${r.destination} (${r.status === 'exists' ? 'already there' : 'uploaded'})`);
      }
    }
    for (const n of notes) log.info(`note: ${n}`);
    const files = a.inventory.entries.filter((e) => e.kind === 'file').length;
    if (files) log.info(`note: ${files} file entr${files === 1 ? 'y stays' : 'ies stay'} in the bundle (airlock bundle extract --file NAME -o DIR)`);
    log.start(`airlock bundle load: ${jobs.length} image${jobs.length === 1 ? '' : 's'} from ${a.display}${o.dryRun ? ' (dry run)' : ''}`, false);
    try {
      results = await loadBundle(a, jobs, {
        registries,
        referrers: o.referrers !== false,
        concurrency,
        dryRun: !!o.dryRun,
        ...(chunk ? { upload: { chunkSize: chunk } } : {}),
        onEvent: (e) => {
          if (e.type === 'image-done') log.info(imageLine(e.result));
          if (e.type === 'retry') log.info(`  retry ${e.attempt} in ${formatDuration(e.delayMs)}: ${e.reason}`);
        },
      }, mounts);
    } finally {
      log.end();
    }
  } finally {
    await registries.close();
    await a.close();
  }
  const report = buildLoadReport(results, !!o.dryRun, Date.now() - started, a.display, a.inventoryDigest);
  if (o.junit) await writeFileAtomic(String(o.junit), loadJunit(report));
  if (o.dotenv) await writeDotenv(String(o.dotenv), loadOutputValues(report));
  await writeJson(o, report);
  const t = report.totals;
  log.info(`${t.images - t.failed}/${t.images} images ${o.dryRun ? 'checked' : 'loaded'} (${t.skipped} already up to date), ${t.blobs.copied} blobs ${o.dryRun ? 'to push' : 'pushed'} (${formatBytes(t.bytes)}), ${t.blobs.mounted} mounted, ${t.blobs.skipped} skipped in ${formatDuration(t.durationMs)}`);
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length) {
    log.error(`${failed.length} image${failed.length === 1 ? '' : 's'} failed:`);
    for (const r of failed) log.error(`  ${imageLine(r)}`);
  }
  return failed.length ? 1 : 0;
}

async function runList(args: string[], o: Opts): Promise<number> {
  const a = await BundleArchive.open(args);
  try {
    if (o.json) process.stdout.write(`${JSON.stringify({ bundle: a.display, inventoryDigest: a.inventoryDigest, signed: !!a.signature, size: a.ra.size, inventory: a.inventory }, null, 2)}\n`);
    else process.stdout.write(`${listLines(a).join('\n')}\n`);
    return 0;
  } finally {
    await a.close();
  }
}

async function runExtract(args: string[], o: Opts): Promise<number> {
  const file = str(o.file);
  const chart = str(o.chart);
  if (!!file === !!chart) throw new AirlockError('USAGE', 'bundle extract needs --file PATH or --chart NAME[@VERSION] (one of them)', { hint: 'airlock bundle list shows the names' });
  const a = await BundleArchive.open(args);
  try {
    const written = await extractEntry(a, file ? { file } : { chart: chart! }, String(o.output));
    for (const w of written) process.stderr.write(`✔ ${w}\n`);
    return 0;
  } finally {
    await a.close();
  }
}

async function runDiff(args: string[], o: Opts): Promise<number> {
  const [oldPath, newPath] = args;
  if (!oldPath || !newPath) throw new AirlockError('USAGE', 'bundle diff needs OLD and NEW');
  const [older, newer] = await Promise.all([readInventoryOf(oldPath), readInventoryOf(newPath)]);
  const d = diffInventories(older.inventory, newer.inventory);
  if (o.json) process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
  else {
    const lines = [
      ...d.added.map((e) => `+ ${e.kind} ${e.name} ${shortDigest(e.digest)}`),
      ...d.changed.map((e) => `~ ${e.kind} ${e.name} ${shortDigest(e.from)} → ${shortDigest(e.to)}`),
      ...d.removed.map((e) => `- ${e.kind} ${e.name} ${shortDigest(e.digest)}`),
      `${d.added.length} added, ${d.changed.length} changed, ${d.removed.length} removed, ${d.unchanged} unchanged; an incremental bundle would carry ${d.newBlobs} blobs (${formatBytes(d.newBytes)}) of ${formatBytes(d.totalBytes)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return 0;
}

export function buildBundleCommand(setExit: SetExit): Command {
  const run = (fn: (args: string[], o: Opts) => Promise<number>) => async (args: string[], o: Opts) => setExit(await fn(args, o));
  return new Command('bundle')
    .description(BUNDLE_SUMMARY)
    .addCommand(commandFor(bundleCreateStep, run((_a, o) => runCreate(o))))
    .addCommand(commandFor(bundleVerifyStep, run(runVerify)))
    .addCommand(commandFor(bundleLoadStep, run(runLoad)))
    .addCommand(commandFor(bundleListStep, run(runList)))
    .addCommand(commandFor(bundleExtractStep, run(runExtract)))
    .addCommand(commandFor(bundleDiffStep, run(runDiff)));
}

import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { AirlockError, copyReportSchema, type CopyReport } from '@airlock/oci';
import { commandFor, Logger, writeDotenv, writeFileAtomic } from '@airlock/step-kit';
import { transferOutputValues } from './outputs.js';
import { buildReport, reportJunit } from './report.js';
import { reportMergeStep } from './inputs.js';

/** Report files named by the arguments: files as given, directories' *.json in name order. */
export async function reportFiles(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    let s;
    try {
      s = await stat(a);
    } catch {
      throw new AirlockError('BAD_INPUT', `cannot read report ${a}`, { hint: 'name JSON reports written by --report, or a directory holding them' });
    }
    if (s.isDirectory()) {
      const names = (await readdir(a)).filter((n) => n.endsWith('.json')).sort();
      out.push(...names.map((n) => path.join(a, n)));
    } else out.push(a);
  }
  if (!out.length) throw new AirlockError('BAD_INPUT', `no JSON reports in ${args.join(', ')}`, { hint: 'did the mirror jobs write --report files into this directory?' });
  return out;
}

/** Merge parsed copy/mirror reports (see reportMergeStep's help). */
export function mergeReports(reports: { file: string; report: CopyReport }[]): CopyReport {
  const commands = [...new Set(reports.map((r) => r.report.command))];
  if (commands.length > 1) throw new AirlockError('BAD_INPUT', `the reports are of different commands (${commands.join(', ')})`, { hint: 'merge the reports of one command' });
  const seen = new Map<string, string>();
  for (const { file, report } of reports) {
    for (const img of report.images) {
      const key = `${img.source}\n${img.destination}`;
      const first = seen.get(key);
      if (first) throw new AirlockError('BAD_INPUT', `${img.source} → ${img.destination} is in both ${first} and ${file}`, { hint: 'each shard\'s report is merged once' });
      seen.set(key, file);
    }
  }
  const images = reports.flatMap((r) => r.report.images);
  const merged = buildReport(commands[0] ?? 'mirror', images as never, reports.some((r) => r.report.dryRun), Math.max(0, ...reports.map((r) => r.report.totals.durationMs)));
  return merged;
}

export async function readReports(files: string[]): Promise<{ file: string; report: CopyReport }[]> {
  return Promise.all(
    files.map(async (file) => {
      let json: unknown;
      try {
        json = JSON.parse(await readFile(file, 'utf8'));
      } catch (e) {
        throw new AirlockError('BAD_INPUT', `${file}: not a JSON report (${(e as Error).message.split('\n')[0]})`);
      }
      const parsed = copyReportSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new AirlockError('BAD_INPUT', `${file}: not an airlock copy/mirror report (${issue ? `${issue.path.join('.') || 'top level'}: ${issue.message}` : 'invalid'})`);
      }
      return { file, report: parsed.data };
    }),
  );
}

export function buildReportCommand(setExit: (code: number) => void): Command {
  const merge = commandFor(reportMergeStep, async (args, o) => {
    const files = await reportFiles(args.flatMap((a) => (Array.isArray(a) ? a.map(String) : [String(a)])));
    const merged = mergeReports(await readReports(files));
    if (o.jsonOut) await writeFileAtomic(String(o.jsonOut), `${JSON.stringify(merged, null, 2)}\n`);
    if (o.junit) await writeFileAtomic(String(o.junit), reportJunit(merged));
    if (o.dotenv) await writeDotenv(String(o.dotenv), transferOutputValues(merged));
    const log = new Logger(process.stderr, process.env, !!o.quiet);
    const t = merged.totals;
    log.info(`merged ${files.length} report${files.length === 1 ? '' : 's'}: ${t.images - t.failed}/${t.images} images ok, ${t.failed} failed`);
    for (const img of merged.images.filter((i) => i.status === 'failed')) log.error(`  ✘ ${img.source} → ${img.destination}: ${img.error?.message ?? 'failed'}`);
    setExit(0);
  });
  return new Command('report').description('Work with Airlock reports: report merge').addCommand(merge);
}

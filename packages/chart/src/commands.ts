import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { AirlockError } from '@airlock/oci';
import { commandFor, connectionFlags, registriesFrom } from '@airlock/step-kit';
import { chartHttpFor, chartImages, copyChart, parseChartDestination, parseChartSource, parseValues, resolveChart } from '@airlock/helm';
import { chartCopyStep, chartGroupSummary, chartImagesStep } from './inputs.js';

export type SetExit = (code: number) => void;

function chartHttp(opts: Record<string, unknown>) {
  return chartHttpFor(registriesFrom(connectionFlags(opts)));
}

const optString = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

export function buildChartCopyCommand(setExit: SetExit): Command {
  return commandFor(chartCopyStep, async (args, opts) => {
    const [src, dst] = args;
    if (!src || !dst) throw new AirlockError('USAGE', 'chart copy needs SRC and DST', { hint: 'airlock chart copy SRC DST; see airlock chart copy --help' });
    const name = optString(opts.name);
    const version = optString(opts.version);
    const spec = parseChartSource(src, { ...(name ? { name } : {}), ...(version ? { version } : {}) });
    const destination = parseChartDestination(dst);
    const created = optString(opts.created);
    if (created && Number.isNaN(Date.parse(created))) throw new AirlockError('USAGE', `--created "${created}" is not an RFC 3339 time`, { hint: 'e.g. 2024-01-02T03:04:05Z' });
    const http = chartHttp(opts);
    try {
      const r = await copyChart(spec, destination, { http, ...(created ? { created } : {}), dryRun: !!opts.dryRun, force: !!opts.force });
      if (opts.json) process.stdout.write(`${JSON.stringify({ tool: 'airlock', command: 'chart copy', ok: true, chart: r }, null, 2)}\n`);
      const what = r.status === 'exists' ? 'already there' : r.status === 'planned' ? 'would copy' : r.status === 'skipped' ? 'up to date' : 'copied';
      process.stderr.write(`✔ ${r.name} ${r.version} (${r.digest.slice(0, 19)}${r.provenance ? ', with provenance' : ''}) → ${r.destination}: ${what}${r.manifestDigest ? `, manifest ${r.manifestDigest}` : ''}\n`);
      setExit(0);
    } finally {
      await http.registries.close();
    }
  }).name('copy');
}

export function buildChartImagesCommand(setExit: SetExit): Command {
  return commandFor(chartImagesStep, async (args, opts) => {
    const [src] = args;
    if (!src) throw new AirlockError('USAGE', 'chart images needs CHART', { hint: 'airlock chart images CHART.tgz' });
    const name = optString(opts.name);
    const version = optString(opts.version);
    const valueFiles = Array.isArray(opts.values) ? opts.values.map(String) : [];
    const values = await Promise.all(
      valueFiles.map(async (file) => {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch {
          throw new AirlockError('BAD_INPUT', `cannot read values file ${file}`, { hint: 'check the path given to --values' });
        }
        return { file, values: parseValues(text, file) };
      }),
    );
    const http = chartHttp(opts);
    let result;
    try {
      const chart = await resolveChart(parseChartSource(src, { ...(name ? { name } : {}), ...(version ? { version } : {}) }), http);
      result = await chartImages(chart.tgz, { values, what: chart.source });
    } finally {
      await http.registries.close();
    }
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      process.stdout.write(`${result.chart.name} ${result.chart.version}: ${result.images.length} image${result.images.length === 1 ? '' : 's'}\n`);
      for (const img of result.images) {
        process.stdout.write(`${img.reference}\n`);
        for (const s of img.foundIn) process.stdout.write(`    ${s.file}: ${s.at}${s.note ? ` (${s.note})` : ''}\n`);
      }
      if (result.unresolved.length) {
        process.stdout.write(`not resolved without rendering:\n`);
        for (const u of result.unresolved) process.stdout.write(`    ${u.source.file}: ${u.source.at}: ${JSON.stringify(u.value)} (${u.reason})\n`);
      }
    }
    setExit(0);
  }).name('images');
}

/** `airlock chart copy|images`. */
export function buildChartCommand(setExit: SetExit): Command {
  return new Command('chart').description(chartGroupSummary).addCommand(buildChartCopyCommand(setExit)).addCommand(buildChartImagesCommand(setExit));
}

import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { AirlockError, type Descriptor, digestOf, readLimited, type Registries, RegistryRepo } from '@airlock/oci';
import {
  type ChartSpec as HelmChartSpec,
  chartArtifact,
  chartHttpFor,
  chartImages,
  HelmMediaType,
  MAX_TGZ_BYTES,
  parseChartYaml,
  parseValues,
  pushChartMuseum,
  readChartFiles,
  resolveChart,
  type ResolvedChart,
} from '@airlock/helm';
import { localChartSource } from './chart-file.js';
import type { ChartArtifact, ChartSource, ChartTarget } from './charts.js';
import type { ChartSpec } from './config.js';

/**
 * bundle's ChartSource and ChartTarget over `@airlock/helm`, the default:
 * - `repo:` charts are resolved through the repository's index.yaml (exact version or semver range,
 *   the download checked against the index's digest) and stored as the artifact `helm push` writes
 *   (`created` = the bundle's creation time, so SOURCE_DATE_EPOCH makes it reproducible);
 * - `oci:` charts keep the registry's own manifest (digest unchanged), as `chart copy` does;
 * - `file:` charts are read by the local reader (chart-file.ts), unchanged;
 * - with `images-from-chart: true`, the images the chart declares (values, subcharts, the
 *   helm.sh/images annotation, literal template images; `values:` files applied) join the bundle.
 * `bundle load --chart-repo URL` uploads each chart to a ChartMuseum-compatible server (409 for
 * the same chart is success); without it, charts go to PREFIX/charts/NAME:VERSION as stored.
 */

const MAX_PROV_BYTES = 1024 * 1024;

function helmSpec(spec: ChartSpec & { where: string }): HelmChartSpec {
  if (spec.repo) return { kind: 'repo', url: spec.repo, name: spec.name!, ...(spec.version ? { version: spec.version } : {}) };
  if (spec.oci) return { kind: 'oci', ref: spec.oci, ...(spec.version ? { version: spec.version } : {}) };
  return { kind: 'file', path: spec.file! };
}

/** Prefix a library error with the airlock.yaml entry it came from (one line, hint kept). */
function at(where: string, e: unknown): never {
  if (e instanceof AirlockError && !e.message.startsWith(where)) {
    throw new AirlockError(e.code, `${where}: ${e.message}`, { ...(e.hint ? { hint: e.hint } : {}), ...(e.status !== undefined ? { status: e.status } : {}), cause: e });
  }
  throw e;
}

/** The references the chart declares, with the entry's values files applied. */
async function imagesOf(tgz: Buffer, spec: ChartSpec & { where: string }, what: string): Promise<string[]> {
  const values = await Promise.all(
    (spec.values ?? []).map(async (file) => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        throw new AirlockError('BAD_INPUT', `${spec.where}: cannot read values file ${file}`, { hint: 'paths in values: are relative to airlock.yaml' });
      }
      return { file, values: parseValues(text, file) };
    }),
  );
  const r = await chartImages(tgz, { values, what });
  return r.images.map((i) => i.reference);
}

/** A chart read from a registry: its own manifest and blobs, digest unchanged (as chart copy does). */
function ociArtifact(chart: ResolvedChart & { oci: NonNullable<ResolvedChart['oci']> }, registries: Registries): ChartArtifact {
  const { registry, repository, manifest } = chart.oci;
  if (manifest.kind !== 'image') throw new AirlockError('UNSUPPORTED_MEDIA_TYPE', `${chart.source} is not a Helm chart manifest`);
  const repo = new RegistryRepo(registries.client(registry), repository);
  // The chart and provenance layers were read (and checked) already; the config is read again.
  const inMemory = new Map<string, Buffer>([[chart.digest, chart.tgz], ...(chart.prov ? [[digestOf(chart.prov), chart.prov] as [string, Buffer]] : [])]);
  return {
    name: chart.name,
    version: chart.version,
    source: chart.source,
    manifest,
    blobs: [manifest.image.config, ...manifest.image.layers].map((desc) => ({
      desc,
      open: async (): Promise<Readable> => {
        const bytes = inMemory.get(desc.digest);
        return bytes && bytes.length === desc.size ? Readable.from([bytes]) : repo.openBlob(desc);
      },
    })),
    images: [],
  };
}

export const helmChartSource: ChartSource = {
  async fetch(spec, ctx) {
    if (spec.file) {
      // The local reader stores a .tgz exactly as before; images-from-chart reads the same bytes.
      const stored = await localChartSource.fetch({ ...spec, 'images-from-chart': false }, ctx);
      if (!spec['images-from-chart']) return stored;
      const tgz = await readFile(spec.file);
      return { ...stored, images: await imagesOf(tgz, spec, `${spec.where}: ${spec.file}`).catch((e: unknown) => at(spec.where, e)) };
    }
    const http = chartHttpFor(ctx.registries);
    const chart = await resolveChart(helmSpec(spec), http).catch((e: unknown) => at(spec.where, e));
    if (spec.name && chart.name !== spec.name) throw new AirlockError('BAD_INPUT', `${spec.where}: ${chart.source} is chart ${chart.name}, not ${spec.name}`, { hint: 'fix name: or the reference' });
    const created = ctx.created ?? new Date(Math.floor(Date.now() / 1000) * 1000);
    let artifact: ChartArtifact;
    if (chart.oci) {
      artifact = ociArtifact({ ...chart, oci: chart.oci }, ctx.registries);
    } else {
      const art = chartArtifact(chart, created);
      const manifest = await art.source.getManifest(art.tag);
      if (manifest.kind !== 'image') throw new AirlockError('UNSUPPORTED_MEDIA_TYPE', `chart ${chart.name} ${chart.version}: the built artifact is not an image manifest`);
      artifact = {
        name: chart.name,
        version: chart.version,
        source: chart.source,
        manifest,
        blobs: [manifest.image.config, ...manifest.image.layers].map((desc) => ({ desc, open: () => art.source.openBlob(desc) })),
        images: [],
      };
    }
    if (spec['images-from-chart']) artifact.images = await imagesOf(chart.tgz, spec, chart.source).catch((e: unknown) => at(spec.where, e));
    return artifact;
  },
};

async function readBlob(open: (d: Descriptor) => Promise<Readable>, desc: Descriptor, limit: number, what: string): Promise<Buffer> {
  if (desc.size > limit) throw new AirlockError('BAD_INPUT', `${what}: ${desc.size} bytes is larger than ${limit}`, { hint: 'the bundle holds something other than a chart here' });
  const bytes = await readLimited(await open(desc), limit, what);
  if (digestOf(bytes) !== desc.digest) throw new AirlockError('DIGEST_MISMATCH', `${what}: content does not match ${desc.digest}`, { hint: 'the bundle is damaged; run airlock bundle verify' });
  return bytes;
}

export const helmChartTarget: ChartTarget = {
  async push(chart, ctx) {
    if (!ctx.chartRepo) {
      throw new AirlockError('USAGE', `chart ${chart.name} ${chart.version}: the chart target uploads to a chart repository (--chart-repo) only`, { hint: 'charts for --to PREFIX are loaded as stored' });
    }
    const what = `bundle chart ${chart.name} ${chart.version}`;
    const m = chart.manifest;
    if (m.kind !== 'image') throw new AirlockError('BAD_INPUT', `${what} is not a Helm chart manifest`, { hint: 'the bundle is damaged; run airlock bundle verify' });
    const layer = m.image.layers.find((l) => l.mediaType === HelmMediaType.Chart || l.mediaType === HelmMediaType.LegacyChart);
    if (!layer) throw new AirlockError('BAD_INPUT', `${what} has no chart layer`, { hint: `expected a layer of type ${HelmMediaType.Chart}` });
    const tgz = await readBlob(chart.open, layer, MAX_TGZ_BYTES, what);
    const provLayer = m.image.layers.find((l) => l.mediaType === HelmMediaType.Provenance);
    const prov = provLayer ? await readBlob(chart.open, provLayer, MAX_PROV_BYTES, `${what} provenance`) : undefined;
    const { files } = await readChartFiles(tgz, what);
    const metadata = parseChartYaml(files.get('Chart.yaml')!.toString('utf8'), what);
    if (metadata.name !== chart.name || metadata.version !== chart.version) {
      throw new AirlockError('BAD_INPUT', `${what} holds chart ${metadata.name} ${metadata.version}`, { hint: 'the bundle inventory and the chart disagree; the bundle is damaged' });
    }
    const resolved: ResolvedChart = { name: chart.name, version: chart.version, metadata, tgz, digest: layer.digest, ...(prov ? { prov } : {}), source: what };
    const r = await pushChartMuseum(resolved, ctx.chartRepo, chartHttpFor(ctx.registries));
    return { destination: r.url, status: r.status === 'uploaded' ? 'pushed' : 'exists' };
  },
};

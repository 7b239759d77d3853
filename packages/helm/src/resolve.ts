import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import semver from 'semver';
import { z } from 'zod';
import { AirlockError, type Digest, digestOf, type Manifest, parseReference, readBlobBytes, RegistryRepo } from '@airlock/oci';
import { MAX_TGZ_BYTES, readChartFiles } from './archive.js';
import { type ChartHttp, httpError, httpRequest } from './http.js';
import { type ChartMetadata, parseChartYaml, versionTag } from './metadata.js';

/** Media types of a chart stored in an OCI registry (`helm push`). */
export const HelmMediaType = {
  Config: 'application/vnd.cncf.helm.config.v1+json',
  Chart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
  LegacyChart: 'application/tar+gzip',
  Provenance: 'application/vnd.cncf.helm.chart.provenance.v1.prov',
} as const;

/** Where a chart comes from. */
export type ChartSpec =
  /** An HTTP chart repository (`index.yaml`); version: exact, a semver range, or latest stable. */
  | { kind: 'repo'; url: string; name: string; version?: string }
  /** `oci://HOST/PATH/NAME[:VERSION]`; without a tag, version (or a range) picks among the tags. */
  | { kind: 'oci'; ref: string; version?: string }
  /** A packaged chart on disk (`NAME-VERSION.tgz`, with `FILE.prov` beside it when present). */
  | { kind: 'file'; path: string };

export interface ResolvedChart {
  name: string;
  version: string;
  metadata: ChartMetadata;
  /** The packaged chart, exactly as published. */
  tgz: Buffer;
  /** `sha256:<hex>` of tgz (an HTTP repository's index.yaml `digest` is the hex alone). */
  digest: Digest;
  /** The provenance file (`helm package --sign`), when there is one. */
  prov?: Buffer;
  /** Where it came from, for messages and reports. */
  source: string;
  /** For a chart read from a registry: where, and its manifest (kept as is when copied on). */
  oci?: { registry: string; repository: string; tag: string; manifest: Manifest };
}

/** Turn the command line's SRC (+ --name/--version) into a spec. */
export function parseChartSource(src: string, opts: { name?: string; version?: string } = {}): ChartSpec {
  if (/^https?:\/\//.test(src)) {
    if (!opts.name) throw new AirlockError('USAGE', `${src} is a chart repository: name the chart with --name`, { hint: 'airlock chart copy https://REPO --name NAME [--version V] DST' });
    return { kind: 'repo', url: src, name: opts.name, ...(opts.version ? { version: opts.version } : {}) };
  }
  if (src.startsWith('oci://')) return { kind: 'oci', ref: src, ...(opts.version ? { version: opts.version } : {}) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) throw new AirlockError('BAD_REFERENCE', `unsupported chart source "${src}"`, { hint: 'use https://REPO --name N, oci://HOST/PATH/NAME:VERSION or a .tgz file' });
  return { kind: 'file', path: src };
}

export function describeSpec(spec: ChartSpec): string {
  if (spec.kind === 'repo') return `${spec.url} ${spec.name}${spec.version ? `@${spec.version}` : ''}`;
  if (spec.kind === 'oci') return `${spec.ref}${spec.version ? `@${spec.version}` : ''}`;
  return spec.path;
}

/** Read the chart's own Chart.yaml out of the archive and check it is the chart asked for. */
async function loadTgz(tgz: Buffer, source: string, expect?: { name?: string; version?: string }): Promise<{ metadata: ChartMetadata }> {
  const { files } = await readChartFiles(tgz, source);
  const metadata = parseChartYaml(files.get('Chart.yaml')!.toString('utf8'), source);
  if (expect?.name && metadata.name !== expect.name) {
    throw new AirlockError('BAD_INPUT', `${source} holds chart "${metadata.name}", not "${expect.name}"`, { hint: 'the repository serves a different chart under this name; nothing was copied' });
  }
  if (expect?.version && metadata.version !== expect.version) {
    throw new AirlockError('BAD_INPUT', `${source} holds version ${metadata.version}, not ${expect.version}`, { hint: 'the repository serves a different version under this name; nothing was copied' });
  }
  return { metadata };
}

/** Pick a version: exact, else the highest matching a range, else the latest stable one. */
export function pickVersion(versions: string[], wanted: string | undefined, what: string): string {
  if (wanted && versions.includes(wanted)) return wanted;
  const range = wanted ?? '*';
  if (wanted && semver.validRange(wanted) === null) {
    throw new AirlockError('USAGE', `${what}: "${wanted}" is neither a version nor a semver range`, { hint: 'write 1.2.3, ^1.2, ~1.2.0 or >=1.0 <2' });
  }
  const best = semver.maxSatisfying(versions.filter((v) => semver.valid(v)), range);
  if (best) return best;
  const shown = [...versions].filter((v) => semver.valid(v)).sort(semver.rcompare).slice(0, 10);
  throw new AirlockError('NOT_FOUND', `${what}: no version ${wanted ? `matching ${wanted}` : '(stable)'}`, { hint: `available: ${shown.join(', ') || 'none'}` });
}

const repoIndexSchema = z.object({
  apiVersion: z.string().optional(),
  entries: z.record(
    z.string(),
    z
      .array(
        z.looseObject({
          name: z.string(),
          version: z.union([z.string(), z.number()]).transform(String),
          digest: z.string().optional(),
          urls: z.array(z.string()).min(1),
        }),
      )
      .nullable(),
  ),
});
/** index.yaml files of large public repositories run to tens of MB. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

async function resolveFromRepo(spec: Extract<ChartSpec, { kind: 'repo' }>, http: ChartHttp): Promise<ResolvedChart> {
  const base = spec.url.endsWith('/') ? spec.url : `${spec.url}/`;
  const indexUrl = new URL('index.yaml', base).toString();
  const res = await httpRequest(http, 'GET', indexUrl, { limit: MAX_INDEX_BYTES, what: 'chart repository index' });
  if (res.status !== 200) throw httpError('chart repository index', indexUrl, res.status, res.body);
  let doc: unknown;
  try {
    doc = parseYaml(res.body.toString('utf8'), { maxAliasCount: 100 });
  } catch (e) {
    throw new AirlockError('BAD_INPUT', `${indexUrl} is not valid YAML: ${(e as Error).message.split('\n')[0]}`, { hint: 'is this URL a Helm chart repository?' });
  }
  const idx = repoIndexSchema.safeParse(doc);
  if (!idx.success) {
    const i = idx.error.issues[0];
    throw new AirlockError('BAD_INPUT', `${indexUrl} is not a chart repository index${i?.path.length ? ` (at ${i.path.join('.')}: ${i.message})` : ''}`, { hint: 'is this URL a Helm chart repository?' });
  }
  const entries = idx.data.entries[spec.name] ?? [];
  if (!entries.length) {
    const names = Object.keys(idx.data.entries).slice(0, 20);
    throw new AirlockError('NOT_FOUND', `${spec.url} has no chart "${spec.name}"`, { hint: `charts there: ${names.join(', ') || 'none'}` });
  }
  const version = pickVersion(entries.map((e) => e.version), spec.version, `${spec.url} ${spec.name}`);
  const entry = entries.find((e) => e.version === version)!;
  if (!entry.digest || !/^[a-f0-9]{64}$/.test(entry.digest)) {
    throw new AirlockError('BAD_INPUT', `${spec.url} ${spec.name} ${version}: the index gives no SHA-256 digest for it`, { hint: 'Airlock copies a chart only when the index says what its bytes must hash to (helm repo index writes it)' });
  }
  const chartUrl = new URL(entry.urls[0]!, base).toString();
  const dl = await httpRequest(http, 'GET', chartUrl, { limit: MAX_TGZ_BYTES, what: `chart ${spec.name} ${version}`, authFor: base });
  if (dl.status !== 200) throw httpError(`chart ${spec.name} ${version}`, chartUrl, dl.status, dl.body);
  const hex = createHash('sha256').update(dl.body).digest('hex');
  if (hex !== entry.digest) {
    throw new AirlockError('DIGEST_MISMATCH', `${chartUrl}: content digest ${hex} does not match the index's ${entry.digest}`, {
      hint: 'the repository served corrupted or tampered content, or its index.yaml is stale; nothing was copied',
    });
  }
  const source = `${spec.url} ${spec.name} ${version}`;
  const { metadata } = await loadTgz(dl.body, source, { name: spec.name, version });
  // A signed chart has NAME-VERSION.tgz.prov beside it.
  const pv = await httpRequest(http, 'GET', `${chartUrl}.prov`, { limit: 1024 * 1024, what: `provenance of ${spec.name} ${version}`, authFor: base }).catch(() => undefined);
  return { name: metadata.name, version: metadata.version, metadata, tgz: dl.body, digest: `sha256:${hex}`, ...(pv?.status === 200 ? { prov: pv.body } : {}), source };
}

/** `oci://HOST/PATH/NAME[:TAG]` → registry, repository, tag (the version with `+` as `_`). */
export function parseOciChartRef(ref: string): { registry: string; repository: string; tag?: string } {
  if (!ref.startsWith('oci://')) throw new AirlockError('BAD_REFERENCE', `"${ref}" is not an oci:// reference`, { hint: 'write oci://HOST/PATH/NAME:VERSION' });
  const r = parseReference(ref.slice('oci://'.length), { defaultTag: false });
  if (r.digest) throw new AirlockError('BAD_REFERENCE', `${ref}: name a chart by version, not digest`, { hint: 'write oci://HOST/PATH/NAME:VERSION' });
  return { registry: r.registry, repository: r.repository, ...(r.tag ? { tag: r.tag } : {}) };
}

async function resolveFromOci(spec: Extract<ChartSpec, { kind: 'oci' }>, http: ChartHttp): Promise<ResolvedChart> {
  const { registry, repository, tag: given } = parseOciChartRef(spec.ref);
  const repo = new RegistryRepo(http.registries.client(registry), repository);
  let tag = given;
  if (!tag) {
    const tags = await repo.listTags();
    const versions = tags.map((t) => t.replace(/_/g, '+'));
    tag = versionTag(pickVersion(versions, spec.version, spec.ref));
  } else if (spec.version && versionTag(spec.version) !== tag) {
    throw new AirlockError('USAGE', `${spec.ref} already names version ${tag}; --version ${spec.version} disagrees`, { hint: 'give the version once' });
  }
  const manifest = await repo.getManifest(tag);
  const where = `oci://${registry}/${repository}:${tag}`;
  if (manifest.kind !== 'image' || manifest.image.config.mediaType !== HelmMediaType.Config) {
    throw new AirlockError('UNSUPPORTED_MEDIA_TYPE', `${where} is not a Helm chart (config ${manifest.kind === 'image' ? manifest.image.config.mediaType : 'none: an index'})`, {
      hint: `a chart pushed by helm push has config ${HelmMediaType.Config}`,
    });
  }
  const layer = manifest.image.layers.find((l) => l.mediaType === HelmMediaType.Chart || l.mediaType === HelmMediaType.LegacyChart);
  if (!layer) throw new AirlockError('BAD_INPUT', `${where} has no chart layer`, { hint: `expected a layer of type ${HelmMediaType.Chart}` });
  const tgz = await readBlobBytes(repo, layer, MAX_TGZ_BYTES);
  const provLayer = manifest.image.layers.find((l) => l.mediaType === HelmMediaType.Provenance);
  const prov = provLayer ? await readBlobBytes(repo, provLayer, 1024 * 1024) : undefined;
  const name = repository.slice(repository.lastIndexOf('/') + 1);
  const { metadata } = await loadTgz(tgz, where, { name, version: tag.replace(/_/g, '+') });
  return { name: metadata.name, version: metadata.version, metadata, tgz, digest: layer.digest, ...(prov ? { prov } : {}), source: where, oci: { registry, repository, tag, manifest } };
}

async function resolveFromFile(spec: Extract<ChartSpec, { kind: 'file' }>): Promise<ResolvedChart> {
  let tgz: Buffer;
  try {
    tgz = await readFile(spec.path);
  } catch (e) {
    throw new AirlockError('BAD_INPUT', `cannot read chart ${spec.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'give a packaged chart (helm package writes NAME-VERSION.tgz)' });
  }
  if (tgz.length > MAX_TGZ_BYTES) throw new AirlockError('BAD_INPUT', `${spec.path} is larger than ${MAX_TGZ_BYTES} bytes`, { hint: 'Helm refuses charts this large too' });
  const { metadata } = await loadTgz(tgz, spec.path);
  const prov = await readFile(`${spec.path}.prov`).catch(() => undefined);
  return { name: metadata.name, version: metadata.version, metadata, tgz, digest: digestOf(tgz), ...(prov ? { prov } : {}), source: spec.path };
}

/** Fetch and check a chart: digest verified (index.yaml or OCI descriptor), Chart.yaml read. */
export function resolveChart(spec: ChartSpec, http: ChartHttp): Promise<ResolvedChart> {
  switch (spec.kind) {
    case 'repo':
      return resolveFromRepo(spec, http);
    case 'oci':
      return resolveFromOci(spec, http);
    case 'file':
      return resolveFromFile(spec);
  }
}

import { goString } from '@airlock/cosign/gojson';
import {
  AirlockError,
  copyImage,
  type Descriptor,
  type Digest,
  type EventSink,
  type ImageResult,
  MediaType,
  MemorySource,
  parseReference,
  type Registries,
  RegistryRepo,
  TransferContext,
} from '@airlock/oci';
import { helmAnnotations, helmConfigJson, rfc3339, versionTag } from './metadata.js';
import { HelmMediaType, type ResolvedChart } from './resolve.js';

/**
 * A chart in an OCI registry, exactly as `helm push` stores it: config = Chart.yaml metadata as
 * JSON, the .tgz as one layer, the .prov as another when present (layers sorted by digest), the
 * `org.opencontainers.image.*` annotations, at PATH/NAME:VERSION with `+` written `_`. The
 * manifest is built in memory and pushed by the transfer engine, as Helm copies from its memory
 * store. A chart read from a registry is copied with its own manifest (digest unchanged).
 */

export interface PushChartOptions {
  registries: Registries;
  /** `org.opencontainers.image.created` (RFC 3339). Default: now, as helm does; fix it for a reproducible digest. */
  created?: string | Date;
  onEvent?: EventSink;
  force?: boolean;
  dryRun?: boolean;
}

export interface PushedChart {
  /** `oci://HOST/PATH/NAME:TAG` */
  reference: string;
  digest: Digest;
  result: ImageResult;
}

function descriptorJson(d: Descriptor): string {
  return `{"mediaType":${goString(d.mediaType)},"digest":${goString(d.digest)},"size":${d.size}}`;
}

/** The manifest bytes `helm push` writes (Go's encoding/json of ocispec.Manifest). */
export function helmManifestJson(config: Descriptor, layers: Descriptor[], annotations: Record<string, string>): Buffer {
  const sorted = [...layers].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const keys = Object.keys(annotations).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const ann = keys.length ? `,"annotations":{${keys.map((k) => `${goString(k)}:${goString(annotations[k]!)}`).join(',')}}` : '';
  return Buffer.from(`{"schemaVersion":2,"config":${descriptorJson(config)},"layers":[${sorted.map(descriptorJson).join(',')}]${ann}}`);
}

/** Build the chart's OCI artifact in memory: a source the engine can push, and its tag. */
export function chartArtifact(chart: ResolvedChart, created: string | Date = new Date()): { source: MemorySource; tag: string } {
  const source = new MemorySource(`chart ${chart.name} ${chart.version}`);
  const config = source.addBlob(helmConfigJson(chart.metadata), HelmMediaType.Config);
  const layers = [source.addBlob(chart.tgz, HelmMediaType.Chart)];
  if (chart.prov) layers.push(source.addBlob(chart.prov, HelmMediaType.Provenance));
  const createdText = typeof created === 'string' ? created : rfc3339(created);
  const bytes = helmManifestJson(config, layers, helmAnnotations(chart.metadata, createdText));
  const tag = versionTag(chart.version);
  source.addManifest(bytes, MediaType.OciManifest, tag);
  return { source, tag };
}

/** `oci://HOST/PATH` → where the chart goes: HOST, PATH/NAME. */
export function chartDestination(dst: string, name: string): { registry: string; repository: string } {
  if (!dst.startsWith('oci://')) throw new AirlockError('BAD_REFERENCE', `"${dst}" is not an oci:// destination`, { hint: 'write oci://HOST/PATH (the chart goes to PATH/NAME:VERSION)' });
  const body = dst.slice('oci://'.length).replace(/\/+$/, '');
  const r = parseReference(`${body}/${name}`, { defaultTag: false });
  if (r.tag || r.digest) throw new AirlockError('BAD_REFERENCE', `${dst}: give the destination without a tag`, { hint: 'the chart goes to PATH/NAME:VERSION, as helm push does' });
  return { registry: r.registry, repository: r.repository };
}

/** Push a chart to `oci://HOST/PATH` as `helm push` would (or copy its registry manifest unchanged). */
export async function pushChartOci(chart: ResolvedChart, dst: string, opts: PushChartOptions): Promise<PushedChart> {
  const { registry, repository } = chartDestination(dst, chart.name);
  const sink = new RegistryRepo(opts.registries.client(registry), repository);
  const ctx = new TransferContext({ ...(opts.onEvent ? { onEvent: opts.onEvent } : {}), ...(opts.force ? { force: true } : {}), ...(opts.dryRun ? { dryRun: true } : {}) });
  let result: ImageResult;
  const tag = versionTag(chart.version);
  if (chart.oci) {
    // From a registry: the same manifest, with its signatures and referrers, digest unchanged.
    const source = new RegistryRepo(opts.registries.client(chart.oci.registry), chart.oci.repository);
    result = await copyImage({ source, reference: chart.oci.tag, sink, tag, sourceName: chart.source, destinationName: `oci://${registry}/${repository}:${tag}` }, ctx);
  } else {
    const art = chartArtifact(chart, opts.created);
    result = await copyImage({ source: art.source, reference: art.tag, sink, tag: art.tag, sourceName: chart.source, destinationName: `oci://${registry}/${repository}:${tag}` }, ctx);
  }
  if (result.status === 'failed') {
    throw new AirlockError((result.error?.code as AirlockError['code']) ?? 'REGISTRY', `pushing ${chart.name} ${chart.version} to oci://${registry}/${repository}:${tag} failed: ${result.error?.message ?? 'unknown error'}`, {
      ...(result.error?.hint ? { hint: result.error.hint } : {}),
    });
  }
  return { reference: `oci://${registry}/${repository}:${tag}`, digest: result.destinationDigest!, result };
}

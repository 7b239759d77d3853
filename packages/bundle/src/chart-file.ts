import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AirlockError, type Descriptor, MediaType, parseManifest, verifiedStream } from '@airlock/oci';
import type { ChartArtifact, ChartSource } from './charts.js';
import type { ChartSpec } from './config.js';

/**
 * The local reader: a `.tgz` (`charts: - file: …`) stored as the Helm OCI artifact `helm push`
 * writes, without a `created` annotation (reproducible). The default ChartSource (charts-helm.ts)
 * uses it for file: charts; charts from an HTTP repository or an OCI registry, and
 * `images-from-chart`, are handled there over @airlock/helm.
 */

export const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
export const HELM_CHART = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
export const HELM_PROV = 'application/vnd.cncf.helm.chart.provenance.v1.prov';
const MAX_CHART_BYTES = 64 * 1024 * 1024;
const MAX_CHART_YAML = 1024 * 1024;

const chartYamlSchema = z
  .object({
    apiVersion: z.string(),
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a chart name (lowercase letters, digits, -)'),
    version: z.string().min(1),
    home: z.string().optional(),
    sources: z.array(z.string()).optional(),
    description: z.string().optional(),
    keywords: z.array(z.string()).optional(),
    maintainers: z.array(z.record(z.string(), z.unknown())).optional(),
    icon: z.string().optional(),
    condition: z.string().optional(),
    tags: z.string().optional(),
    appVersion: z.union([z.string(), z.number()]).optional(),
    deprecated: z.boolean().optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    kubeVersion: z.string().optional(),
    dependencies: z.array(z.record(z.string(), z.unknown())).optional(),
    type: z.string().optional(),
  })
  .passthrough();
type ChartYaml = z.infer<typeof chartYamlSchema>;

/** Chart.yaml from a chart .tgz: the first `*\/Chart.yaml` at depth one (as helm reads it). */
function chartYamlOf(tgz: Buffer, where: string): ChartYaml {
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: 512 * 1024 * 1024 });
  } catch (e) {
    throw new AirlockError('BAD_INPUT', `${where}: not a gzip'd chart archive (${(e as Error).message})`, { hint: 'give the .tgz helm package writes' });
  }
  for (let pos = 0; pos + 512 <= tar.length; ) {
    const h = tar.subarray(pos, pos + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const prefix = h.subarray(257, 263).toString('latin1').startsWith('ustar') ? h.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '') : '';
    const full = prefix ? `${prefix}/${name}` : name;
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0) break;
    const type = String.fromCharCode(h[156] || 48);
    if ((type === '0' || type === '\0') && /^[^/]+\/Chart\.yaml$/.test(full)) {
      if (size > MAX_CHART_YAML) throw new AirlockError('BAD_INPUT', `${where}: Chart.yaml is larger than ${MAX_CHART_YAML} bytes`);
      let doc: unknown;
      try {
        doc = parseYaml(tar.subarray(pos + 512, pos + 512 + size).toString('utf8'));
      } catch (e) {
        throw new AirlockError('BAD_INPUT', `${where}: Chart.yaml is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
      }
      const r = chartYamlSchema.safeParse(doc);
      if (!r.success) throw new AirlockError('BAD_INPUT', `${where}: invalid Chart.yaml at ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
      return r.data;
    }
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  throw new AirlockError('BAD_INPUT', `${where}: no Chart.yaml in the archive`, { hint: 'give a chart packaged by helm package' });
}

/** Helm's config: chart.Metadata as Go marshals it (field order, omitempty). */
function helmConfig(c: ChartYaml): Buffer {
  const keys = ['name', 'home', 'sources', 'version', 'description', 'keywords', 'maintainers', 'icon', 'apiVersion', 'condition', 'tags', 'appVersion', 'deprecated', 'annotations', 'kubeVersion', 'dependencies', 'type'] as const;
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = k === 'appVersion' && c.appVersion !== undefined ? String(c.appVersion) : c[k];
    if (v === undefined || v === '' || v === false || (Array.isArray(v) && !v.length)) continue;
    out[k] = v;
  }
  return Buffer.from(JSON.stringify(out));
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as const;

export const localChartSource: ChartSource = {
  async fetch(spec: ChartSpec & { where: string }): Promise<ChartArtifact> {
    if (!spec.file) {
      throw new AirlockError('USAGE', `${spec.where}: the local chart reader reads file: charts only, not ${spec.repo ? 'repo:' : 'oci:'}`, {
        hint: 'use the default chart source (charts-helm.ts), or helm pull the chart and list it as file: ./NAME-VERSION.tgz',
      });
    }
    if (spec['images-from-chart']) {
      throw new AirlockError('USAGE', `${spec.where}: the local chart reader does not read images-from-chart`, { hint: 'use the default chart source (charts-helm.ts), or list the chart\'s images under images:' });
    }
    const file = spec.file;
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch {
      throw new AirlockError('BAD_INPUT', `${spec.where}: cannot read ${file}`, { hint: 'paths in charts: are relative to airlock.yaml' });
    }
    if (size > MAX_CHART_BYTES) throw new AirlockError('BAD_INPUT', `${spec.where}: ${file} is larger than ${MAX_CHART_BYTES} bytes; not a chart`);
    const tgz = await readFile(file);
    const meta = chartYamlOf(tgz, `${spec.where}: ${file}`);
    if (spec.name && spec.name !== meta.name) throw new AirlockError('BAD_INPUT', `${spec.where}: ${file} is chart ${meta.name}, not ${spec.name}`);
    if (spec.version && spec.version !== meta.version) throw new AirlockError('BAD_INPUT', `${spec.where}: ${file} is version ${meta.version}, not ${spec.version}`);
    const config = helmConfig(meta);
    const configDesc: Descriptor = { mediaType: HELM_CONFIG, digest: sha(config), size: config.length };
    const layer: Descriptor = { mediaType: HELM_CHART, digest: sha(tgz), size: tgz.length };
    const layers = [layer];
    const blobs: ChartArtifact['blobs'] = [
      { desc: configDesc, open: async () => Readable.from([config]) },
      { desc: layer, open: async () => verifiedStream(createReadStream(file), layer, `${spec.where}: ${file}`, (e) => new AirlockError('BAD_INPUT', `${file}: ${(e as Error).message}`)) },
    ];
    let prov: Buffer | undefined;
    try {
      prov = await readFile(`${file}.prov`);
    } catch {
      prov = undefined;
    }
    if (prov) {
      const p: Descriptor = { mediaType: HELM_PROV, digest: sha(prov), size: prov.length };
      layers.push(p);
      const bytes = prov;
      blobs.push({ desc: p, open: async () => Readable.from([bytes]) });
    }
    const annotations: Record<string, string> = {
      ...(meta.description ? { 'org.opencontainers.image.description': meta.description } : {}),
      ...(meta.sources?.[0] ? { 'org.opencontainers.image.source': meta.sources[0] } : {}),
      'org.opencontainers.image.title': meta.name,
      'org.opencontainers.image.version': meta.version,
    };
    const body = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers, annotations };
    const manifest = parseManifest(Buffer.from(JSON.stringify(body)), MediaType.OciManifest, spec.where);
    return { name: meta.name, version: meta.version, source: file, manifest, blobs, images: [] };
  },
};

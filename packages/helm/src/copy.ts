import { AirlockError, type Digest, type Registries } from '@airlock/oci';
import type { ChartHttp } from './http.js';
import { pushChartMuseum } from './museum.js';
import { pushChartOci } from './oci.js';
import { writeChartToDir } from './repo-dir.js';
import { type ChartSpec, describeSpec, resolveChart } from './resolve.js';

/** Where `chart copy` writes: a registry, a ChartMuseum-compatible server, or a repository directory. */
export type ChartDestination = { kind: 'oci'; url: string } | { kind: 'museum'; url: string } | { kind: 'dir'; path: string };

export function parseChartDestination(dst: string): ChartDestination {
  if (dst.startsWith('oci://')) return { kind: 'oci', url: dst };
  if (/^https?:\/\//.test(dst)) return { kind: 'museum', url: dst };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dst)) {
    throw new AirlockError('BAD_REFERENCE', `unsupported chart destination "${dst}"`, { hint: 'use oci://HOST/PATH, a ChartMuseum URL (https://…) or a directory' });
  }
  return { kind: 'dir', path: dst };
}

export interface ChartCopyResult {
  source: string;
  name: string;
  version: string;
  /** sha256 of the .tgz. */
  digest: Digest;
  destination: string;
  status: 'copied' | 'exists' | 'skipped' | 'planned';
  /** For a registry destination: the manifest digest at PATH/NAME:TAG. */
  manifestDigest?: Digest;
  provenance: boolean;
}

export interface CopyChartOptions {
  http: ChartHttp & { registries: Registries };
  /** The OCI `created` annotation (default now, as helm does); fix it for reproducible digests. */
  created?: string | Date;
  dryRun?: boolean;
  force?: boolean;
}

/** Resolve a chart (digest-checked) and write it to one destination. */
export async function copyChart(spec: ChartSpec, dst: ChartDestination, opts: CopyChartOptions): Promise<ChartCopyResult> {
  const chart = await resolveChart(spec, opts.http);
  const base = { source: chart.source || describeSpec(spec), name: chart.name, version: chart.version, digest: chart.digest, provenance: !!chart.prov };
  switch (dst.kind) {
    case 'oci': {
      const r = await pushChartOci(chart, dst.url, { registries: opts.http.registries, ...(opts.created ? { created: opts.created } : {}), ...(opts.dryRun ? { dryRun: true } : {}), ...(opts.force ? { force: true } : {}) });
      const status = r.result.status === 'failed' ? 'copied' : r.result.status;
      return { ...base, destination: r.reference, status, manifestDigest: r.digest };
    }
    case 'museum': {
      if (opts.dryRun) return { ...base, destination: dst.url, status: 'planned' };
      const r = await pushChartMuseum(chart, dst.url, opts.http);
      return { ...base, destination: r.url, status: r.status === 'uploaded' ? 'copied' : 'exists' };
    }
    case 'dir': {
      if (opts.dryRun) return { ...base, destination: dst.path, status: 'planned' };
      const r = await writeChartToDir(chart, dst.path);
      return { ...base, destination: r.file, status: r.unchanged ? 'exists' : 'copied' };
    }
  }
}

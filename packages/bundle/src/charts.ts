import type { Readable } from 'node:stream';
import { type Descriptor, type Manifest, type Registries } from '@airlock/oci';
import type { ChartSpec } from './config.js';
import { localChartSource } from './chart-file.js';

/**
 * The seam to the chart code (issue 10's `chart copy` / `chart images`): `bundle create` asks a
 * ChartSource for each `charts:` entry and stores what it returns like any other OCI artifact; the
 * images a chart declares (images-from-chart) join the bundle as image entries. `bundle load`
 * hands chart entries to a ChartTarget (an OCI registry as helm push does, or a ChartMuseum
 * upload). The chart module registers both with registerCharts(); nothing else here changes.
 */

/** A chart as a Helm OCI artifact (what `helm push` writes), ready to store. */
export interface ChartArtifact {
  name: string;
  version: string;
  /** Where it came from, for the inventory: the repository URL, oci:// reference or file. */
  source: string;
  /** The artifact manifest: config application/vnd.cncf.helm.config.v1+json, the chart layer, the .prov layer if any. */
  manifest: Manifest;
  /** Its config and layers, opened again when the bundle is written (verified as they stream). */
  blobs: { desc: Descriptor; open: () => Promise<Readable> }[];
  /** With images-from-chart: the image references the chart declares. */
  images: string[];
}

export interface ChartSource {
  fetch(spec: ChartSpec & { where: string }, ctx: { registries: Registries }): Promise<ChartArtifact>;
}

/** Where `bundle load --chart-repo URL` (or an OCI prefix) puts a chart read from the bundle. */
export interface ChartTarget {
  push(chart: { name: string; version: string; manifest: Manifest; open: (d: Descriptor) => Promise<Readable> }, ctx: { registries: Registries; chartRepo?: string; to?: string }): Promise<{ destination: string; status: 'pushed' | 'exists' }>;
}

let source: ChartSource | undefined;
let target: ChartTarget | undefined;

export function registerCharts(impl: { source?: ChartSource; target?: ChartTarget }): void {
  if (impl.source) source = impl.source;
  if (impl.target) target = impl.target;
}

/** The registered chart module, else the local-.tgz reader (which refuses repo:/oci: charts with a hint). */
export function chartSource(_where: string): ChartSource {
  return source ?? localChartSource;
}

export function chartTarget(): ChartTarget | undefined {
  return target;
}

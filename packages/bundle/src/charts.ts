import type { Readable } from 'node:stream';
import { type Descriptor, type Manifest, type Registries } from '@airlock/oci';
import type { ChartSpec } from './config.js';
import { helmChartSource, helmChartTarget } from './charts-helm.js';

/**
 * The seam to the chart library (`@airlock/helm`): `bundle create` asks a ChartSource for each
 * `charts:` entry and stores what it returns like any other OCI artifact; the images a chart
 * declares (images-from-chart) join the bundle as image entries. `bundle load --chart-repo URL`
 * hands chart entries to a ChartTarget (a ChartMuseum upload); without it, charts are loaded as
 * stored, to PREFIX/charts/NAME:VERSION. Both default to the implementations over @airlock/helm
 * (charts-helm.ts); registerCharts() replaces them (tests, other builds).
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
  /** created: the bundle's creation time, for the `org.opencontainers.image.created` of a built artifact. */
  fetch(spec: ChartSpec & { where: string }, ctx: { registries: Registries; created?: Date }): Promise<ChartArtifact>;
}

/** Where `bundle load --chart-repo URL` (or an OCI prefix) puts a chart read from the bundle. */
export interface ChartTarget {
  push(chart: { name: string; version: string; manifest: Manifest; open: (d: Descriptor) => Promise<Readable> }, ctx: { registries: Registries; chartRepo?: string; to?: string }): Promise<{ destination: string; status: 'pushed' | 'exists' }>;
}

let source: ChartSource = helmChartSource;
let target: ChartTarget = helmChartTarget;

export function registerCharts(impl: { source?: ChartSource; target?: ChartTarget }): void {
  if (impl.source) source = impl.source;
  if (impl.target) target = impl.target;
}

/** The chart source (default: repo:, oci: and file: charts over @airlock/helm). */
export function chartSource(_where: string): ChartSource {
  return source;
}

/** Where --chart-repo uploads go (default: ChartMuseum over @airlock/helm). */
export function chartTarget(): ChartTarget {
  return target;
}

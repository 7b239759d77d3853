/**
 * The Helm chart library (no commands: `airlock chart` and `airlock bundle` build on it).
 *   resolveChart(spec, http)          → ResolvedChart {name, version, metadata, tgz, digest, prov?, oci?}
 *   pushChartOci(chart, 'oci://H/P')  → exactly as helm push (or the registry manifest unchanged)
 *   chartArtifact(chart, created)     → the helm-push artifact as an in-memory ContentSource + tag
 *   pushChartMuseum(chart, url, http) / writeChartToDir(chart, dir)
 *   chartImages(tgz, {values})        → the images the chart declares, and where
 */
export * from './archive.js';
export * from './metadata.js';
export * from './http.js';
export * from './resolve.js';
export * from './oci.js';
export * from './museum.js';
export * from './repo-dir.js';
export * from './images.js';
export * from './copy.js';

import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AirlockError,
  copyImage,
  descriptorOf,
  digestOf,
  formatReference,
  openSink,
  openSource,
  OverlaySource,
  parseManifest,
  readBlobBytes,
  referenceOf,
  TransferContext,
  type Descriptor,
  type ErrorCode,
  type Location,
  type Manifest,
  type Registries,
  type TransferEvent,
} from '@airlock/oci';
import { buildLayer, type BuiltLayer, type LayerEntry } from './layer.js';
import { appendToConfig, appendToManifest, replaceInIndex, type ConfigChanges } from './mutate.js';

export const INSTALL_DIR = '/opt/airlock';
export const LAUNCHER = '/usr/local/bin/airlock';

export interface BuildOptions {
  base: Location;
  to: Location;
  bundleDir: string;
  version: string;
  revision?: string;
  source?: string;
  /** RFC 3339: the layer's mtimes and the history entry. */
  created: string;
  registries: Registries;
  concurrency?: number;
  onEvent?: (e: TransferEvent) => void;
}

export interface BuildResult {
  base: string;
  baseDigest: string;
  reference: string;
  digest: string;
  mediaType: string;
  platforms: string[];
  /** Index entries not extended (e.g. build attestations, which describe the base's manifests). */
  dropped: string[];
  layer: { digest: string; diffId: string; size: number; files: string[] };
}

/** What goes into the layer: every bundle and SBOM in the directory, and the launcher. */
export async function layerEntries(bundleDir: string): Promise<LayerEntry[]> {
  let names: string[];
  try {
    names = await readdir(bundleDir);
  } catch {
    throw new AirlockError('BAD_INPUT', `--bundle-dir ${bundleDir}: cannot read the directory`, { hint: 'point it at the directory holding airlock.cjs (npm run build writes dist/)' });
  }
  const files = names.filter((n) => n.endsWith('.cjs') || /^airlock\.(spdx|cdx)\.json$/.test(n)).sort();
  if (!files.includes('airlock.cjs')) {
    throw new AirlockError('BAD_INPUT', `--bundle-dir ${bundleDir} has no airlock.cjs`, { hint: 'point it at the directory holding the bundles (npm run build writes dist/)' });
  }
  const dir = INSTALL_DIR.slice(1);
  return [
    { path: 'opt/', type: 'directory' },
    { path: `${dir}/`, type: 'directory' },
    ...files.map((f) => ({ path: `${dir}/${f}`, type: 'file' as const, from: join(bundleDir, f), mode: f.endsWith('.cjs') ? 0o755 : 0o644 })),
    { path: 'usr/', type: 'directory' },
    { path: 'usr/local/', type: 'directory' },
    { path: 'usr/local/bin/', type: 'directory' },
    { path: LAUNCHER.slice(1), type: 'file', mode: 0o755, bytes: Buffer.from(`#!/bin/sh\nexec node ${INSTALL_DIR}/airlock.cjs "$@"\n`) },
  ];
}

function describe(loc: Location): string {
  return loc.kind === 'layout' ? `oci:${loc.dir}${loc.tag ? `:${loc.tag}` : ''}` : formatReference(loc.ref);
}

/**
 * The base plus the Airlock layer, pushed to `to`: each platform manifest of the base gets a new
 * config (diff_id, history, Env, labels, no Entrypoint) and the layer; the index lists the new
 * manifests. Built as an overlay on the base and copied by the engine (blobs, then manifests,
 * then the tag; base layers skipped or mounted).
 */
export async function buildRunnerImage(o: BuildOptions): Promise<BuildResult> {
  if (o.to.kind === 'registry' && (o.to.ref.digest || !o.to.ref.tag)) {
    throw new AirlockError('USAGE', `--to ${o.to.input}: give a tag (the image does not exist yet, so it has no digest to pin)`, { hint: 'e.g. --to registry.local/tools/airlock:0.1.0' });
  }
  if (o.to.kind === 'layout' && !o.to.tag) throw new AirlockError('USAGE', `--to ${o.to.input}: give a tag, oci:DIR:TAG`);
  const entries = await layerEntries(o.bundleDir);
  const layer = await buildLayer(entries, new Date(o.created));
  try {
    const source = await openSource(o.base, o);
    const top = await source.getManifest(referenceOf(o.base));
    const overlay = new OverlaySource(source);
    overlay.addBlob(layer.digest, { file: layer.file });
    const changes: ConfigChanges = {
      created: o.created,
      createdBy: `airlock image build: ${INSTALL_DIR} and ${LAUNCHER}`,
      comment: `airlock ${o.version}`,
      env: { AIRLOCK_HOME: INSTALL_DIR, AIRLOCK_VERSION: o.version },
      path: '/usr/local/bin',
      labels: {
        'org.opencontainers.image.version': o.version,
        ...(o.revision ? { 'org.opencontainers.image.revision': o.revision } : {}),
        ...(o.source ? { 'org.opencontainers.image.source': o.source } : {}),
        'org.opencontainers.image.title': 'airlock',
      },
      unsetEntrypoint: true,
    };
    const baseName = describe(o.base);
    const extend = async (m: Manifest): Promise<Manifest> => {
      if (m.kind !== 'image') throw new AirlockError('BAD_INPUT', `${baseName}: nested index ${m.digest} is not supported as a base`);
      const config = await readBlobBytes(source, m.image.config);
      const cfgBytes = appendToConfig(config, layerInfo(layer), changes, `${baseName} config ${m.image.config.digest}`);
      const cfg: Descriptor = { mediaType: m.image.config.mediaType, digest: digestOf(cfgBytes), size: cfgBytes.length };
      overlay.addBlob(cfg.digest, { bytes: cfgBytes });
      const bytes = appendToManifest(m.bytes, m.mediaType, cfg, layerInfo(layer), {
        'org.opencontainers.image.base.name': baseName,
        'org.opencontainers.image.base.digest': m.digest,
      });
      const built = parseManifest(bytes, m.mediaType, 'runner image manifest');
      overlay.addManifest(built);
      return built;
    };
    const platforms: string[] = [];
    const dropped: string[] = [];
    let result: Manifest;
    if (top.kind === 'image') {
      result = await extend(top);
    } else {
      const replaced = new Map<string, Descriptor>();
      for (const d of top.index.manifests) {
        const p = d.platform;
        if (!p || p.os === 'unknown' || p.architecture === 'unknown') {
          dropped.push(`${d.digest}${d.annotations?.['vnd.docker.reference.type'] ? ` (${d.annotations['vnd.docker.reference.type']})` : ''}`);
          continue;
        }
        replaced.set(d.digest, descriptorOf(await extend(await source.getManifest(d.digest))));
        platforms.push(p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`);
      }
      if (!replaced.size) throw new AirlockError('BAD_INPUT', `${baseName} lists no platform image to extend`, { hint: 'use a runnable Node image as --base' });
      result = parseManifest(replaceInIndex(top.bytes, replaced, {}), top.mediaType, 'runner image index');
      overlay.addManifest(result);
    }
    const sink = await openSink(o.to, o);
    const tag = o.to.kind === 'layout' ? o.to.tag! : o.to.ref.tag!;
    const ctx = new TransferContext({ referrers: false, concurrency: o.concurrency ?? 8, ...(o.onEvent ? { onEvent: o.onEvent } : {}) });
    const copied = await copyImage({ source: overlay, reference: result.digest, sink, tag, sourceName: `${baseName} + airlock ${o.version}`, destinationName: describe(o.to) }, ctx);
    await sink.close?.();
    if (copied.status === 'failed') {
      throw new AirlockError((copied.error?.code ?? 'REGISTRY') as ErrorCode, copied.error?.message ?? 'the push failed', copied.error?.hint ? { hint: copied.error.hint } : {});
    }
    return {
      base: baseName,
      baseDigest: top.digest,
      reference: `${describe(o.to)}@${result.digest}`,
      digest: result.digest,
      mediaType: result.mediaType,
      platforms,
      dropped,
      layer: { digest: layer.digest, diffId: layer.diffId, size: layer.size, files: entries.filter((e) => e.type === 'file').map((e) => `/${e.path}`) },
    };
  } finally {
    await rm(layer.file, { force: true });
  }
}

function layerInfo(l: BuiltLayer) {
  return { digest: l.digest, size: l.size, diffId: l.diffId };
}

/** The file name the SBOM of this format has in the bundle directory. */
export function sbomFile(bundleDir: string, format: 'spdx' | 'cyclonedx'): string {
  return join(bundleDir, format === 'spdx' ? 'airlock.spdx.json' : 'airlock.cdx.json');
}


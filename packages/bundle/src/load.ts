import {
  AirlockError,
  copyImage,
  destinationFor,
  endpointKey,
  mapSettled,
  openSink,
  parseLocation,
  parseReference,
  repositoryName,
  toAirlockError,
  TransferContext,
  type ContentSink,
  type Digest,
  type ImageResult,
  type Location,
  type Registries,
  type Rewrite,
  type TransferEvent,
  type UploadOptions,
} from '@airlock/oci';
import type { BundleArchive } from '@airlock/oci/archive';

/**
 * `bundle load`: the bundle is a ContentSource, so the mirror engine does the pushing (skips,
 * mounts, blobs before manifests, tags last). Every blob is verified as it streams out of the tar.
 */

export interface LoadJob {
  /** The name in the bundle. */
  name: string;
  repository: string;
  reference: string;
  destination: Location;
  kind: 'image' | 'chart';
}

/** Where each image (and, with a registry prefix, each chart) of the bundle goes. */
export function planLoad(archive: BundleArchive, opts: { to?: string; rewrites: Rewrite[] }): { jobs: LoadJob[]; notes: string[]; mounts: MountHint[] } {
  const jobs: LoadJob[] = [];
  const notes: string[] = [];
  const mounts: MountHint[] = [];
  const layoutDir = opts.to?.startsWith('oci:') ? opts.to.slice(4) : undefined;
  if (layoutDir === '') throw new AirlockError('USAGE', '--to oci: needs a directory', { hint: 'write --to oci:DIR' });
  for (const e of archive.inventory.entries) {
    if (e.kind === 'file') continue;
    if (e.kind === 'chart') {
      const name = `charts/${e.name}:${e.version.replace(/\+/g, '_')}`;
      if (layoutDir !== undefined) jobs.push({ name, repository: `charts/${e.name}`, reference: e.version.replace(/\+/g, '_'), destination: { kind: 'layout', dir: layoutDir, tag: name, input: opts.to! }, kind: 'chart' });
      else if (opts.to) jobs.push({ name, repository: `charts/${e.name}`, reference: e.version.replace(/\+/g, '_'), destination: parseLocation(`${opts.to.replace(/\/+$/, '')}/${name}`), kind: 'chart' });
      else notes.push(`chart ${e.name} ${e.version} not loaded: give --to PREFIX (charts go to PREFIX/charts/NAME:VERSION) or extract it with bundle extract --chart`);
      continue;
    }
    const ref = parseReference(e.name, { defaultTag: false });
    const reference = ref.tag ?? ref.digest!;
    let destination: Location;
    if (layoutDir !== undefined) destination = { kind: 'layout', dir: layoutDir, tag: e.name, input: opts.to! };
    else destination = parseLocation(destinationFor(e.name, opts, `bundle entry ${e.name}`), { defaultTag: false });
    jobs.push({ name: e.name, repository: repositoryName(ref), reference, destination, kind: 'image' });
  }
  // An incremental bundle leaves out what the earlier one carried: that was loaded (with the same
  // --to/--rewrite) into the repository named here, so the registry can mount it from there.
  if (layoutDir === undefined) {
    for (const b of archive.inventory.external) {
      if (!b.repository) continue;
      try {
        const dst = parseLocation(destinationFor(`${b.repository}:latest`, opts, 'earlier bundle'), { defaultTag: false });
        if (dst.kind === 'registry') mounts.push({ registry: dst.ref.registry, repository: dst.ref.repository, digest: b.digest });
      } catch {
        // no mapping for it: the blob must then already be in each destination repository
      }
    }
  }
  return { jobs, notes, mounts };
}

/** A blob known to be in a repository of the destination registry (from the earlier bundle's load). */
export interface MountHint {
  registry: string;
  repository: string;
  digest: Digest;
}

/**
 * A sink that never claims to be fresh: an interrupted load leaves blobs in repositories that have
 * no tag yet, and a re-run must find them (HEAD) instead of uploading them again.
 */
function resumable(sink: ContentSink): ContentSink {
  return {
    name: sink.name,
    ...(sink.registryRepo ? { registryRepo: sink.registryRepo } : {}),
    resolve: (r) => sink.resolve(r),
    findManifest: (r) => sink.findManifest(r),
    hasBlob: (d) => sink.hasBlob(d),
    pushBlob: (d, open, o) => sink.pushBlob(d, open, o),
    pushManifest: (m, r) => sink.pushManifest(m, r),
    ...(sink.referrers ? { referrers: (d: Parameters<NonNullable<ContentSink['referrers']>>[0]) => sink.referrers!(d) } : {}),
    ...(sink.close ? { close: () => sink.close!() } : {}),
  };
}

export interface LoadOptions {
  registries: Registries;
  referrers: boolean;
  concurrency: number;
  dryRun: boolean;
  upload?: Omit<UploadOptions, 'mountFrom'>;
  onEvent?: (e: TransferEvent) => void;
}

export async function loadBundle(archive: BundleArchive, jobs: LoadJob[], o: LoadOptions, mounts: MountHint[] = []): Promise<ImageResult[]> {
  const ctx = new TransferContext({ referrers: o.referrers, concurrency: o.concurrency, dryRun: o.dryRun, ...(o.onEvent ? { onEvent: o.onEvent } : {}) });
  for (const m of mounts) ctx.mounts.add(m.registry, m.digest, m.repository);
  const sinks = new Map<string, Promise<ContentSink>>();
  const sinkOf = (loc: Location) => {
    const key = endpointKey(loc);
    let p = sinks.get(key);
    if (!p) sinks.set(key, (p = openSink(loc, { registries: o.registries, ...(o.upload ? { upload: o.upload } : {}) }).then(resumable)));
    return p;
  };
  const settled = await mapSettled(jobs, Math.max(1, o.concurrency), async (job): Promise<ImageResult> => {
    const sourceName = `bundle ${job.name}`;
    let destinationName = job.destination.input;
    try {
      const sink = await sinkOf(job.destination);
      let tag: string | undefined;
      let pinned: string | undefined;
      if (job.destination.kind === 'layout') tag = job.destination.tag;
      else if (job.destination.kind === 'docker-archive') throw new AirlockError('USAGE', `${job.destination.input}: bundle load writes to a registry (--to PREFIX, --rewrite) or an OCI layout (--to oci:DIR)`);
      else {
        const srcTag = parseReference(job.name, { defaultTag: false }).tag;
        tag = job.destination.ref.tag ?? (job.destination.ref.digest ? undefined : srcTag);
        pinned = job.destination.ref.digest;
        destinationName = `${repositoryName(job.destination.ref)}${tag ? `:${tag}` : ''}${pinned ? `@${pinned}` : ''}`;
      }
      return await copyImage({ source: archive.source(job.repository), reference: job.reference, sink, ...(tag ? { tag } : {}), ...(pinned ? { expectDigest: pinned } : {}), sourceName, destinationName }, ctx);
    } catch (e) {
      const err = toAirlockError(e);
      return { source: sourceName, destination: destinationName, status: 'failed', error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) }, blobs: { copied: 0, skipped: 0, mounted: 0 }, bytes: 0, manifests: 0, referrers: 0, durationMs: 0 };
    }
  });
  const results = settled.map((s) => {
    if (s.status === 'fulfilled') return s.value;
    throw s.reason;
  });
  for (const p of sinks.values()) {
    const sink = await p.catch(() => undefined);
    await sink?.close?.();
  }
  return results;
}

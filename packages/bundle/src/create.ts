import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import {
  AirlockError,
  copyImage,
  endpointKey,
  formatReference,
  isDigest,
  mapSettled,
  openSource,
  parseLocation,
  parsePlatform,
  parseReference,
  repositoryName,
  toAirlockError,
  TransferContext,
  type ContentSource,
  type Digest,
  type ImageReference,
  type ImageResult,
  type Location,
  type PlatformSpec,
  type Registries,
  type TransferEvent,
  imageNameOfLocation,
  referenceOf,
  tagOfLocation,
} from '@airlock/oci';
import {
  BUNDLE_FILES,
  BundleWriter,
  INVENTORY_MEDIA_TYPE,
  type ChartEntry,
  type ImageEntry,
  type Inventory,
  type InventoryEntry,
} from '@airlock/oci/archive';
import { AIRLOCK_VERSION } from '@airlock/step-kit/inputs';
import type { BundleConfig } from './config.js';
import { chartSource } from './charts.js';
import { addFiles } from './files.js';


/** One image to bundle: where it is read from and the name it carries in the bundle. */
export interface ImageJob {
  source: Location;
  /** What the user wrote (airlock.yaml). */
  input: string;
  /** The name in the bundle: HOST/REPO:TAG or HOST/REPO@DIGEST. */
  name: string;
  repository: string;
  tag?: string;
  reference: string;
  platforms?: PlatformSpec[];
  where: string;
}

/** Work out names and references for every image, before anything is read (bad input: exit 2). */
export function planImages(config: BundleConfig, platforms: PlatformSpec[]): ImageJob[] {
  const jobs = config.images.map((e): ImageJob => {
    try {
      const source = parseLocation(e.source);
      if (source.kind === 'layout' && !e.destination) {
        throw new AirlockError('USAGE', `${e.where}: an OCI layout source needs destination: (the name the image carries in the bundle)`, { hint: 'e.g. destination: registry.example.com/acme/tool:2.0' });
      }
      const archived = imageNameOfLocation(source);
      const nameRef = e.destination ? parseReference(e.destination, { defaultTag: false }) : source.kind === 'registry' ? source.ref : archived ? parseReference(archived, { defaultTag: false }) : undefined;
      if (!nameRef) throw new AirlockError('USAGE', `${e.where}: no name for ${e.source}`);
      const tag = nameRef.tag ?? (nameRef.digest ? undefined : tagOfLocation(source));
      const ref: ImageReference = { registry: nameRef.registry, repository: nameRef.repository, ...(tag ? { tag } : nameRef.digest ? { digest: nameRef.digest } : {}) };
      if (!ref.tag && !ref.digest) {
        throw new AirlockError('USAGE', `${e.where}: ${e.source} needs a tag or digest in the bundle`, { hint: 'give destination: HOST/REPO:TAG' });
      }
      const reference = referenceOf(source);
      const plats = e.platforms ? e.platforms.map(parsePlatform) : platforms;
      return {
        source,
        input: e.source,
        name: formatReference(ref),
        repository: repositoryName(ref),
        ...(tag ? { tag } : {}),
        reference,
        ...(plats.length ? { platforms: plats } : {}),
        where: e.where,
      };
    } catch (err) {
      if (err instanceof AirlockError && !err.message.startsWith(e.where)) throw new AirlockError(err.code, `${e.where}: ${err.message}`, err.hint ? { hint: err.hint } : {});
      throw err;
    }
  });
  const seen = new Map<string, string>();
  for (const j of jobs) {
    const other = seen.get(j.name);
    if (other) throw new AirlockError('USAGE', `${j.where}: ${j.name} is already named by ${other}`, { hint: 'each image carries one name in the bundle; give destination: to rename one' });
    seen.set(j.name, j.where);
  }
  return jobs;
}

export interface CreateOptions {
  registries: Registries;
  referrers: boolean;
  concurrency: number;
  /** Blobs an earlier bundle carried (--since), and its inventory digest. */
  since?: { blobs: Map<string, string | undefined>; inventory: Digest };
  onEvent?: (e: TransferEvent) => void;
  /** SOURCE_DATE_EPOCH, else now. */
  created: Date;
}

export interface Plan {
  writer: BundleWriter;
  results: ImageResult[];
  inventory: Inventory;
  inventoryBytes: Buffer;
  inventoryDigest: Digest;
}

/**
 * Resolve every image, file and chart into the writer (no blob is read yet): the transfer engine
 * copies each image, with its referrers, into the writer's per-repository views. Fails (throws)
 * when any image cannot be resolved: a bundle is all or nothing.
 */
export async function planBundle(config: BundleConfig, jobs: ImageJob[], o: CreateOptions): Promise<Plan> {
  const writer = new BundleWriter(o.since?.blobs ?? new Map());
  const contexts = new Map<string, TransferContext>();
  const ctxFor = (platforms?: PlatformSpec[]) => {
    const key = JSON.stringify(platforms ?? null);
    let c = contexts.get(key);
    if (!c) {
      c = new TransferContext({ ...(platforms ? { platforms } : {}), referrers: o.referrers, concurrency: o.concurrency, ...(o.onEvent ? { onEvent: o.onEvent } : {}) });
      contexts.set(key, c);
    }
    return c;
  };
  const sources = new Map<string, Promise<ContentSource>>();
  const sourceOf = (loc: Location) => {
    const key = endpointKey(loc);
    let p = sources.get(key);
    if (!p) sources.set(key, (p = openSource(loc, { registries: o.registries })));
    return p;
  };

  const chartEntries: ChartEntry[] = [];
  const chartImages: ImageJob[] = [];
  for (const spec of config.charts) {
    const chart = await chartSource(spec.where).fetch(spec, { registries: o.registries, created: o.created });
    if (chartEntries.some((c) => c.name === chart.name && c.version === chart.version)) {
      throw new AirlockError('USAGE', `${spec.where}: chart ${chart.name} ${chart.version} is listed twice`);
    }
    for (const b of chart.blobs) writer.addBlob(b.desc, b.open);
    writer.addManifest(chart.manifest);
    writer.setRef(`charts/${chart.name}:${chart.version.replace(/\+/g, '_')}`, { mediaType: chart.manifest.mediaType, digest: chart.manifest.digest, size: chart.manifest.bytes.length });
    chartEntries.push({ kind: 'chart', name: chart.name, version: chart.version, source: chart.source, digest: chart.manifest.digest, size: writer.sizeOf([chart.manifest.digest]), ...(chart.images.length ? { images: chart.images } : {}) });
    if (spec['images-from-chart']) {
      const known = new Set(jobs.map((j) => j.name));
      for (const img of planImages({ ...config, images: chart.images.map((s) => ({ source: s, where: `${spec.where} (chart ${chart.name} image ${s})` })) }, jobs[0]?.platforms ?? [])) {
        if (!known.has(img.name)) chartImages.push(img);
        known.add(img.name);
      }
    }
  }
  const allJobs = [...jobs, ...chartImages];

  const settled = await mapSettled(allJobs, Math.max(1, o.concurrency), async (job) => {
    const sourceName = job.input;
    try {
      const source = await sourceOf(job.source);
      const sink = writer.view(job.repository);
      const r = await copyImage({ source, reference: job.reference, sink, ...(job.tag ? { tag: job.tag } : {}), sourceName, destinationName: `bundle ${job.name}` }, ctxFor(job.platforms));
      if (r.status !== 'failed' && !job.tag && r.destinationDigest) {
        writer.setRef(job.name, { mediaType: writer.manifests.get(r.destinationDigest)!.mediaType, digest: r.destinationDigest, size: writer.manifests.get(r.destinationDigest)!.bytes.length });
      }
      return r;
    } catch (e) {
      const err = toAirlockError(e);
      return { source: sourceName, destination: `bundle ${job.name}`, status: 'failed', error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) }, blobs: { copied: 0, skipped: 0, mounted: 0 }, bytes: 0, manifests: 0, referrers: 0, durationMs: 0 } satisfies ImageResult;
    }
  });
  const results = settled.map((s) => {
    if (s.status === 'fulfilled') return s.value;
    throw s.reason;
  });

  const entries: InventoryEntry[] = [];
  for (const [i, job] of allJobs.entries()) {
    const r = results[i]!;
    if (r.status === 'failed' || !r.destinationDigest) continue;
    const m = writer.manifests.get(r.destinationDigest)!;
    const subjects = [...new Set([r.sourceDigest, r.destinationDigest, ...(m.kind === 'index' ? m.index.manifests.map((d) => d.digest) : [])].filter((d): d is Digest => !!d && isDigest(d)))];
    const attachments = writer.attachmentsOf(job.repository, subjects);
    const entry: ImageEntry = {
      kind: 'image',
      name: job.name,
      source: job.input,
      digest: r.destinationDigest,
      ...(r.sourceDigest && r.sourceDigest !== r.destinationDigest ? { sourceDigest: r.sourceDigest } : {}),
      mediaType: m.mediaType,
      size: writer.sizeOf([r.destinationDigest, ...attachments.map((a) => a.digest)]),
      ...(r.platforms ? { platforms: r.platforms } : {}),
      attachments,
    };
    entries.push(entry);
  }
  for (const f of config.files) entries.push(await addFiles(writer, f));
  entries.push(...chartEntries);

  const inventory: Inventory = {
    mediaType: INVENTORY_MEDIA_TYPE,
    schemaVersion: 1,
    created: o.created.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    airlock: AIRLOCK_VERSION,
    ...(o.since ? { previous: { inventory: o.since.inventory } } : {}),
    entries,
    blobs: writer.storedBlobs(),
    external: writer.externalBlobs(),
  };
  const inventoryBytes = Buffer.from(`${JSON.stringify(inventory, null, 1)}\n`);
  const inventoryDigest: Digest = `sha256:${createHash('sha256').update(inventoryBytes).digest('hex')}`;
  return { writer, results, inventory, inventoryBytes, inventoryDigest };
}

/** The recorded creation time: SOURCE_DATE_EPOCH (reproducible builds) or now. */
export function creationTime(env: NodeJS.ProcessEnv): Date {
  const e = env.SOURCE_DATE_EPOCH;
  if (e === undefined || e === '') return new Date(Math.floor(Date.now() / 1000) * 1000);
  if (!/^\d+$/.test(e)) throw new AirlockError('USAGE', `SOURCE_DATE_EPOCH "${e}" is not a number of seconds`);
  return new Date(Number(e) * 1000);
}

/** Write the signature beside the bundle, as FILE.sigstore.json. */
export async function writeSignatureBeside(file: string, signature: Buffer): Promise<string> {
  const path = `${file}.sigstore.json`;
  await writeFile(path, signature);
  return path;
}

export { BUNDLE_FILES };

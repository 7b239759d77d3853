import {
  AirlockError,
  destinationFor,
  formatReference,
  parsePlatform,
  parseReference,
  parseRewrite,
  platformMatches,
  RegistryRepo,
  repositoryName,
  toAirlockError,
  type ImageReference,
  type Manifest,
  type PlatformSpec,
  type Registries,
  type Rewrite,
} from '@airlock/oci';
import { mapSettled } from '@airlock/oci';
import type { ReferenceEntry, RepositoryEntry, SyncConfig } from './config.js';
import { selectTags, validateRange } from './select.js';

/** One image to keep in sync: the resolved work list is made of these, in a stable order. */
export interface SyncItem {
  /** `SOURCE → DESTINATION`: unique, the sharding and report key. */
  key: string;
  where: string;
  source: ImageReference;
  destination: ImageReference;
  /** As the engine names them in results. */
  sourceName: string;
  destinationName: string;
  platforms?: PlatformSpec[];
  referrers: boolean;
  /** Set when resolving failed (tag list unreadable, a listed tag missing): reported as failed. */
  error?: { code: string; message: string; hint?: string };
}

/** A destination repository whose tags a repository entry decides (what --prune may touch). */
export interface ManagedRepository {
  registry: string;
  repository: string;
  /** Destination tags the selection keeps (of every entry going to this repository). */
  keep: Set<string>;
  /** False when a selection could not be worked out (then nothing there is pruned). */
  complete: boolean;
  where: string;
}

export interface Resolved {
  items: SyncItem[];
  managed: ManagedRepository[];
  /** Source tag lists, fetched once per repository, by `registry/repository`. */
  tagLists: Map<string, Promise<string[]>>;
}

export interface ResolveOptions {
  registries: Registries;
  file: string;
  /** --platform from the command line (entries' own platforms win). */
  platforms: PlatformSpec[];
  /** false when --no-referrers was given. */
  referrers: boolean;
  concurrency: number;
}

const describe = (ref: ImageReference) => formatReference(ref);

function wrap(where: string, e: unknown): AirlockError {
  const err = toAirlockError(e);
  return new AirlockError(err.code, `${where}: ${err.message}`, { ...(err.hint ? { hint: err.hint } : {}), cause: e });
}

export function rewritesOf(config: SyncConfig): Rewrite[] {
  const rw = config.defaults?.rewrite;
  if (!rw) return [];
  return Array.isArray(rw) ? rw.map(parseRewrite) : Object.entries(rw).map(([from, to]) => parseRewrite(`${from}=${to}`));
}

/**
 * Turn sync.yaml into the work list: every entry checked first (input errors stop the run with exit
 * 2 before anything is contacted), then each source repository's tags listed once and selected.
 */
export async function resolveWorkList(config: SyncConfig, opts: ResolveOptions): Promise<Resolved> {
  const to = config.defaults?.to;
  const rewrites = rewritesOf(config);
  const naming = { ...(to ? { to } : {}), rewrites };
  const defaultPlatforms = config.defaults?.platforms?.map(parsePlatform);
  const tagLists = new Map<string, Promise<string[]>>();
  const listTags = (ref: ImageReference): Promise<string[]> => {
    const key = repositoryName(ref);
    let p = tagLists.get(key);
    if (!p) {
      p = opts.registries.client(ref.registry).listTags(ref.repository);
      p.catch(() => undefined);
      tagLists.set(key, p);
    }
    return p;
  };

  type Planned =
    | { kind: 'ref'; where: string; source: ImageReference; destination: ImageReference; platforms?: PlatformSpec[]; referrers: boolean }
    | { kind: 'repo'; where: string; entry: RepositoryEntry; source: ImageReference; destRepo?: ImageReference; platforms?: PlatformSpec[]; referrers: boolean };

  // 1. Check every entry (no network).
  const planned: Planned[] = config.images.map((raw, n) => {
    const where = `${opts.file} entry ${n + 1}`;
    try {
      const e: ReferenceEntry | RepositoryEntry = typeof raw === 'string' ? { source: raw } : raw;
      const platforms = e.platforms ? e.platforms.map(parsePlatform) : opts.platforms.length ? opts.platforms : defaultPlatforms;
      const referrers = opts.referrers && (e.referrers ?? config.defaults?.referrers ?? true);
      const common = { where, ...(platforms?.length ? { platforms } : {}), referrers };
      if ('source' in e) {
        const source = parseReference(e.source);
        const dst = e.destination ?? destinationFor(e.source, naming, where);
        let destination = parseReference(dst, { defaultTag: false });
        if (!destination.tag && !destination.digest) destination = source.tag ? { ...destination, tag: source.tag } : { ...destination, digest: source.digest! };
        if (destination.tag && destination.digest) destination = { registry: destination.registry, repository: destination.repository, tag: destination.tag };
        return { kind: 'ref', source, destination, ...common };
      }
      const source = parseReference(e.repository, { defaultTag: false });
      if (source.tag || source.digest) throw new AirlockError('BAD_INPUT', `repository "${e.repository}" names a tag or digest`, { hint: 'write the repository alone and select tags with tags/include/semver/latest' });
      if (e.semver !== undefined) validateRange(e.semver, where);
      let destRepo: ImageReference | undefined;
      if (e.destination) {
        destRepo = parseReference(e.destination, { defaultTag: false });
        if (destRepo.tag || destRepo.digest) throw new AirlockError('BAD_INPUT', `destination "${e.destination}" of a repository entry names a tag or digest`, { hint: 'give the destination repository; each selected tag keeps its name' });
      } else {
        destRepo = parseReference(destinationFor(`${repositoryName(source)}:probe`, naming, where), { defaultTag: false });
        destRepo = { registry: destRepo.registry, repository: destRepo.repository };
      }
      return { kind: 'repo', entry: e, source, destRepo, ...common };
    } catch (err) {
      throw wrap(where, err);
    }
  });

  // 2. Tag lists (once per repository) and selections.
  const items: SyncItem[] = [];
  const managed = new Map<string, ManagedRepository>();
  const results = await mapSettled(planned, Math.max(1, opts.concurrency), async (p): Promise<{ items: SyncItem[]; managed?: ManagedRepository }> => {
    const base = { where: p.where, ...(p.platforms ? { platforms: p.platforms } : {}), referrers: p.referrers };
    if (p.kind === 'ref') {
      if (p.referrers) listTags(p.source);
      return { items: [item(p.source, p.destination, base)] };
    }
    const dest = p.destRepo!;
    const m: ManagedRepository = { registry: dest.registry, repository: dest.repository, keep: new Set(), complete: false, where: p.where };
    let all: string[];
    try {
      all = await listTags(p.source);
    } catch (e) {
      const err = toAirlockError(e);
      return {
        managed: m,
        items: [{ ...item(p.source, dest, base), error: { code: err.code, message: `${p.where}: listing the tags of ${repositoryName(p.source)} failed: ${err.message}`, ...(err.hint ? { hint: err.hint } : {}) } }],
      };
    }
    let sel;
    try {
      sel = await selectTags(all, p.entry, (tags) => createdTimes(opts.registries, p.source, tags, p.platforms, opts.concurrency));
    } catch (e) {
      const err = toAirlockError(e);
      return { managed: m, items: [{ ...item(p.source, dest, base), error: { code: err.code, message: `${p.where}: ${err.message}`, ...(err.hint ? { hint: err.hint } : {}) } }] };
    }
    m.complete = sel.missing.length === 0;
    for (const t of sel.tags) m.keep.add(t);
    const out = sel.tags.map((tag) => item({ ...p.source, tag }, { ...dest, tag }, base));
    for (const tag of sel.missing) {
      out.push({
        ...item({ ...p.source, tag }, { ...dest, tag }, base),
        error: { code: 'NOT_FOUND', message: `${p.where}: ${repositoryName(p.source)} has no tag "${tag}"`, hint: 'check the tags: list (skopeo list-tags / crane ls show what exists)' },
      });
    }
    return { items: out, managed: m };
  });
  for (const r of results) {
    if (r.status === 'rejected') throw r.reason;
    items.push(...r.value.items);
    const m = r.value.managed;
    if (m) {
      const key = `${m.registry}/${m.repository}`;
      const have = managed.get(key);
      if (!have) managed.set(key, m);
      else {
        for (const t of m.keep) have.keep.add(t);
        have.complete &&= m.complete;
      }
    }
  }
  // Single references going into a managed repository keep their tags too.
  for (const i of items) {
    const m = managed.get(repositoryName(i.destination));
    if (m && i.destination.tag) m.keep.add(i.destination.tag);
  }
  // One work item per destination: the same image twice is one job (the first entry wins).
  const seen = new Map<string, SyncItem>();
  for (const i of items) {
    const dkey = describe(i.destination);
    const prev = seen.get(dkey);
    if (prev && prev.sourceName !== i.sourceName) {
      throw new AirlockError('BAD_INPUT', `${i.where}: ${dkey} is also the destination of ${prev.sourceName} (${prev.where})`, { hint: 'two sources cannot sync into one destination tag' });
    }
    if (!prev) seen.set(dkey, i);
  }
  const list = [...seen.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { items: list, managed: [...managed.values()], tagLists };
}

function item(source: ImageReference, destination: ImageReference, base: { where: string; platforms?: PlatformSpec[]; referrers: boolean }): SyncItem {
  const sourceName = describe(source);
  const destinationName = describe(destination);
  return { key: `${sourceName} → ${destinationName}`, source, destination, sourceName, destinationName, ...base };
}

/**
 * Creation times of tags (config `created`), for `latest: N` over tags that are not all versions.
 * Costs a manifest (two for an index) and a config per tag, so only asked for then.
 */
async function createdTimes(registries: Registries, repo: ImageReference, tags: string[], platforms: PlatformSpec[] | undefined, concurrency: number): Promise<Map<string, number | undefined>> {
  const client = registries.client(repo.registry);
  const source = new RegistryRepo(client, repo.repository);
  const out = new Map<string, number | undefined>();
  const settled = await mapSettled(tags, Math.max(1, Math.min(concurrency, 8)), async (tag) => {
    let m: Manifest = await source.getManifest(tag);
    if (m.kind === 'index') {
      const child =
        m.index.manifests.find((d) => (platforms?.length ? platforms.some((s) => platformMatches(s, d.platform)) : d.platform && d.platform.os !== 'unknown')) ??
        m.index.manifests[0];
      if (!child) return undefined;
      m = await source.getManifest(child.digest);
      if (m.kind !== 'image') return undefined;
    }
    const stream = await source.openBlob(m.image.config);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const created = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { created?: unknown }).created;
    const t = typeof created === 'string' ? Date.parse(created) : NaN;
    return Number.isNaN(t) ? undefined : t;
  });
  settled.forEach((s, i) => out.set(tags[i]!, s.status === 'fulfilled' ? s.value : undefined));
  return out;
}

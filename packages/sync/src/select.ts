import semver from 'semver';
import { AirlockError } from '@airlock/oci';
import { asList } from './config.js';

/** Which tags of a repository a `sync.yaml` repository entry selects. */
export interface TagSelector {
  tags?: string[];
  include?: string | string[];
  exclude?: string | string[];
  semver?: string;
  prereleases?: boolean;
  latest?: number;
}

/** cosign `.sig/.att/.sbom` tags and the OCI referrers fallback tag: never images to select. */
export const ATTACHMENT_TAG = /^sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$/;

const VERSIONISH = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/**
 * A tag read as a version: `1.2.3`, `v1.2.3`, `1.2.3-rc.1`, and the short forms registries use
 * (`16` → 16.0.0, `1.27` → 1.27.0). A suffix after `-` is a pre-release (`1.27-alpine` too).
 */
export function versionOf(tag: string): semver.SemVer | null {
  const m = VERSIONISH.exec(tag);
  if (!m) return null;
  const v = `${m[1]}.${m[2] ?? '0'}.${m[3] ?? '0'}${m[4] ?? ''}${m[5] ?? ''}`;
  return semver.parse(v);
}

export function validateRange(range: string, where: string): void {
  if (semver.validRange(range) === null) {
    throw new AirlockError('BAD_INPUT', `${where}: "${range}" is not a semver range`, { hint: 'e.g. ">=1.2 <2", "^3.4", "~1.27" (npm semver syntax)' });
  }
}

export interface Selection {
  /** Selected tags, sorted by name. */
  tags: string[];
  /** Tags named under `tags:` that the repository does not have. */
  missing: string[];
  /** How `latest` ordered the candidates. */
  orderedBy?: 'semver' | 'created';
}

/**
 * Select tags: the `tags:` list, plus — when any filter is given — every tag passing `include` (any
 * regex matches), `exclude` (none matches) and `semver` (pre-releases only with `prereleases: true`),
 * of which `latest: N` keeps the newest N: by version when every candidate is a version, else by
 * the image's creation time (asked of `createdOf` only then).
 */
export async function selectTags(all: readonly string[], sel: TagSelector, createdOf?: (tags: string[]) => Promise<Map<string, number | undefined>>): Promise<Selection> {
  const available = new Set(all);
  const explicit = (sel.tags ?? []).map(String);
  const missing = explicit.filter((t) => !available.has(t));
  const chosen = new Set(explicit.filter((t) => available.has(t)));
  const include = asList(sel.include).map((r) => new RegExp(r));
  const exclude = asList(sel.exclude).map((r) => new RegExp(r));
  const filtering = include.length || exclude.length || sel.semver !== undefined || sel.latest !== undefined;
  let orderedBy: Selection['orderedBy'];
  if (filtering) {
    let pool = all.filter((t) => !ATTACHMENT_TAG.test(t));
    if (include.length) pool = pool.filter((t) => include.some((r) => r.test(t)));
    if (exclude.length) pool = pool.filter((t) => !exclude.some((r) => r.test(t)));
    if (sel.semver !== undefined) {
      const range = sel.semver;
      pool = pool.filter((t) => {
        const v = versionOf(t);
        return v !== null && semver.satisfies(v, range, { includePrerelease: sel.prereleases === true });
      });
    }
    if (sel.latest !== undefined) {
      const versions = new Map(pool.map((t) => [t, versionOf(t)] as const));
      if (pool.length && pool.every((t) => versions.get(t))) {
        orderedBy = 'semver';
        if (!sel.prereleases) pool = pool.filter((t) => versions.get(t)!.prerelease.length === 0);
        pool.sort((a, b) => semver.rcompare(versions.get(a)!, versions.get(b)!) || (a < b ? -1 : a > b ? 1 : 0));
      } else if (pool.length) {
        orderedBy = 'created';
        if (!createdOf) throw new AirlockError('BAD_INPUT', 'latest: ordering by creation time needs the images');
        const created = await createdOf(pool);
        const at = (t: string) => created.get(t) ?? -Infinity;
        pool.sort((a, b) => at(b) - at(a) || (a < b ? -1 : a > b ? 1 : 0));
      }
      pool = pool.slice(0, sel.latest);
    }
    for (const t of pool) chosen.add(t);
  }
  return { tags: [...chosen].sort(), missing, ...(orderedBy ? { orderedBy } : {}) };
}

import { AirlockError } from '@airlock/oci';

/**
 * Sharding a resolved work list across parallel CI jobs (GitLab `parallel: N` sets CI_NODE_INDEX
 * and CI_NODE_TOTAL, 1-based). Every job resolves the same list and keeps its own share, so the
 * partition must be a pure function of the list: no randomness, no order of arrival.
 */
export interface Shard {
  /** 1-based. */
  index: number;
  total: number;
}

function shardError(msg: string): AirlockError {
  return new AirlockError('USAGE', msg, { hint: 'write --shard I/N with 1 <= I <= N (e.g. --shard 2/3), or set CI_NODE_INDEX and CI_NODE_TOTAL' });
}

function parsePair(index: string, total: string, what: string): Shard {
  if (!/^\d+$/.test(index.trim()) || !/^\d+$/.test(total.trim())) throw shardError(`${what}: expected whole numbers, got ${index}/${total}`);
  const s = { index: Number(index), total: Number(total) };
  if (s.total < 1 || s.index < 1 || s.index > s.total) throw shardError(`${what}: shard ${s.index} of ${s.total} does not exist`);
  return s;
}

/** `--shard I/N`, else CI_NODE_INDEX/CI_NODE_TOTAL, else undefined (the whole list). */
export function parseShard(value: string | undefined, env: NodeJS.ProcessEnv = process.env): Shard | undefined {
  if (value !== undefined && value !== '') {
    const m = /^\s*(\S+)\s*\/\s*(\S+)\s*$/.exec(value);
    if (!m) throw shardError(`invalid --shard "${value}"`);
    return parsePair(m[1]!, m[2]!, `--shard ${value}`);
  }
  if (env.CI_NODE_INDEX !== undefined && env.CI_NODE_TOTAL !== undefined && env.CI_NODE_INDEX !== '') {
    return parsePair(env.CI_NODE_INDEX, env.CI_NODE_TOTAL, 'CI_NODE_INDEX/CI_NODE_TOTAL');
  }
  return undefined;
}

/**
 * Split items into `total` groups of near-equal weight: heaviest first, each to the lightest group so
 * far (ties: the lower group). Items are ordered by (weight desc, key asc) first, so the result
 * depends only on the items, never on their input order. Keys should be unique.
 */
export function partition<T>(items: readonly T[], total: number, key: (item: T) => string, weight: (item: T) => number = () => 1): T[][] {
  const groups: T[][] = Array.from({ length: total }, () => []);
  const loads = new Array<number>(total).fill(0);
  const counts = new Array<number>(total).fill(0);
  const sorted = items
    .map((item) => ({ item, k: key(item), w: Math.max(0, weight(item)) }))
    .sort((a, b) => b.w - a.w || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  for (const { item, w } of sorted) {
    let best = 0;
    for (let g = 1; g < total; g++) {
      if (loads[g]! < loads[best]! || (loads[g] === loads[best] && counts[g]! < counts[best]!)) best = g;
    }
    groups[best]!.push(item);
    loads[best]! += w;
    counts[best]!++;
  }
  return groups;
}

/**
 * Like `partition`, but items of one group (e.g. one source repository, whose images share base
 * layers) stay in one share, so what they share crosses once; a group heavier than a fair share
 * (total/N, rounded up) is cut into share-sized runs (in key order) first.
 */
export function partitionGrouped<T>(items: readonly T[], total: number, key: (item: T) => string, group: (item: T) => string, weight: (item: T) => number = () => 1): T[][] {
  const w = (i: T) => Math.max(0, weight(i));
  const cap = Math.ceil(items.reduce((a, i) => a + w(i), 0) / total);
  const byGroup = new Map<string, T[]>();
  for (const i of items) {
    const g = group(i);
    const list = byGroup.get(g);
    if (list) list.push(i);
    else byGroup.set(g, [i]);
  }
  const chunks: Array<{ key: string; items: T[] }> = [];
  for (const [g, list] of byGroup) {
    list.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    let cur: T[] = [];
    let load = 0;
    for (const i of list) {
      if (cur.length && load + w(i) > cap) {
        chunks.push({ key: `${g}\n${chunks.length}`, items: cur });
        cur = [];
        load = 0;
      }
      cur.push(i);
      load += w(i);
    }
    if (cur.length) chunks.push({ key: `${g}\n${key(cur[0]!)}`, items: cur });
  }
  for (const c of chunks) c.key = `${group(c.items[0]!)}\n${key(c.items[0]!)}`;
  return partition(chunks, total, (c) => c.key, (c) => c.items.reduce((a, i) => a + w(i), 0)).map((g) => g.flatMap((c) => c.items));
}

/** This shard's items, in their original order (grouped with `group` when given, see partitionGrouped). */
export function shardItems<T>(items: readonly T[], shard: Shard | undefined, key: (item: T) => string, weight?: (item: T) => number, group?: (item: T) => string): T[] {
  if (!shard || shard.total === 1) return [...items];
  const parts = group ? partitionGrouped(items, shard.total, key, group, weight) : partition(items, shard.total, key, weight);
  const mine = new Set(parts[shard.index - 1]);
  return items.filter((i) => mine.has(i));
}

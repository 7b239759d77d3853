import { createHash } from 'node:crypto';
import { AirlockError, type TransferJob } from '@airlock/oci';

/** One shard of a list: 1-based index of total. */
export interface Shard {
  index: number;
  total: number;
}

/**
 * `--shard I/N`, or `--shard ci`: GitLab's `parallel: N` (CI_NODE_INDEX, CI_NODE_TOTAL, 1-based).
 * `ci` outside a parallel job (variables unset, or a total of 1) is the whole list.
 */
export function parseShard(spec: string | undefined, env: NodeJS.ProcessEnv): Shard | undefined {
  if (spec === undefined || spec === '') return undefined;
  let index: string | undefined;
  let total: string | undefined;
  if (spec === 'ci') {
    index = env.CI_NODE_INDEX;
    total = env.CI_NODE_TOTAL;
    if (!index && !total) return undefined;
  } else {
    [index, total] = spec.split('/');
  }
  const i = Number(index);
  const n = Number(total);
  if (!Number.isInteger(i) || !Number.isInteger(n) || n < 1 || i < 1 || i > n) {
    const from = spec === 'ci' ? `CI_NODE_INDEX=${String(index)} CI_NODE_TOTAL=${String(total)}` : `--shard ${spec}`;
    throw new AirlockError('USAGE', `invalid shard ${from}: expected INDEX/TOTAL with 1 <= INDEX <= TOTAL`, { hint: 'e.g. --shard 2/3, or --shard ci in a GitLab job with parallel: N' });
  }
  return n === 1 ? undefined : { index: i, total: n };
}

/** A stable key for a job: the same entry lands in the same shard whatever the list order. */
function jobKey(job: TransferJob): string {
  return createHash('sha256').update(`${job.source.input}\n${job.destination.input}`).digest('hex');
}

/**
 * This shard's part of the jobs. Image sizes are not known before the copy, so shards are balanced
 * by count: the jobs are ordered by the SHA-256 of "source\ndestination" and dealt round-robin, so
 * every shard gets floor or ceil(jobs/N) of them, the same jobs on every run and on every shard's
 * machine, and all shards together are the whole list with no image twice. Jobs keep their list
 * order within a shard.
 */
export function selectShard<T extends TransferJob>(jobs: T[], shard: Shard | undefined): T[] {
  if (!shard) return jobs;
  const order = jobs.map((job, i) => ({ i, key: jobKey(job) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i));
  const mine = new Set(order.filter((_, rank) => rank % shard.total === shard.index - 1).map((o) => o.i));
  return jobs.filter((_, i) => mine.has(i));
}

/**
 * `--shard I/N` (or `ci`) when given, else GitLab's CI_NODE_INDEX/CI_NODE_TOTAL when set (sync runs
 * its share in a `parallel:` job without being told), else the whole list.
 */
export function shardFromFlagOrEnv(spec: string | undefined, env: NodeJS.ProcessEnv): Shard | undefined {
  if (spec !== undefined && spec !== '') return parseShard(spec, env);
  return parseShard('ci', env);
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

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

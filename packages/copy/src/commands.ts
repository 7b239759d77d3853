import { AirlockError, parseLocation, parseRewrite } from '@airlock/oci';
import { commandFor, transferFlags } from '@airlock/step-kit';
import { planTransfers, readImageList } from '@airlock/step-kit/image-list';
import type { Command } from 'commander';
import { copyStep, mirrorStep } from './inputs.js';
import { executeTransfers } from './run.js';
import { parseShard, selectShard } from '@airlock/step-kit';

/** The exit code chosen by a command; the CLI edge calls process.exit with it. */
export type SetExit = (code: number) => void;

export function buildCopyCommand(setExit: SetExit): Command {
  const cmd = commandFor(copyStep, async (args, opts) => {
    const [src, dst] = args;
    if (!src || !dst) throw new AirlockError('USAGE', 'copy needs SRC and DST', { hint: 'airlock copy SRC DST; see airlock copy --help' });
    const flags = transferFlags(opts);
    const source = parseLocation(src);
    const destination = parseLocation(dst, { defaultTag: false });
    setExit(await executeTransfers('copy', [{ source, destination, ...(flags.platforms.length ? { platforms: flags.platforms } : {}) }], flags));
  });
  return cmd;
}

export function buildMirrorCommand(setExit: SetExit): Command {
  return commandFor(mirrorStep, async (_args, opts) => {
    const flags = transferFlags(opts);
    if (!opts.file) throw new AirlockError('USAGE', 'mirror needs --file LIST', { hint: 'see airlock mirror --help' });
    const rewrites = ((opts.rewrite as string[] | undefined) ?? []).map(parseRewrite);
    const shard = parseShard(opts.shard === undefined ? undefined : String(opts.shard), process.env);
    const entries = await readImageList(String(opts.file));
    const all = planTransfers(entries, { ...(opts.to ? { to: String(opts.to) } : {}), rewrites, platforms: flags.platforms });
    const jobs = selectShard(all, shard);
    if (shard) process.stderr.write(`shard ${shard.index}/${shard.total}: ${jobs.length} of ${all.length} images\n`);
    setExit(await executeTransfers('mirror', jobs, flags));
  });
}

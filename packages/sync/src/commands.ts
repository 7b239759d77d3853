import { AirlockError } from '@airlock/oci';
import { commandFor, transferFlags } from '@airlock/step-kit';
import type { Command } from 'commander';
import { syncStep } from './inputs.js';
import { runSync } from './run.js';

export type SetExit = (code: number) => void;

export function buildSyncCommand(setExit: SetExit): Command {
  return commandFor(syncStep, async (_args, opts) => {
    if (!opts.file) throw new AirlockError('USAGE', 'sync needs --file SYNC_YAML', { hint: 'see airlock sync --help and docs/sync.md' });
    const flags = transferFlags(opts);
    const maxFailures = Number(opts.maxFailures ?? 0);
    if (!Number.isInteger(maxFailures)) throw new AirlockError('USAGE', `--max-failures must be a whole number, got ${String(opts.maxFailures)}`);
    setExit(
      await runSync({
        ...flags,
        file: String(opts.file),
        ...(opts.shard !== undefined ? { shard: String(opts.shard) } : {}),
        ...(opts.concurrency !== undefined ? { concurrencyGiven: flags.concurrency } : {}),
        maxFailures,
        ...(opts.onFailureExec ? { onFailureExec: String(opts.onFailureExec) } : {}),
        prune: !!opts.prune,
      }),
    );
  });
}

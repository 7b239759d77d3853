import { AirlockError, parsePlatform, type PlatformSpec } from '@airlock/oci';
import { connectionFlags, listOption as list, type ConnectionFlags } from './connection.js';

/** The parsed form of the shared transfer options (`transferInputs`). */
export interface TransferFlags extends ConnectionFlags {
  platforms: PlatformSpec[];
  referrers: boolean;
  concurrency: number;
  chunkSize?: number;
  force: boolean;
  dryRun: boolean;
  json: boolean;
  report?: string;
  junit?: string;
  quiet: boolean;
  dotenv?: string;
}

export function transferFlags(o: Record<string, unknown>): TransferFlags {
  const concurrency = Number(o.concurrency ?? 8);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw new AirlockError('USAGE', `--concurrency must be a whole number from 1 to 256, got ${String(o.concurrency)}`);
  }
  const chunk = o.chunkSize === undefined ? undefined : Number(o.chunkSize);
  if (chunk !== undefined && (!Number.isInteger(chunk) || chunk < 1024)) {
    throw new AirlockError('USAGE', `--chunk-size must be at least 1024 bytes, got ${String(o.chunkSize)}`);
  }
  return {
    platforms: list(o.platform).map(parsePlatform),
    // commander turns --no-referrers into referrers=false
    referrers: o.referrers !== false && o.noReferrers !== true,
    concurrency,
    ...connectionFlags(o),
    ...(chunk ? { chunkSize: chunk } : {}),
    force: !!o.force,
    dryRun: !!o.dryRun,
    json: !!o.json,
    ...(o.report ? { report: String(o.report) } : {}),
    ...(o.junit ? { junit: String(o.junit) } : {}),
    quiet: !!o.quiet,
    ...(o.dotenv ? { dotenv: String(o.dotenv) } : {}),
  };
}

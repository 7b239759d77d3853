import { parsePlatform, type PlatformSpec } from '@airlock/oci';
import { parseWholeNumber } from './command.js';
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
  // commander already checked values given as options (commandFor); this checks values given in code.
  const concurrency = o.concurrency === undefined ? 8 : parseWholeNumber({ name: 'concurrency', min: 1, max: 256 })(String(o.concurrency));
  const chunk = o.chunkSize === undefined ? undefined : parseWholeNumber({ name: 'chunk-size', min: 1024, max: 1024 ** 3 })(String(o.chunkSize));
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

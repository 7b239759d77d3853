import { AirlockError, DefaultCredentials, parsePlatform, Registries, Transport, type PlatformSpec, type TransportOptions } from '@airlock/oci';

/** The parsed form of the shared transfer options (see inputs.ts). */
export interface TransferFlags {
  platforms: PlatformSpec[];
  referrers: boolean;
  concurrency: number;
  insecureRegistries: string[];
  caFiles: string[];
  certsDirs: string[];
  chunkSize?: number;
  retries: number;
  force: boolean;
  dryRun: boolean;
  json: boolean;
  report?: string;
  junit?: string;
  quiet: boolean;
}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

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
    insecureRegistries: list(o.insecureRegistry),
    caFiles: list(o.caFile),
    certsDirs: list(o.certsDir),
    ...(chunk ? { chunkSize: chunk } : {}),
    retries: Number(o.retries ?? 5),
    force: !!o.force,
    dryRun: !!o.dryRun,
    json: !!o.json,
    ...(o.report ? { report: String(o.report) } : {}),
    ...(o.junit ? { junit: String(o.junit) } : {}),
    quiet: !!o.quiet,
  };
}

export function registriesFrom(f: TransferFlags, extra: Partial<TransportOptions> = {}): Registries {
  const transport = new Transport({
    insecureHosts: f.insecureRegistries,
    caFiles: f.caFiles,
    certsDirs: f.certsDirs,
    retry: { retries: f.retries },
    userAgent: 'airlock/0.1',
    ...extra,
  });
  return new Registries(transport, new DefaultCredentials());
}

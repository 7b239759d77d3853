import { DefaultCredentials, Registries, Transport, type TransportOptions } from '@airlock/oci';

/** How to reach registries: the options every registry-facing step shares. */
export interface ConnectionFlags {
  insecureRegistries: string[];
  caFiles: string[];
  certsDirs: string[];
  retries: number;
}

export const listOption = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

export function connectionFlags(o: Record<string, unknown>): ConnectionFlags {
  return {
    insecureRegistries: listOption(o.insecureRegistry),
    caFiles: listOption(o.caFile),
    certsDirs: listOption(o.certsDir),
    retries: Number(o.retries ?? 5),
  };
}

/** Registries with the standard credential chain (environment, docker config, helpers). */
export function registriesFrom(f: ConnectionFlags, extra: Partial<TransportOptions> = {}): Registries {
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

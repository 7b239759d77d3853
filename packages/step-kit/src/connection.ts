import { DefaultCredentials, Registries, Transport, type TransportOptions } from '@airlock/oci';
import type { InputDef } from './inputs.js';

/** Options for reaching registries, shared by every registry-facing step (parsed by connectionFlags). */
export const connectionInputs: InputDef[] = [
  { name: 'insecure-registry', type: 'string[]', valueName: 'HOST', default: [], description: 'plain HTTP or unverified TLS for this host only (repeatable); loopback hosts may use HTTP without it' },
  { name: 'ca-file', type: 'string[]', valueName: 'FILE', default: [], description: 'extra CA certificate (PEM) to trust (repeatable); /etc/docker/certs.d/HOST/ and /etc/containers/certs.d/HOST/ are read too' },
  { name: 'certs-dir', type: 'string[]', valueName: 'DIR', default: [], description: 'another certs.d-style directory (DIR/HOST/ca.crt, client.cert, client.key)' },
  { name: 'retries', type: 'number', valueName: 'N', default: 5, description: 'retries for 408/429/5xx and dropped connections (exponential backoff with jitter, honours Retry-After)' },
];

/** Registry credentials: environment only, never argv (the wrappers map CI secrets to these). */
export const credentialInputs: InputDef[] = [
  { name: 'registry', type: 'string', secret: true, env: 'AIRLOCK_REGISTRY', description: 'registry host the credentials below are for (environment only)' },
  { name: 'registry-user', type: 'string', secret: true, env: 'AIRLOCK_REGISTRY_USER', description: 'user name for AIRLOCK_REGISTRY (environment only)' },
  { name: 'registry-password', type: 'string', secret: true, env: 'AIRLOCK_REGISTRY_PASSWORD', description: 'password or token for AIRLOCK_REGISTRY (environment only)' },
];

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

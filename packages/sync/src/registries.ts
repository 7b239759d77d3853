import { AirlockError, apiHost, DefaultCredentials, normaliseConfigKey, Registries, Transport, type Credential, type CredentialProvider, type TransportOptions } from '@airlock/oci';
import type { ConnectionFlags } from '@airlock/step-kit';
import type { SyncConfig } from './config.js';

/** Credentials named in sync.yaml (by environment variable), then the standard chain. */
class SyncCredentials implements CredentialProvider {
  constructor(
    readonly named: ReadonlyMap<string, Credential>,
    readonly fallback: CredentialProvider,
  ) {}

  async get(registry: string): Promise<Credential | undefined> {
    return this.named.get(normaliseConfigKey(registry)) ?? this.fallback.get(registry);
  }
}

/** Environment variables sync.yaml names for credentials: kept out of --on-failure-exec's environment. */
export function credentialEnvNames(config: SyncConfig): string[] {
  return Object.values(config.registries ?? {}).flatMap((r) => [r['username-env'], r['password-env']].filter((v): v is string => !!v));
}

/**
 * Registries for a sync run: the command line's connection options plus sync.yaml's per-registry
 * settings (credentials by environment variable name, insecure, CA file, requests per second).
 */
export function syncRegistries(config: SyncConfig, flags: ConnectionFlags, file: string, env: NodeJS.ProcessEnv, extra: Partial<TransportOptions> = {}): Registries {
  const named = new Map<string, Credential>();
  const insecure = [...flags.insecureRegistries];
  const hostCaFiles: Record<string, string[]> = {};
  const rateLimits: Record<string, number> = {};
  for (const [name, r] of Object.entries(config.registries ?? {})) {
    const registry = normaliseConfigKey(name);
    const host = apiHost(registry);
    if (r['username-env'] && r['password-env']) {
      const username = env[r['username-env']];
      const password = env[r['password-env']];
      if (!username || !password) {
        const unset = [r['username-env'], r['password-env']].filter((k) => !env[k]);
        throw new AirlockError('BAD_INPUT', `${file}: registries.${name} takes its credentials from ${unset.join(' and ')}, which ${unset.length > 1 ? 'are' : 'is'} not set`, {
          hint: 'set the variable (a CI secret) or remove username-env/password-env',
        });
      }
      named.set(registry, { kind: 'basic', username, password });
    }
    if (r.insecure) insecure.push(registry, host);
    if (r['ca-file']) hostCaFiles[host] = [r['ca-file']];
    if (r['requests-per-second']) rateLimits[host] = r['requests-per-second'];
  }
  const transport = new Transport({
    insecureHosts: insecure,
    caFiles: flags.caFiles,
    certsDirs: flags.certsDirs,
    hostCaFiles,
    rateLimits,
    retry: { retries: flags.retries },
    userAgent: 'airlock/0.1',
    ...extra,
  });
  return new Registries(transport, new SyncCredentials(named, new DefaultCredentials()));
}
